"""INTEGRATION: propose playbook revisions from hypotheses awake experience has begun to confirm.

Only proposes; a dream never activates a revision (the store's policy decides, awake). Sources:

* a correction (``data.test.type == "residual_bias"``) at or above the confidence floor proposes
  the rule for its context: add ``correction-<context>`` with ``offset = bias``, or edit that
  item's offset when it exists and differs;
* an insight or heuristic at or above the floor proposes adding its text as a heuristic.

Quarantined entries and any text carrying a poisoning signature never become proposals; the store
rejects such a revision again on its own (defence in depth). Staged entries still below the floor
are not proposed at all: nothing independent has spoken for them yet.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from oneiro.dream.ops.poisoning import signatures
from oneiro.dream.phase import Context, Outcome, Snapshot
from oneiro.dream.writes import Note, RevisionProposal, Writes
from oneiro.model import Entry, Tier
from oneiro.playbook import Item, new_item_id

CORRECTIONS = "Corrections"
HEURISTICS = "Heuristics"
HEURISTIC_KINDS = ("insight", "heuristic", "strategy_fragment")
#: Significant digits an offset is proposed with: finer than that is noise, not a rule.
OFFSET_DIGITS = 4


@runtime_checkable
class PlaybookView(Protocol):
    """A snapshot that can also show the active playbook (the cycle's snapshot should)."""

    def playbook_items(self) -> list[Item]: ...


def correction_item_id(context: str) -> str:
    return "correction-" + (re.sub(r"[^a-z0-9]+", "-", context.lower()).strip("-") or "default")


class ProposeRevisions:
    name = "propose_revisions"
    tier = Tier.T0

    def run(self, snap: Snapshot, ctx: Context, carry: dict[str, Any]) -> Outcome:
        items = {i.id: i for i in snap.playbook_items()} if isinstance(snap, PlaybookView) else {}
        kinds = ("correction", *HEURISTIC_KINDS)
        marks = ",".join("?" * len(kinds))
        candidates = snap.entries_where(
            f"status IN ('staged', 'validated') AND confidence >= ? AND kind IN ({marks}) "
            "AND json_extract(data, '$.quarantine') IS NULL",
            (ctx.config.lifecycle.confidence_floor, *kinds),
        )
        candidates.sort(key=lambda e: -e.confidence)
        writes, skipped = Writes(), 0
        for entry in candidates:
            proposal = _proposal(entry, items)
            if proposal is None:
                skipped += 1
                continue
            writes.revisions.append(proposal)
        summary = [
            {"op": p.op, "item": p.item_id, "section": p.section, "text": p.text, "reason": p.reason}
            for p in writes.revisions
        ]
        writes.notes.append(Note("revision_proposals", {"proposed": summary, "skipped": skipped}))
        return Outcome(
            writes, carry={"revisions": summary}, did={"proposed": len(summary), "skipped": skipped}
        )


def _proposal(entry: Entry, items: dict[str, Item]) -> RevisionProposal | None:
    if signatures(entry.text):
        return None
    evidence = (entry.id, *entry.sources)
    test = entry.data.get("test")
    if entry.kind == "correction" and isinstance(test, dict) and test.get("type") == "residual_bias":
        return _correction(entry, test, items, evidence)
    if entry.kind in HEURISTIC_KINDS:
        item_id = new_item_id(HEURISTICS, entry.text)
        if item_id in items:
            return None
        reason = f"{entry.kind} {entry.id} confirmed awake ({entry.confirmations} independent)"
        return RevisionProposal("add", HEURISTICS, entry.text, reason, item_id=item_id, evidence=evidence)
    return None


def _correction(
    entry: Entry, test: dict[str, Any], items: dict[str, Item], evidence: Sequence[str]
) -> RevisionProposal | None:
    context, bias = str(test.get("context")), float(test.get("bias", 0.0))
    offset = float(f"{bias:.{OFFSET_DIGITS}g}")
    if offset == 0:
        return None
    item_id = correction_item_id(context)
    text = f"In context '{context}', outcomes run {offset:+g} from predictions: add {offset:+g} to estimates."
    reason = (
        f"correction {entry.id}: mean residual {offset:+g} in '{context}' "
        f"({entry.confirmations} independent confirmations)"
    )
    current = items.get(item_id)
    if current is None:
        params = {"context": context, "offset": offset}
        return RevisionProposal(
            "add", CORRECTIONS, text, reason, item_id=item_id, params=params, evidence=tuple(evidence)
        )
    if current.params.get("offset") == offset:
        return None
    return RevisionProposal(
        "edit",
        current.section,
        text,
        reason,
        item_id=item_id,
        params={"offset": offset},
        evidence=tuple(evidence),
    )
