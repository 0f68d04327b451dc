"""The phase seam: what a phase receives, what it returns, and how operations plug in.

A phase is an ordered list of operations. An operation is a pure function of a snapshot, a
context and what earlier phases carried forward; it returns proposed writes and, optionally, data
to carry to later phases. It never reads the wall clock (``ctx.now`` is the cycle's time), never
draws randomness outside ``ctx.rng``, never mutates its inputs and never opens the store. REM and
EVOLUTION in this version have no operations; the cycle runs them and journals that they did
nothing, so that operations registered later plug in without touching the cycle.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

import numpy as np

from oneiro.backends.embedder import Embedder
from oneiro.config import Config
from oneiro.dream.writes import Writes
from oneiro.model import Entry, Episode, Tier
from oneiro.scoring import ScoringRegistry
from oneiro.store.query import EntryQuery


class PhaseName(StrEnum):
    ONSET = "onset"
    NREM = "nrem"
    REM = "rem"
    EVOLUTION = "evolution"
    INTEGRATION = "integration"
    RETURN = "return"


PHASE_ORDER: tuple[PhaseName, ...] = tuple(PhaseName)


class Snapshot(Protocol):
    """A read-only, consistent view of the store as it was when the cycle began.

    ``new_episodes`` are the awake episodes recorded since the last completed cycle (what this
    cycle must consolidate); the rest is read on demand, inside the cycle's read transaction.
    """

    @property
    def cycle_id(self) -> str: ...
    @property
    def new_episodes(self) -> Sequence[Episode]: ...
    @property
    def max_rowid(self) -> int: ...
    def episodes(self, ids: Sequence[str]) -> dict[str, Episode]: ...
    def episodes_in_sessions(self, sessions: Sequence[str]) -> list[Episode]: ...
    def episodes_around(self, session: str, ts_from: float, ts_to: float, width: int) -> list[Episode]: ...
    def vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]: ...
    def similar(self, vector: np.ndarray, n: int) -> list[tuple[str, float]]: ...
    def similar_many(self, vectors: np.ndarray, n: int) -> list[list[tuple[str, float]]]: ...
    def entries(self, ids: Sequence[str]) -> dict[str, Entry]: ...
    def entries_matching(self, query: EntryQuery) -> list[Entry]: ...
    def entries_citing(self, episode_ids: Sequence[str]) -> dict[str, list[str]]: ...


class Budget(Protocol):
    """A phase's share of the cycle's budget. ``exhausted()`` is the only clock a phase may read:
    an operation checks it between units of work and reports what it left."""

    @property
    def seconds(self) -> float: ...
    @property
    def tokens(self) -> int: ...
    def exhausted(self) -> bool: ...
    def spend_tokens(self, n: int) -> None: ...


@dataclass(frozen=True)
class Context:
    cycle_id: str
    now: float
    rng: np.random.Generator
    embedder: Embedder
    config: Config
    budget: Budget
    tier: Tier = Tier.T0
    #: The memory's scorers (registered through :mod:`oneiro.plugins`), for re-scoring.
    scorers: ScoringRegistry = field(default_factory=ScoringRegistry)


@dataclass
class Outcome:
    """What one operation returns: proposed writes, data for later phases (JSON-ready, so that a
    checkpoint can hold it), a count of what it did and what it left undone."""

    writes: Writes = field(default_factory=Writes)
    carry: dict[str, Any] = field(default_factory=dict)
    did: dict[str, int] = field(default_factory=dict)
    left: dict[str, int] = field(default_factory=dict)


class Operation(Protocol):
    """One pure dream operation, e.g. temporal normalisation or prioritized replay."""

    name: str
    tier: Tier

    def run(self, snap: Snapshot, ctx: Context, carry: dict[str, Any]) -> Outcome: ...
