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

A dry run applies nothing, yet its later phases must see what its earlier phases proposed (or its
INTEGRATION would judge no entry and its RETURN brief none). :class:`Overlay` holds those writes in
memory, applied as the cycle applies them, and :class:`OverlaySnapshot` lays them over a
:class:`StoreSnapshot`, so each phase of a plan reads what it would read in the real run.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from oneiro.backends.embedder import Embedder
from oneiro.dream.phase import Carry
from oneiro.dream.writes import EntryUpdate, ItemCredit, RevisionProposal, Vector, Writes
from oneiro.index import BoolArray, Filter, VectorIndex
from oneiro.model import Entry, EntryStatus, Episode, Provenance, canonical_json
from oneiro.playbook import DREAM_PROPOSER, Item, Revision, RevisionStatus, conflicting, draft
from oneiro.store.cycles import RETURNED_STATUSES
from oneiro.store.entries import MUTABLE
from oneiro.store.protocol import Store
from oneiro.store.query import EntryQuery

#: How deep one neighbour lookup of a snapshot goes, whatever the first asker wants, so that the
#: others (replay asks for 9, topics for 9, supersession for 7) are served from it.
NEIGHBOUR_DEPTH = 16

#: Neighbour lookups made, by query vector: (how deep it searched, the hits best first).
Neighbours = dict[bytes, tuple[int, list[tuple[str, float]]]]


@dataclass
class ReadCache:
    """What one read transaction has already read that several operations ask for again (shared
    by a snapshot's :meth:`StoreSnapshot.with_new` copies): neighbour lookups by query vector, and
    the store's recent episodes by window. Safe because the snapshot is fixed for its lifetime."""

    neighbours: Neighbours = field(default_factory=dict)
    recent: dict[int, list[Episode]] = field(default_factory=dict)


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
        cache: ReadCache | None = None,
    ):
        self._store = store
        self._index = index
        self._cache = ReadCache() if cache is None else cache
        self._neighbours = self._cache.neighbours
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
            self._store,
            self._cycle_id,
            new,
            self._max_rowid,
            self._model,
            self._index,
            self._view,
            self._cache,
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
        return self.similar_many(np.asarray(vector).reshape(1, -1), n)[0]

    def _mask(self, index: VectorIndex) -> BoolArray | None:
        """Index rows this snapshot may return: episodes whose vectors the read transaction sees,
        recorded before the cycle began."""
        flt = Filter(include_entries=False, upto_rowid=self._view.vectors_upto)
        return index.mask(flt, set(self._view.later))

    def similar_many(self, vectors: np.ndarray, n: int) -> list[list[tuple[str, float]]]:
        """:meth:`similar` for each row of ``vectors``, in one blocked pass over the index.

        Replay, topics and supersession each look up the neighbours of the same new episodes, and
        exact search costs what the store holds: so each query vector is searched once per read
        transaction, to :data:`NEIGHBOUR_DEPTH` (or ``n`` if more), and later asks are served from
        that. The answer is the same either way (a prefix of a ranking in one total order: score,
        then id), and the snapshot is fixed, so nothing it holds goes stale."""
        if self._index is None or len(vectors) == 0:
            return [[] for _ in range(len(vectors))]
        keys = [np.ascontiguousarray(row, dtype=np.float32).tobytes() for row in vectors]
        todo: dict[bytes, int] = {}
        for row, key in enumerate(keys):
            if key not in todo and not self._deep_enough(key, n):
                todo[key] = row
        if todo:
            index = self._index()
            depth = max(n, NEIGHBOUR_DEPTH)
            found = index.search_many(np.asarray(vectors)[list(todo.values())], depth, self._mask(index))
            for key, (ids, scores) in zip(todo, found, strict=True):
                self._neighbours[key] = (depth, list(zip(ids, scores, strict=True)))
        return [self._neighbours[k][1][:n] for k in keys]

    def _deep_enough(self, key: bytes, n: int) -> bool:
        """Whether the lookup cached for ``key`` answers a request for ``n`` neighbours: it went
        at least that deep, or found fewer than it asked for (there are no more)."""
        cached = self._neighbours.get(key)
        return cached is not None and (cached[0] >= n or len(cached[1]) < cached[0])

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

    def recent_episodes(self, limit: int) -> list[Episode]:
        """Awake episodes among the ``limit`` last recorded up to the cycle's high-water mark,
        oldest first: a bounded read of the store's recent history (REM's causal model is fitted
        on the decisions in it)."""
        if limit not in self._cache.recent:
            upto = self.max_rowid
            after = max(0, upto - max(0, limit))
            self._cache.recent[limit] = [
                e
                for rowid, e in self._store.episodes_since(after, limit)
                if rowid <= upto and e.provenance == Provenance.AWAKE and e.id not in self._view.later
            ]
        return list(self._cache.recent[limit])

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


