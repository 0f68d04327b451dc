"""INTEGRATION: the admission gate every entry of this cycle passes before it can be seen awake.

The cycle's entries are still invisible (their cycle has not returned), so whatever admission
changes here is what awake recall will first see. For each entry it checks:

* **sources**: non-empty and all present in the store; otherwise the entry is rejected (status
  ``refuted`` at confidence 0, the reason kept in ``data["admission"]``);
* **status and confidence by what it is**: an *extractive* entry (it only restates its sources)
  is ``active`` at the extractive confidence, but only if it rests on at least one awake episode;
  a *hypothesis* (anything that asserts something new) is ``staged`` at no more than the
  hypothesis confidence: a dream cannot admit its own output above the floor;
* **poisoning signatures** in its text: the entry is quarantined (``staged`` at the hypothesis
  confidence, ``data["quarantine"]`` naming the signatures), so it never reaches the floor, or the
  playbook, without independent awake confirmation;
* **duplicates** of an existing active entry (same kind, same normalised text): the newer one is
  superseded by the older, never deleted; unless it is an extractive entry citing a strict
  superset of the older one's sources, in which case the older one is superseded by it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from oneiro.config import LifecycleConfig
from oneiro.dream.ops.poisoning import signatures
from oneiro.dream.phase import AdmissionSummary, Carry, Context, Outcome, Snapshot
from oneiro.dream.writes import EntryUpdate, Note, Writes
from oneiro.model import Entry, EntryStatus, Provenance, Tier
from oneiro.store.query import EntryQuery, text_key

#: Kinds that only restate their sources (NREM's extractive consolidation), or compute from them
#: alone: a ``rescore`` is a registered scorer applied to inputs its episode recorded, so nothing
#: awake could confirm it further (see :mod:`oneiro.dream.ops.rescoring`).
EXTRACTIVE_KINDS = frozenset({"keys", "context", "topic", "summary", "rescore"})
#: Extractive kinds made one per episode: a re-run yields the same id, so no duplicate check.
PER_EPISODE_KINDS = frozenset({"keys", "context"})
#: Entry ids per IN (...) query.
CHUNK = 500


def is_extractive(entry: Entry) -> bool:
    return entry.kind in EXTRACTIVE_KINDS or entry.data.get("extractive") is True


#: Two entries of one kind are duplicates when their texts share this key.
normalise = text_key


class Admission:
    """Judges every entry of the cycle. ``essential``: the cycle runs it whatever the budget says,
    and it never stops early, because an entry it did not judge would become visible unjudged
    when the cycle returns (a poisoned one unquarantined)."""

    name = "admission"
    tier = Tier.T0
    essential = True

    def run(self, snap: Snapshot, ctx: Context, carry: Carry) -> Outcome:
        mine = snap.entries_matching(EntryQuery(cycle=ctx.cycle_id))
        awake = self._awake_sources(snap, mine)
        known = self._known_ids(snap, mine)
        lc = ctx.config.lifecycle
        writes, report = Writes(), _Report()
        for entry in mine:
            change = _judge(entry, known, awake, lc, report)
            if change:
                writes.updates.append(EntryUpdate(entry.id, change[0], change[1]))
        dup_updates = _duplicates(snap, ctx, [e for e in mine if e.id not in report.rejected_ids], report)
        writes.updates.extend(dup_updates)
        writes.notes.append(Note("admission", report.as_dict()))
        return Outcome(writes, carry=Carry(admission=report.summary()), did=report.counts())

    def _awake_sources(self, snap: Snapshot, mine: Sequence[Entry]) -> set[str]:
        """Sources that are awake episodes: only these ground an extractive entry (an entry
        restating shadow output or other dream entries would launder them above the floor)."""
        ids = sorted({s for e in mine for s in e.sources})
        found = {}
        for start in range(0, len(ids), CHUNK):
            found.update(snap.episodes(ids[start : start + CHUNK]))
        return {i for i, ep in found.items() if ep.provenance == Provenance.AWAKE}

    def _known_ids(self, snap: Snapshot, mine: Sequence[Entry]) -> set[str]:
        ids = sorted({s for e in mine for s in e.sources})
        known: set[str] = set()
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            known.update(snap.episodes(chunk))
            known.update(snap.entries(chunk))
        return known


class _Report:
    def __init__(self) -> None:
        self.checked = 0
        self.quarantined: list[dict[str, Any]] = []
        self.rejected: list[dict[str, str]] = []
        self.rejected_ids: set[str] = set()
        self.corrected: list[str] = []
        self.superseded: list[dict[str, str]] = []

    def as_dict(self) -> dict[str, Any]:
        return {
            "checked": self.checked,
            "quarantined": self.quarantined,
            "rejected": self.rejected,
            "corrected": self.corrected,
            "superseded": self.superseded,
        }

    def summary(self) -> AdmissionSummary:
        return AdmissionSummary(
            checked=self.checked,
            quarantined=self.quarantined,
            rejected=self.rejected,
            corrected=self.corrected,
            superseded=self.superseded,
        )

    def counts(self) -> dict[str, int]:
        return {
            "checked": self.checked,
            "quarantined": len(self.quarantined),
            "rejected": len(self.rejected),
            "corrected": len(self.corrected),
            "superseded": len(self.superseded),
        }


def _judge(
    entry: Entry, known: set[str], awake: set[str], lc: LifecycleConfig, report: _Report
) -> tuple[dict[str, Any], str] | None:
    """The changes (and why) that put one entry right, or None when it already is."""
    report.checked += 1
    missing = [s for s in entry.sources if s not in known]
    if not entry.sources or missing:
        reason = "no sources" if not entry.sources else f"sources not in the store: {missing[:5]}"
        report.rejected.append({"entry": entry.id, "reason": reason})
        report.rejected_ids.add(entry.id)
        data = {**entry.data, "admission": {"rejected": reason}}
        return {"status": EntryStatus.REFUTED, "confidence": 0.0, "data": data}, reason
    found = sorted({s for t in (entry.text, *entry.keys) for s in signatures(t)})
    if found:
        report.quarantined.append({"entry": entry.id, "kind": entry.kind, "signatures": found})
        data = {**entry.data, "quarantine": {"signatures": found}}
        conf = min(entry.confidence, lc.hypothesis_confidence)
        return {"status": EntryStatus.STAGED, "confidence": conf, "data": data}, "poisoning signature"
    if is_extractive(entry) and any(s in awake for s in entry.sources):
        want = (EntryStatus.ACTIVE, lc.extractive_confidence)
    else:
        want = (EntryStatus.STAGED, min(entry.confidence, lc.hypothesis_confidence))
    if (entry.status, entry.confidence) == want:
        return None
    report.corrected.append(entry.id)
    return {"status": want[0], "confidence": want[1]}, "status and confidence set by admission"


def _duplicates(snap: Snapshot, ctx: Context, mine: Sequence[Entry], report: _Report) -> list[EntryUpdate]:
    """Supersede duplicates of existing active entries (never delete). Only the existing entries
    whose text key one of ``checked`` has are read: the cost follows the cycle's entries, not
    the store's."""
    checked = [e for e in mine if e.kind not in PER_EPISODE_KINDS and not e.data.get("quarantine")]
    kinds = sorted({e.kind for e in checked})
    if not kinds:
        return []
    existing = snap.entries_matching(
        EntryQuery(
            kinds=tuple(kinds),
            statuses=(EntryStatus.ACTIVE, EntryStatus.VALIDATED),
            not_cycle=ctx.cycle_id,
            text_keys=tuple(sorted({normalise(e.text) for e in checked})),
        )
    )
    index = {(e.kind, normalise(e.text)): e for e in existing}
    out: list[EntryUpdate] = []
    for new in checked:
        old = index.get((new.kind, normalise(new.text)))
        if old is None:
            continue
        newer_wins = is_extractive(new) and set(old.sources) < set(new.sources)
        loser, winner = (old, new) if newer_wins else (new, old)
        change = {"status": EntryStatus.SUPERSEDED, "superseded_by": winner.id, "valid_to": ctx.now}
        out.append(EntryUpdate(loser.id, change, f"duplicate of {winner.id}"))
        report.superseded.append({"entry": loser.id, "by": winner.id})
    return out
