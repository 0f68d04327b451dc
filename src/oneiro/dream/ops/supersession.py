"""Near-duplicate merging and supersession: never destructive.

For each new episode the most similar earlier episodes are looked up (in the index and among the
new episodes themselves):

- a near-duplicate (cosine at or above ``nrem.duplicate_similarity``, same speaker) restates what
  was said: the earlier statement's ``keys`` entry is superseded by the newer one's (status
  ``superseded``, ``superseded_by``, ``valid_to``); both episodes stay, and so does the old entry;
- an update (similar but not a duplicate, same speaker, the newer carries an update cue such as
  "now", "no longer", "instead", "correction", and the two differ in a value: a number or a name)
  becomes a ``supersession`` hypothesis, staged at the hypothesis confidence with a
  ``text_support`` test, and the earlier statement's ``keys`` entry gets ``valid_to`` (it may have
  stopped being true) without losing its status: a dream's judgement waits for awake confirmation.

A supersession hypothesis has a stable identity (:func:`identity`: the speaker and the two
statements, normalised), so the same update said again, or the same older statement recorded
twice, is proposed once: never while an equal hypothesis is staged, validated or active in the
store, nor twice in one cycle (or chunk).

``KeyExpansion`` runs before this and carries the keys entry of each new episode in
``carry["keys_entries"]``; older episodes' keys entries are read from the snapshot.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from oneiro.dream.phase import Carry, Context, Outcome, Snapshot
from oneiro.dream.writes import EntryUpdate, Writes
from oneiro.index import top_n_within
from oneiro.model import Entry, EntryStatus, Episode, Provenance, Tier, content_hash, entry_id
from oneiro.store.query import EntryQuery

#: Earlier episodes compared with each new one.
CANDIDATES = 6
UPDATE_CUES = re.compile(
    r"\b(now|no longer|instead|actually|correction|changed|moved|switched|anymore|updated|from now on)\b",
    re.IGNORECASE,
)
_VALUE = re.compile(r"\b(?:\d[\d.,:%-]*|[A-Z][\w-]*|[a-z]+(?:-[a-z0-9]+)+)\b")


#: Statuses in which a hypothesis is still live: an equal one is not proposed again.
LIVE = ("staged", "validated", "active")


def _norm(text: str) -> str:
    return " ".join(text.casefold().split())


def identity(actor: str, newer: str, older: str) -> str:
    """What makes two supersession hypotheses the same claim: who said it, what now replaces what."""
    return content_hash(["supersession", actor, _norm(newer), _norm(older)])


def entry_identity(entry: Entry) -> str:
    """The identity of a stored hypothesis; read from its data, or (entries made before identities
    were recorded) recomputed from its speaker and its text's two quoted statements."""
    known = entry.data.get("identity")
    if isinstance(known, str):
        return known
    match = _UPDATE_TEXT.fullmatch(entry.text)
    if match is None:
        return content_hash(["supersession-text", _norm(entry.text)])
    return identity(entry.keys[0] if entry.keys else "", match.group(1), match.group(2))


_UPDATE_TEXT = re.compile(r'Update: "(.*)" replaces "(.*)"', re.DOTALL)


def values(text: str) -> set[str]:
    """Numbers, names and hyphenated identifiers: what an update typically changes."""
    return {v.lower() for v in _VALUE.findall(text)}


def is_update(newer: Episode, older: Episode) -> bool:
    if not UPDATE_CUES.search(newer.text):
        return False
    return bool(values(newer.text) ^ values(older.text))


class LiveClaims:
    """The identities of live supersession hypotheses, asked for one claim at a time: a stored
    hypothesis records its identity in ``data``, so each question reads only the hypotheses of
    that identity, and a cycle's cost follows its candidate updates, not every hypothesis the
    store holds. Hypotheses stored without a recorded identity are read once, on the first
    question, and their identity recomputed. ``add`` records a claim this cycle proposes."""

    def __init__(self, snap: Snapshot) -> None:
        self._snap = snap
        self._known: set[str] = set()
        self._unrecorded: set[str] | None = None

    def holds(self, key: str) -> bool:
        if key in self._known:
            return True
        if self._unrecorded is None:
            query = EntryQuery(kinds=("supersession",), statuses=LIVE, data_lacks=("identity",))
            self._unrecorded = {entry_identity(e) for e in self._snap.entries_matching(query)}
        if key in self._unrecorded:
            return True
        query = EntryQuery(kinds=("supersession",), statuses=LIVE, data_has=(("identity", key),), limit=1)
        return bool(self._snap.entries_matching(query))

    def add(self, key: str) -> None:
        self._known.add(key)