class Overlay:
    """The writes a dry run's phases proposed so far, applied in memory as the cycle's ``_apply``
    applies them to the store: new entries (an id already stored or already proposed is ignored,
    as the store's insert ignores it; an entry naming no cycle takes the plan's), entry updates
    (applied to the overlay's copy of the entry, the stored row untouched), playbook revisions
    (drafted against the playbook as credited so far, a conflict with a pending revision rejected,
    as :func:`oneiro.playbook.propose_from_dream` does) and replay's credits to playbook items.

    Invariant: it never writes to the store; it only reads it."""

    def __init__(self, store: Store, embedder: Embedder) -> None:
        self._store = store
        self._embedder = embedder
        self._new: dict[str, Entry] = {}
        self._changed: dict[str, Entry] = {}
        self._vectors: dict[str, Vector] = {}
        self._revisions: dict[str, Revision] = {}
        self._credits: dict[str, tuple[int, int]] = {}

    def apply(self, writes: Writes, cycle_id: str, now: float) -> None:
        """Lay ``writes`` over the store, in the order the cycle applies them."""
        self._add_entries(writes, cycle_id)
        for update in writes.updates:
            self._update(update)
        for proposal in writes.revisions:
            self._propose(proposal, cycle_id, now)
        for credit in writes.credits:
            self._credit(credit)

    def _add_entries(self, writes: Writes, cycle_id: str) -> None:
        fresh = [e for e in writes.entries if e.id not in self._new]
        stored = self._store.entries([e.id for e in fresh]) if fresh else {}
        for entry in fresh:
            if entry.id in stored or entry.id in self._new:
                continue
            self._new[entry.id] = replace(entry, cycle_id=entry.cycle_id or cycle_id)
            if entry.id in writes.vectors:
                self._vectors[entry.id] = writes.vectors[entry.id]

    def _update(self, update: EntryUpdate) -> None:
        bad = set(update.changes) - MUTABLE
        if bad:
            raise ValueError(f"entry columns {sorted(bad)} cannot change")
        current = self.entry(update.entry_id)
        if current is None:
            return
        changed = replace(current, **{k: _column(k, v) for k, v in update.changes.items()})
        if update.entry_id in self._new:
            self._new[update.entry_id] = changed
        else:
            self._changed[update.entry_id] = changed

    def _propose(self, proposal: RevisionProposal, cycle_id: str, now: float) -> None:
        items, constraints = self.playbook_items(), self._store.constraints()
        rev = draft(items, constraints, proposal, proposed_by=DREAM_PROPOSER, now=now, cycle_id=cycle_id)
        rival = conflicting(rev, self.pending_revisions())
        if rival is not None and rev.status == RevisionStatus.PROPOSED:
            decision = f"conflicts with pending revision {rival.id} (same item, same base)"
            rev = replace(
                rev, status=RevisionStatus.REJECTED, decided_by="conflict", decided_at=now, decision=decision
            )
        if rev.id in self._revisions or self._store.playbook_revision(rev.id) is not None:
            return
        self._revisions[rev.id] = rev

    def _credit(self, credit: ItemCredit) -> None:
        helpful, harmful = self._credits.get(credit.item_id, (0, 0))
        self._credits[credit.item_id] = (helpful + credit.helpful, harmful + credit.harmful)

    # -- reads ---------------------------------------------------------------------------------
    def entry(self, entry_id: str) -> Entry | None:
        """The entry as the plan has it so far (proposed, or stored with the plan's updates)."""
        known = self._new.get(entry_id) or self._changed.get(entry_id)
        return known if known is not None else self._store.entries([entry_id]).get(entry_id)

    @property
    def new_entries(self) -> list[Entry]:
        """Entries the plan proposed, in the order the store would have inserted them."""
        return list(self._new.values())

    def entries(self, ids: Sequence[str]) -> dict[str, Entry]:
        stored = self._store.entries([i for i in ids if i not in self._new])
        out = {i: self._changed.get(i, e) for i, e in stored.items()}
        out.update({i: self._new[i] for i in ids if i in self._new})
        return out

    def entries_matching(self, query: EntryQuery) -> list[Entry]:
        """The store's answer with the plan's updates applied and its new entries after the
        stored ones (their rowids would be higher), in insertion order. When the plan changed a
        stored entry, the store is asked without the filters an update can change, and those are
        checked here on the overlay's copies, so an entry an update moves into or out of the
        answer is counted as the real run would count it."""
        if self._changed:
            relaxed = replace(query, **_relaxed())
            stored = [self._changed.get(e.id, e) for e in self._store.entries_matching(relaxed)]
        else:
            stored = self._store.entries_matching(replace(query, limit=None))
        returned = self._returned_cycles() if query.returned else frozenset()
        found = [e for e in [*stored, *self._new.values()] if _matches(e, query, returned)]
        return found if query.limit is None else found[: query.limit]

    def _returned_cycles(self) -> frozenset[str]:
        return frozenset(c.id for c in self._store.cycles_with_status(*RETURNED_STATUSES))

    def entries_citing(self, episode_ids: Sequence[str]) -> dict[str, list[str]]:
        out = self._store.entries_citing(list(episode_ids))
        wanted = set(episode_ids)
        for entry in self._new.values():
            for source in entry.sources:
                if source in wanted:
                    out.setdefault(source, []).append(entry.id)
        return out

    def vectors(self, ids: Sequence[str], model: str) -> dict[str, np.ndarray]:
        """Stored vectors, and for proposed entries the vector the cycle would store: the one the
        operation gave, else the embedder's (computed when first asked for)."""
        out: dict[str, np.ndarray] = self._store.vectors_for([i for i in ids if i not in self._new], model)
        missing = [i for i in ids if i in self._new and i not in self._vectors]
        if missing:
            embedded = self._embedder.embed([self._new[i].text for i in missing])
            self._vectors.update(
                {i: np.asarray(v, dtype=np.float32) for i, v in zip(missing, embedded, strict=True)}
            )
        out.update({i: self._vectors[i] for i in ids if i in self._new})
        return out

    def playbook_items(self) -> list[Item]:
        items = self._store.playbook_items()
        return [
            replace(i, helpful=i.helpful + c[0], harmful=i.harmful + c[1])
            if (c := self._credits.get(i.id)) is not None
            else i
            for i in items
        ]

    def pending_revisions(self) -> list[Revision]:
        mine = [r for r in self._revisions.values() if r.status == RevisionStatus.PROPOSED]
        return [*self._store.playbook_revisions(RevisionStatus.PROPOSED.value), *mine]


