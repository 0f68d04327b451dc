"""The read-only view a phase receives.

It reads through the store inside the cycle's read transaction, so every query of one phase sees
the same consistent state while awake writers go on. ``new_episodes`` is fixed when the cycle
begins (the awake episodes in the cycle's rowid range), so a resumed cycle consolidates exactly
what it set out to. Dream output is never in it: only awake episodes count as experience.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from oneiro.dream.phase import Carry
from oneiro.index import Filter, VectorIndex
from oneiro.model import Entry, Episode, Provenance
from oneiro.store import scored
from oneiro.store.cycles import RETURNED_STATUSES
from oneiro.store.protocol import Store


class StoreSnapshot:
    """Implements :class:`oneiro.dream.phase.Snapshot` over a store."""

    def __init__(
        self,
        store: Store,
        cycle_id: str,
        new: Sequence[Episode],
        max_rowid: int,
        model: str,
        index: Callable[[], VectorIndex] | None = None,
    ):
        self._store = store
        self._index = index
        self._cycle_id = cycle_id
        self._new = tuple(new)
        self._max_rowid = max_rowid
        self._model = model

    @property
    def cycle_id(self) -> str:
        return self._cycle_id

    def with_new(self, new: Sequence[Episode]) -> StoreSnapshot:
        """The same view with other new episodes (the operation boundary leaves bad ones out)."""
        return StoreSnapshot(self._store, self._cycle_id, new, self._max_rowid, self._model, self._index)

    @property
    def new_episodes(self) -> Sequence[Episode]:
        return self._new

    @property
    def max_rowid(self) -> int:
        return self._max_rowid

    def episodes(self, ids: Sequence[str]) -> dict[str, Episode]:
        return self._store.episodes(list(ids))

    def episodes_in_sessions(self, sessions: Sequence[str]) -> list[Episode]:
        return [
            e for e in self._store.episodes_in_sessions(list(sessions)) if e.provenance == Provenance.AWAKE
        ]

    def episodes_around(self, session: str, ts_from: float, ts_to: float, width: int) -> list[Episode]:
        """Awake episodes of ``session`` in ``[ts_from, ts_to]`` plus ``width`` on either side."""
        return [
            e
            for e in self._store.episodes_around(session, ts_from, ts_to, width)
            if e.provenance == Provenance.AWAKE
        ]

    def vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        return self._store.vectors_for(list(ids), self._model)

    def similar(self, vector: np.ndarray, n: int) -> list[tuple[str, float]]:
        """The ``n`` stored episodes (awake or shadow; no entries) most similar to ``vector``,
        best first, from the in-memory index. Empty when the cycle was given no index."""
        if self._index is None:
            return []
        index = self._index()
        mask = index.mask(Filter(include_entries=False), set())
        ids, scores = index.search(vector, n, mask)
        return list(zip(ids, scores, strict=True))

    def similar_many(self, vectors: np.ndarray, n: int) -> list[list[tuple[str, float]]]:
        """:meth:`similar` for each row of ``vectors``, in one blocked pass over the index."""
        if self._index is None or len(vectors) == 0:
            return [[] for _ in range(len(vectors))]
        index = self._index()
        mask = index.mask(Filter(include_entries=False), set())
        return [list(zip(ids, scores, strict=True)) for ids, scores in index.search_many(vectors, n, mask)]

    def entries(self, ids: Sequence[str]) -> dict[str, Entry]:
        return self._store.entries(list(ids))

    def entries_where(self, clause: str = "1", params: Sequence[Any] = ()) -> list[Entry]:
        return self._store.entries_where(clause, params)

    def entries_citing(self, episode_ids: Sequence[str]) -> dict[str, list[str]]:
        return self._store.entries_citing(list(episode_ids))

    def episodes_scored_below(
        self, scorer: str, version: int, limit: int, after_rowid: int = 0
    ) -> list[tuple[int, Episode]]:
        """Stored awake episodes (up to the cycle's rowid) whose score record names ``scorer`` at
        a version below ``version``, with their rowids, oldest first, after ``after_rowid``."""
        with self._store.snapshot() as conn:
            return scored.below(conn, scorer, version, after_rowid, self.max_rowid, limit)

    def previous_carry(self, name: str) -> Carry | None:
        """The carry of the latest returned cycle that set the field ``name`` (None if none did):
        how an operation resumes work it spreads over cycles, e.g. re-scoring's place in a long
        history. A reverted cycle is not returned, so reverting it takes the place back too."""
        for cycle in reversed(self._store.cycles_with_status(*RETURNED_STATUSES)):
            if cycle.id == self._cycle_id:
                continue
            carry = Carry.from_json(cycle.checkpoint.get("carry"))
            if getattr(carry, name, None) is not None:
                return carry
        return None

    def playbook_items(self) -> list[Any]:
        """The active playbook's items."""
        return self._store.playbook_items()

    def pending_revisions(self) -> list[Any]:
        """Playbook revisions proposed and not yet decided."""
        return self._store.playbook_revisions("proposed")