class Supersession:
    name = "supersession"
    tier = Tier.T0

    def run(self, snap: Snapshot, ctx: Context, carry: Carry) -> Outcome:
        new = sorted((e for e in snap.new_episodes if e.text.strip()), key=lambda e: e.ts)
        vectors = snap.vectors([e.id for e in new])
        new = [e for e in new if e.id in vectors]
        keys_of: dict[str, str] = dict(carry.keys_entries or {})
        writes = Writes()
        merged = updates = 0
        live = LiveClaims(snap)
        candidates = self._candidates(snap, new, vectors)
        for i, ep in enumerate(new):
            if ctx.budget.exhausted():
                return Outcome(
                    writes, did={"merged": merged, "updates": updates}, left={"episodes": len(new) - i}
                )
            for older, sim in candidates[i]:
                if older.actor != ep.actor:
                    continue
                if sim >= ctx.config.nrem.duplicate_similarity:
                    merged += self._merge(snap, ctx, older, ep, keys_of, writes)
                elif sim >= ctx.config.nrem.supersede_similarity and is_update(ep, older):
                    updates += self._update(snap, ctx, older, ep, sim, keys_of, writes, live)
        return Outcome(writes, did={"merged": merged, "updates": updates})

    def _candidates(
        self, snap: Snapshot, new: list[Episode], vectors: dict[str, Any]
    ) -> list[list[tuple[Episode, float]]]:
        """For each new episode (in time order), the most similar earlier awake episodes: from the
        index (episodes of earlier cycles) and from this cycle's own new episodes."""
        if not new:
            return []
        matrix = np.vstack([vectors[e.id] for e in new])
        stored = snap.similar_many(matrix, CANDIDATES + 1)
        near, sims = top_n_within(matrix, CANDIDATES)
        found: list[dict[str, float]] = []
        for i, ep in enumerate(new):
            here = {o: s for o, s in stored[i] if o != ep.id}
            here.update({new[j].id: float(s) for j, s in zip(near[i], sims[i], strict=True) if j < i})
            found.append(dict(sorted(here.items(), key=lambda t: -t[1])[:CANDIDATES]))
        episodes = snap.episodes(sorted({o for f in found for o in f}))
        return [
            [
                (episodes[o], s)
                for o, s in f.items()
                if o in episodes and episodes[o].ts <= ep.ts and episodes[o].provenance == Provenance.AWAKE
            ]
            for ep, f in zip(new, found, strict=True)
        ]

    def _keys_entry(self, snap: Snapshot, episode_id: str, keys_of: dict[str, str]) -> Entry | None:
        if episode_id in keys_of:
            return None  # made in this very phase: nothing older to supersede
        citing = snap.entries_citing([episode_id]).get(episode_id, [])
        found = snap.entries(citing) if citing else {}
        active = [e for e in found.values() if e.kind == "keys" and e.status == EntryStatus.ACTIVE]
        return active[0] if active else None

    def _merge(
        self,
        snap: Snapshot,
        ctx: Context,
        older: Episode,
        newer: Episode,
        keys_of: dict[str, str],
        writes: Writes,
    ) -> int:
        old_entry = self._keys_entry(snap, older.id, keys_of)
        new_entry_id = keys_of.get(newer.id)
        if old_entry is None or new_entry_id is None:
            return 0
        writes.updates.append(
            EntryUpdate(
                old_entry.id,
                {"status": EntryStatus.SUPERSEDED, "superseded_by": new_entry_id, "valid_to": newer.ts},
                f"restated by episode {newer.id[:12]}",
            )
        )
        return 1

    def _update(
        self,
        snap: Snapshot,
        ctx: Context,
        older: Episode,
        newer: Episode,
        sim: float,
        keys_of: dict[str, str],
        writes: Writes,
        live: LiveClaims,
    ) -> int:
        """Propose that ``newer`` replaces ``older``, unless an equal hypothesis is live (``live``
        grows with each proposal, so one cycle never proposes the same claim twice)."""
        key = identity(newer.actor, newer.text, older.text)
        if live.holds(key):
            return 0
        live.add(key)
        text = f'Update: "{newer.text}" replaces "{older.text}"'
        data = {
            "newer": newer.id,
            "older": older.id,
            "similarity": round(sim, 4),
            "test": {"type": "text_support"},
            "identity": key,
        }
        sources = (newer.id, older.id)
        hypothesis = Entry(
            id=entry_id("supersession", text, sources, data),
            kind="supersession",
            text=text,
            sources=sources,
            provenance=Provenance.DREAM,
            tier=ctx.tier,
            cycle_id=ctx.cycle_id,
            confidence=ctx.config.lifecycle.hypothesis_confidence,
            status=EntryStatus.STAGED,
            keys=(newer.actor,),
            data=data,
            created_at=ctx.now,
            valid_from=newer.ts,
        )
        writes.entries.append(hypothesis)
        old_entry = self._keys_entry(snap, older.id, keys_of)
        if old_entry is not None and old_entry.valid_to is None:
            writes.updates.append(
                EntryUpdate(old_entry.id, {"valid_to": newer.ts}, f"possibly replaced: {hypothesis.id[:12]}")
            )
        return 1