def _relaxed() -> dict[str, Any]:
    return {
        "statuses": None,
        "min_confidence": None,
        "min_uses": None,
        "data_has": (),
        "data_keys": (),
        "data_lacks": (),
        "limit": None,
    }


def _column(name: str, value: Any) -> Any:
    """An update's value as the store would read it back (a status as the enum, keys as a
    tuple, data through JSON)."""
    if name == "status":
        return EntryStatus(value)
    if name == "keys":
        return tuple(value)
    if name == "data":
        return json.loads(canonical_json(value))
    return value


def _extract(data: Mapping[str, Any], path: str) -> Any:
    """The value at the dotted ``path`` of ``data``, as the store's data filters read it: None when
    absent or null."""
    node: Any = data
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _matches(entry: Entry, q: EntryQuery, returned: frozenset[str]) -> bool:
    """Whether ``entry`` answers ``q`` (the store's translation of it, checked in memory)."""
    checks = (
        q.kinds is None or entry.kind in q.kinds,
        q.statuses is None or entry.status.value in q.statuses,
        q.provenance is None or entry.provenance.value in q.provenance,
        q.cycle is None or entry.cycle_id == q.cycle,
        q.not_cycle is None or entry.cycle_id is None or entry.cycle_id != q.not_cycle,
        q.min_confidence is None or entry.confidence >= q.min_confidence,
        q.min_uses is None or entry.uses >= q.min_uses,
        all(_extract(entry.data, p) == v for p, v in q.data_has),
        all(_extract(entry.data, p) is not None for p in q.data_keys),
        all(_extract(entry.data, p) is None for p in q.data_lacks),
        q.text is None or entry.text == q.text,
        not q.returned or entry.cycle_id is None or entry.cycle_id in returned,
    )
    return all(checks)


class OverlaySnapshot(StoreSnapshot):
    """A :class:`StoreSnapshot` with a plan's :class:`Overlay` laid over its entry and playbook
    reads: ``entries``, ``entries_matching``, ``entries_citing``, ``vectors``, ``playbook_items``
    and ``pending_revisions`` answer as they would once the overlay's writes were applied.
    Episode reads, ``similar``/``similar_many`` (they search episodes only, never entries, and a
    cycle writes no episode) and ``previous_carry`` (a plan writes no cycle) are the store's."""

    def __init__(self, base: StoreSnapshot, overlay: Overlay) -> None:
        super().__init__(
            base._store,
            base._cycle_id,
            base._new,
            base._max_rowid,
            base._model,
            base._index,
            base._view,
            base._cache,
        )
        self._overlay = overlay

    def with_new(self, new: Sequence[Episode]) -> OverlaySnapshot:
        return OverlaySnapshot(super().with_new(new), self._overlay)

    def vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        return self._overlay.vectors(ids, self._model)

    def entries(self, ids: Sequence[str]) -> dict[str, Entry]:
        return self._overlay.entries(ids)

    def entries_matching(self, query: EntryQuery) -> list[Entry]:
        return self._overlay.entries_matching(query)

    def entries_citing(self, episode_ids: Sequence[str]) -> dict[str, list[str]]:
        return self._overlay.entries_citing(episode_ids)

    def playbook_items(self) -> list[Any]:
        return self._overlay.playbook_items()

    def pending_revisions(self) -> list[Any]:
        return self._overlay.pending_revisions()
