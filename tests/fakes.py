"""Fakes for testing dream operations without a cycle.

``FakeSnapshot`` reads a real (in-memory) store, so SQL clauses in ``entries_where`` behave as in a
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
from oneiro.dream.writes import Writes
from oneiro.model import Entry, Episode, Provenance
from oneiro.playbook import Item, Revision, RevisionStatus
from oneiro.store import SQLiteStore, journal
from oneiro.store import cycles as cycle_rows
from oneiro.store import playbook as playbook_rows
from oneiro.store import predictions as prediction_rows


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


class FakeSnapshot:
    """A Snapshot over a real store, plus the playbook views the INTEGRATION and RETURN
    operations use when the snapshot offers them."""

    def __init__(
        self, store: SQLiteStore, cycle_id: str, model: str, new: Sequence[Episode] | None = None
    ) -> None:
        self.store = store
        self._cycle_id = cycle_id
        self._model = model
        self._new = tuple(new or ())

    @property
    def cycle_id(self) -> str:
        return self._cycle_id

    @property
    def new_episodes(self) -> Sequence[Episode]:
        return self._new

    @property
    def max_rowid(self) -> int:
        return self.store.episode_max_rowid()

    def episodes(self, ids: Sequence[str]) -> dict[str, Episode]:
        return self.store.episodes(list(ids))

    def episodes_in_sessions(self, sessions: Sequence[str]) -> list[Episode]:
        eps = self.store.episodes_in_sessions(list(sessions))
        return [e for e in eps if e.provenance == Provenance.AWAKE]

    def episodes_around(self, session: str, ts_from: float, ts_to: float, width: int) -> list[Episode]:
        eps = self.store.episodes_around(session, ts_from, ts_to, width)
        return [e for e in eps if e.provenance == Provenance.AWAKE]

    def vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        return self.store.vectors_for(list(ids), self._model)

    def similar(self, vector: np.ndarray, n: int) -> list[tuple[str, float]]:
        return []

    def similar_many(self, vectors: np.ndarray, n: int) -> list[list[tuple[str, float]]]:
        return [[] for _ in range(len(vectors))]

    def entries(self, ids: Sequence[str]) -> dict[str, Entry]:
        return self.store.entries(list(ids))

    def entries_where(self, clause: str = "1", params: Sequence[Any] = ()) -> list[Entry]:
        return self.store.entries_where(clause, params)

    def entries_citing(self, episode_ids: Sequence[str]) -> dict[str, list[str]]:
        return self.store.entries_citing(list(episode_ids))

    def playbook_items(self) -> list[Item]:
        with self.store.snapshot() as conn:
            return playbook_rows.items(conn)

    def pending_revisions(self) -> list[Revision]:
        with self.store.snapshot() as conn:
            return playbook_rows.revisions(conn, RevisionStatus.PROPOSED.value)


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
    with store.transaction() as conn:
        cycle_rows.create(conn, cycle_id, now, {}, "test", 0)


def complete_cycle(store: SQLiteStore, cycle_id: str, now: float) -> None:
    with store.transaction() as conn:
        cycle_rows.update(conn, cycle_id, status="completed", ended_at=now)


def apply_writes(store: SQLiteStore, writes: Writes, ctx: Context, phase: str = "integration") -> None:
    """Apply a phase's writes the way the cycle does: one transaction, tagged and undo-logged."""
    with store.transaction() as conn:
        if writes.entries:
            matrix = ctx.embedder.embed([e.text for e in writes.entries])
            store.add_entries(writes.entries, matrix, ctx.embedder.name, ctx.cycle_id)
        for update in writes.updates:
            store.update_entry(update.entry_id, update.changes, ctx.cycle_id)
        if writes.predictions:
            prediction_rows.insert(conn, writes.predictions, ctx.cycle_id)
        for proposal in writes.revisions:
            playbook_rows.propose(conn, proposal, ctx.cycle_id, ctx.now)
        for credit in writes.credits:
            playbook_rows.credit(conn, credit.item_id, credit.helpful, credit.harmful, ctx.cycle_id)
        for note in writes.notes:
            journal.append(conn, ctx.now, note.kind, note.payload, cycle_id=ctx.cycle_id, phase=phase)


def table_dump(store: SQLiteStore, *tables: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of ``tables``, for tests that must show nothing changed."""
    conn = store.db.conn()
    return {t: [tuple(r) for r in conn.execute(f"SELECT * FROM {t} ORDER BY 1")] for t in tables}
