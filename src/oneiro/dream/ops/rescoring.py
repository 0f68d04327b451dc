"""NREM counterfactual re-scoring: what recorded outcomes are worth under the current scorer.

A decision episode may record how its outcome was scored (``data["score"] = {"scorer", "version",
"value", "inputs"}``, see :mod:`oneiro.scoring`). When the registry holds a newer version of that
scorer, this operation computes the new value from the recorded inputs and proposes a ``rescore``
entry citing the episode, with the old and new values and both versions. Nothing is re-run in the
world and the episode is never touched (episodes are immutable).

Why it is admitted ``active`` (an extractive kind, see :mod:`oneiro.dream.ops.admission`) and not
staged with an evidence test: the entry is a derived computation over recorded facts, a function the
user registered applied to inputs recorded awake. It asserts nothing a later episode could confirm
or refute (the same inputs give the same value every time), so a test could never be met and a
staged re-score could only expire; what grounds it is its source episode, which admission checks.
A re-score that leaves the value unchanged states nothing new and is not made (counted as
``unchanged``).

Which episodes: this cycle's new ones, plus, when the snapshot can list them (:class:`ScoredView`),
the stored episodes scored by an older version than the current one, which is what makes re-scoring
useful once the scorer changes after the episodes were consolidated. That history is read
:data:`BACKLOG_PER_SCORER` at a time in rowid order; the place reached is carried
(``Carry.rescoring_cursor``, per scorer and version) and picked up by the next chunk and the next
cycle, so a long history is spread over cycles and never re-read. An episode already re-scored to
the current version by an earlier cycle is skipped, so the operation is idempotent across cycles.
Malformed score records, unknown scorers and scorers that fail or return a non-finite value on the
recorded inputs are skipped and counted in a Note.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from oneiro.dream.ops.extractive import extractive_entry
from oneiro.dream.phase import Carry, Context, Outcome, ScorerMark, Snapshot
from oneiro.dream.writes import Note, Writes
from oneiro.model import Entry, Episode, Tier
from oneiro.scoring import Scorer, ScoringRegistry

#: Older scored episodes fetched per scorer and cycle through :class:`ScoredView`: re-scoring a
#: long history is spread over several cycles instead of one long one.
BACKLOG_PER_SCORER = 1_000


#: Two values closer than this (relative) are the same score: floating-point noise is no change.
UNCHANGED_REL_TOL = 1e-12


@runtime_checkable
class ScoredView(Protocol):
    """A snapshot that can list stored episodes whose score record names ``scorer`` at a version
    below ``version``, after a rowid (one query in the store, not a scan in Python), and read what
    the latest returned cycle carried."""

    def episodes_scored_below(
        self, scorer: str, version: int, limit: int, after_rowid: int = 0
    ) -> list[tuple[int, Episode]]: ...
    def previous_carry(self, name: str) -> Carry | None: ...


def score_record(ep: Episode) -> dict[str, Any] | None:
    """The episode's score record when well formed: a scorer name, an integer version >= 1, a
    finite value and a mapping of inputs; None otherwise."""
    rec = ep.data.get("score")
    if not isinstance(rec, Mapping):
        return None
    name, version, value, inputs = (rec.get(k) for k in ("scorer", "version", "value", "inputs"))
    if not isinstance(name, str) or not name or isinstance(version, bool) or not isinstance(version, int):
        return None
    if version < 1 or not isinstance(inputs, Mapping):
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return {"scorer": name, "version": version, "value": float(value), "inputs": dict(inputs)}


class Rescoring:
    name = "rescoring"
    tier = Tier.T0

    def __init__(self, registry: ScoringRegistry | None = None) -> None:
        """``registry`` pins the scorers; without one, the memory's (``ctx.scorers``) are used."""
        self.pinned = registry

    def run(self, snap: Snapshot, ctx: Context, carry: Carry) -> Outcome:
        registry = self.pinned if self.pinned is not None else ctx.scorers
        candidates, cursor = self._candidates(registry, snap, carry)
        done = self._already_rescored(snap, candidates)
        writes, skipped = Writes(), Counter[str]()
        for n, ep in enumerate(candidates):
            if ctx.budget.exhausted():
                return self._finish(writes, skipped, cursor, left=len(candidates) - n)
            entry, why = self._rescore(registry, ctx, ep, done)
            if entry is not None:
                writes.entries.append(entry)
            elif why:
                skipped[why] += 1
        return self._finish(writes, skipped, cursor)

    @staticmethod
    def _candidates(
        registry: ScoringRegistry, snap: Snapshot, carry: Carry
    ) -> tuple[list[Episode], dict[str, ScorerMark]]:
        """This cycle's scored episodes and the next page of each scorer's older history, with the
        cursor that page leaves."""
        found = {e.id: e for e in snap.new_episodes if "score" in e.data}
        cursor: dict[str, ScorerMark] = {}
        if isinstance(snap, ScoredView):
            previous = snap.previous_carry("rescoring_cursor")
            start = carry.rescoring_cursor or (previous.rescoring_cursor if previous else None) or {}
            for name in registry.names():
                scorer = registry.current(name)
                if scorer is None or scorer.version <= 1:
                    continue
                mark = start.get(name) if isinstance(start, dict) else None
                after = (
                    int(mark["after"])
                    if isinstance(mark, dict) and mark.get("version") == scorer.version
                    else 0
                )
                page = snap.episodes_scored_below(name, scorer.version, BACKLOG_PER_SCORER, after)
                for _, ep in page:
                    found.setdefault(ep.id, ep)
                cursor[name] = ScorerMark(version=scorer.version, after=page[-1][0] if page else after)
        return sorted(found.values(), key=lambda e: (e.ts, e.id)), cursor

    @staticmethod
    def _already_rescored(snap: Snapshot, episodes: Sequence[Episode]) -> set[tuple[str, str, int]]:
        """(episode, scorer, version) triples an earlier cycle already re-scored."""
        citing = snap.entries_citing([e.id for e in episodes]) if episodes else {}
        entry_ids = sorted({i for ids in citing.values() for i in ids})
        entries = snap.entries(entry_ids) if entry_ids else {}
        return {
            (ep_id, str(e.data.get("scorer")), int(e.data.get("version", 0)))
            for ep_id, ids in citing.items()
            for e in (entries[i] for i in ids if i in entries)
            if e.kind == "rescore" and e.status != "reverted"
        }

    @staticmethod
    def _rescore(
        registry: ScoringRegistry, ctx: Context, ep: Episode, done: set[tuple[str, str, int]]
    ) -> tuple[Entry | None, str]:
        rec = score_record(ep)
        if rec is None:
            return None, "malformed_score"
        scorer = registry.current(rec["scorer"])
        if scorer is None:
            return None, "unknown_scorer"
        if rec["version"] >= scorer.version:
            return None, ""
        if (ep.id, scorer.name, scorer.version) in done:
            return None, "already_rescored"
        try:
            value = float(scorer(rec["inputs"]))
        except Exception:  # a user's scorer failing on old inputs must not stop the dream
            return None, "scorer_failed"
        if not math.isfinite(value) or not math.isfinite(value - rec["value"]):
            return None, "scorer_failed"
        if math.isclose(value, rec["value"], rel_tol=UNCHANGED_REL_TOL, abs_tol=0.0):
            return None, "unchanged"
        return rescore_entry(ctx, ep, rec, scorer, value), ""

    @staticmethod
    def _finish(
        writes: Writes, skipped: Counter[str], cursor: dict[str, ScorerMark], *, left: int = 0
    ) -> Outcome:
        payload = {
            "rescored": [
                {k: e.data[k] for k in ("scorer", "old_version", "version", "old", "new")}
                for e in writes.entries[:20]
            ],
            "count": len(writes.entries),
            "skipped": dict(sorted(skipped.items())),
        }
        writes.notes.append(Note("rescoring", payload))
        return Outcome(
            writes,
            carry=Carry(rescoring_cursor=cursor) if cursor else Carry(),
            did={"rescored": len(writes.entries), "skipped": sum(skipped.values())},
            left={"episodes": left} if left else {},
        )


def rescore_entry(ctx: Context, ep: Episode, rec: Mapping[str, Any], scorer: Scorer, value: float) -> Entry:
    old = float(rec["value"])
    text = (
        f"Re-scored with {scorer.name} v{scorer.version} (was v{rec['version']}): "
        f"{old:.4g} -> {value:.4g} ({value - old:+.4g}). {ep.text}"
    )
    data = {
        "scorer": scorer.name,
        "old_version": rec["version"],
        "version": scorer.version,
        "old": old,
        "new": value,
        "delta": value - old,
        "episode": ep.id,
    }
    return extractive_entry(ctx, "rescore", text, (ep.id,), keys=[scorer.name], data=data, valid_from=ep.ts)
