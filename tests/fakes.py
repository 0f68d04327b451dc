"""Fakes for testing dream operations without a cycle.

``FakeSnapshot`` reads a real (in-memory) store, so typed ``entries_matching`` queries behave as in a
cycle; it also shows the playbook, as the cycle's snapshot should. ``fake_context`` builds a
Context with a fixed clock, a seeded RNG and an unlimited budget. ``apply_writes`` does what the
cycle does with a phase's writes (entries, updates, predictions, revisions, notes), tagged with the
cycle id and undo-logged, so a test can run ONSET-to-RETURN style sequences by hand.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from oneiro.backends.embedder import Embedder
from oneiro.backends.hashing import HashingEmbedder
from oneiro.config import Config
from oneiro.dream.phase import Context
from oneiro.dream.snapshot import StoreSnapshot
from oneiro.dream.writes import Writes
from oneiro.model import Episode
from oneiro.playbook import propose_from_dream
from oneiro.store import SQLiteStore


@dataclass
class FakeBudget:
    """A budget that runs out after ``units`` checks (never, by default); records its checks."""

    units: int | None = None
    seconds: float = 60.0
    tokens: int = 0
    checks: int = 0
    spent: list[int] = field(default_factory=list)

    def exhausted(self) -> bool:
        self.checks += 1
        return self.units is not None and self.checks > self.units

    def spend_tokens(self, n: int) -> None:
        self.spent.append(n)


class FakeSnapshot(StoreSnapshot):
    """The real snapshot over a real store, without an in-memory index (so ``similar`` finds
    nothing), with the test's choice of new episodes and a ``max_rowid`` that follows the store."""

    def __init__(
        self, store: SQLiteStore, cycle_id: str, model: str, new: Sequence[Episode] | None = None
    ) -> None:
        super().__init__(store, cycle_id, tuple(new or ()), store.episode_max_rowid(), model)
        self.store = store

    @property
    def max_rowid(self) -> int:
        return self.store.episode_max_rowid()


def fake_context(
    cycle_id: str,
    now: float,
    *,
    config: Config | None = None,
    embedder: Embedder | None = None,
    budget: FakeBudget | None = None,
    seed: int = 0,
) -> Context:
    return Context(
        cycle_id=cycle_id,
        now=now,
        rng=np.random.default_rng(seed),
        embedder=embedder or HashingEmbedder(),
        config=config or Config(),
        budget=budget or FakeBudget(),
    )


def begin_cycle(store: SQLiteStore, cycle_id: str, now: float) -> None:
    store.create_cycle(cycle_id, now, {}, "test", 0, {})


def complete_cycle(store: SQLiteStore, cycle_id: str, now: float) -> None:
    store.update_cycle(cycle_id, status="completed", ended_at=now)


def apply_writes(store: SQLiteStore, writes: Writes, ctx: Context, phase: str = "integration") -> None:
    """Apply a phase's writes the way the cycle does: one transaction, tagged and undo-logged."""
    with store.transaction():
        if writes.entries:
            matrix = ctx.embedder.embed([e.text for e in writes.entries])
            store.add_entries(writes.entries, matrix, ctx.embedder.name, ctx.cycle_id)
        for update in writes.updates:
            store.update_entry(update.entry_id, update.changes, ctx.cycle_id)
        if writes.predictions:
            store.add_predictions(writes.predictions, ctx.cycle_id)
        for proposal in writes.revisions:
            propose_from_dream(store, proposal, ctx.cycle_id, ctx.now)
        for credit in writes.credits:
            store.credit_item(credit.item_id, credit.helpful, credit.harmful, ctx.cycle_id)
        for note in writes.notes:
            store.journal_append(ctx.now, note.kind, note.payload, cycle_id=ctx.cycle_id, phase=phase)


def table_dump(store: SQLiteStore, *tables: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of ``tables``, for tests that must show nothing changed."""
    conn = store.db.conn()
    return {t: [tuple(r) for r in conn.execute(f"SELECT * FROM {t} ORDER BY 1")] for t in tables}
