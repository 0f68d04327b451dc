"""The read-only view a phase receives.

Honest by construction, so that a resumed cycle proposes exactly the writes of an uninterrupted
one while awake writers go on:

- the cycle opens one read transaction per phase (per chunk of a chunked phase) with
  :func:`reading` and every read of the phase runs inside it, so the phase sees one consistent
  state (the cycle's own earlier writes included);
- nothing recorded after the cycle began reaches it: episodes past the cycle's ``to_rowid`` (the
  high-water mark fixed at its start) are left out of every episode read, and index searches are
  bounded to the vectors the read transaction sees, minus those same episodes, although the
  in-memory index is shared with awake recall and may hold newer rows;
- ``new_episodes`` is fixed when the cycle begins (the awake episodes in its intake), so a resumed
  cycle consolidates exactly what it set out to. Dream output is never in it: only awake episodes
  count as experience.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from oneiro.dream.phase import Carry
from oneiro.index import BoolArray, Filter, VectorIndex
from oneiro.model import Entry, Episode, Provenance
from oneiro.store.cycles import RETURNED_STATUSES
from oneiro.store.protocol import Store
from oneiro.store.query import EntryQuery


@dataclass(frozen=True)
class ReadView:
    """What one read transaction sees beyond the cycle's high-water mark: the ids of episodes
    recorded after it (to be left out of every read), and the newest vector rowid the transaction
    sees (index rows past it were added since and are not searched)."""

    later: frozenset[str] = frozenset()
    vectors_upto: int | None = None


@contextmanager
def reading(store: Store, to_rowid: int) -> Iterator[ReadView]:
    """One read transaction on this thread's connection, and what it sees past ``to_rowid``.

    Invariant: it ends before the cycle's next write transaction begins (the caller leaves it
    before applying), because a write inside a deferred read transaction cannot commit once an
    awake writer has committed since the read began."""
    with store.snapshot():
        later = frozenset(ep.id for _, ep in store.episodes_since(to_rowid))
        yield ReadView(later, store.versions()[0])


class StoreSnapshot:
    """Implements :class:`oneiro.dream.phase.Snapshot` over a store, inside :func:`reading`."""

    def __init__(
        self,
        store: Store,
        cycle_id: str,
        new: Sequence[Episode],
        max_rowid: int,
        model: str,
        index: Callable[[], VectorIndex] | None = None,
        view: ReadView | None = None,
    ):
        self._store = store
        self._index = index
        self._cycle_id = cycle_id
        self._new = tuple(new)
        self._max_rowid = max_rowid
        self._model = model
        self._view = view or ReadView()

    @property
    def cycle_id(self) -> str:
        return self._cycle_id

    def with_new(self, new: Sequence[Episode]) -> StoreSnapshot:
        """The same view with other new episodes (the operation boundary leaves bad ones out)."""
        return StoreSnapshot(
            self._store, self._cycle_id, new, self._max_rowid, self._model, self._index, self._view
        )

    @property
    def new_episodes(self) -> Sequence[Episode]:
        return self._new

    @property
    def max_rowid(self) -> int:
        return self._max_rowid

    def episodes(self, ids: Sequence[str]) -> dict[str, Episode]:
        later = self._view.later
        return {i: e for i, e in self._store.episodes([i for i in ids if i not in later]).items()}

    def episodes_in_sessions(self, sessions: Sequence[str]) -> list[Episode]:
        later = self._view.later
        return [
            e
            for e in self._store.episodes_in_sessions(list(sessions))
            if e.provenance == Provenance.AWAKE and e.id not in later
        ]

    def episodes_around(self, session: str, ts_from: float, ts_to: float, width: int) -> list[Episode]:
        """Awake episodes of ``session`` in ``[ts_from, ts_to]`` plus ``width`` on either side,
        among those recorded before the cycle began (asked for more by as many as were recorded
        since, so that leaving them out still leaves ``width`` on either side)."""
        later = self._view.later
        found = [
            e
            for e in self._store.episodes_around(session, ts_from, ts_to, width + len(later))
            if e.id not in later
        ]
        before = [e for e in found if e.ts < ts_from][-width:] if width > 0 else []
        inside = [e for e in found if ts_from <= e.ts <= ts_to]
        after = [e for e in found if e.ts > ts_to][:width]
        return [e for e in (*before, *inside, *after) if e.provenance == Provenance.AWAKE]

    def vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        return self._store.vectors_for(list(ids), self._model)

    def similar(self, vector: np.ndarray, n: int) -> list[tuple[str, float]]:
        """The ``n`` stored episodes (awake or shadow; no entries) most similar to ``vector``,
        best first, from the in-memory index. Empty when the cycle was given no index."""
        if self._index is None:
            return []
        index = self._index()
        ids, scores = index.search(vector, n, self._mask(index))
        return list(zip(ids, scores, strict=True))

    def _mask(self, index: VectorIndex) -> BoolArray | None:
        """Index rows this snapshot may return: episodes whose vectors the read transaction sees,
        recorded before the cycle began."""
        flt = Filter(include_entries=False, upto_rowid=self._view.vectors_upto)
        return index.mask(flt, set(self._view.later))

    def similar_many(self, vectors: np.ndarray, n: int) -> list[list[tuple[str, float]]]:
        """:meth:`similar` for each row of ``vectors``, in one blocked pass over the index."""
        if self._index is None or len(vectors) == 0:
            return [[] for _ in range(len(vectors))]
        index = self._index()
        mask = self._mask(index)
        return [list(zip(ids, scores, strict=True)) for ids, scores in index.search_many(vectors, n, mask)]

    def entries(self, ids: Sequence[str]) -> dict[str, Entry]:
        return self._store.entries(list(ids))

    def entries_matching(self, query: EntryQuery) -> list[Entry]:
        return self._store.entries_matching(query)

    def entries_citing(self, episode_ids: Sequence[str]) -> dict[str, list[str]]:
        return self._store.entries_citing(list(episode_ids))

    def episodes_scored_below(
        self, scorer: str, version: int, limit: int, after_rowid: int = 0
    ) -> list[tuple[int, Episode]]:
        """Stored awake episodes (up to the cycle's rowid) whose score record names ``scorer`` at
        a version below ``version``, with their rowids, oldest first, after ``after_rowid``."""
        return self._store.episodes_scored_below(scorer, version, after_rowid, self.max_rowid, limit)

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
