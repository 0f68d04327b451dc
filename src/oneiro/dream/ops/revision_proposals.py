"""INTEGRATION: propose playbook revisions from hypotheses awake experience has begun to confirm.

Only proposes; a dream never activates a revision (the store's policy decides, awake). Sources:

* a correction (``data.test.type == "residual_bias"``) at or above the confidence floor proposes
  the rule for its context: add ``correction-<context>`` with ``offset = bias``, or edit that
  item's offset when it exists and differs;
* an insight or heuristic at or above the floor proposes adding its text as a heuristic.

Quarantined entries and any text carrying a poisoning signature never become proposals; the store
rejects such a revision again on its own (defence in depth). Staged entries still below the floor
are not proposed at all: nothing independent has spoken for them yet.

Text from the world is screened before it becomes rule text (:mod:`oneiro.screen`): a correction's
context is a label and is used in its normalised form; a heuristic's text is a rule. A context or
text the screen refuses is *skipped* and journaled (``revision_screened``: the entry, the features
found and a content hash of the text, never the text itself), not proposed under a neutral hash
label: a label like ``context 3f2a9c`` tells the person approving the rule nothing they could
check, and the agent could not tell when it applies; and the text that fails the screen is itself
a sign that the episodes behind it were written to steer the agent. The correction entry stays in
the store (staged, with its test), so nothing awake validation needs is lost.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

from oneiro.dream.ops.poisoning import signatures
from oneiro.dream.phase import Carry, Context, Outcome, RevisionSummary, Snapshot
from oneiro.dream.writes import Note, RevisionProposal, Writes
from oneiro.model import Entry, EntryStatus, Tier, content_hash
from oneiro.playbook import Item, new_item_id
from oneiro.screen import Verdict, screen_label, screen_rule
from oneiro.store.query import EntryQuery

CORRECTIONS = "Corrections"
HEURISTICS = "Heuristics"
HEURISTIC_KINDS = ("insight", "heuristic", "strategy_fragment")
#: Significant digits an offset is proposed with: finer than that is noise, not a rule.
OFFSET_DIGITS = 4
#: Hex digits of the content hash a screened-out text is journaled by.
SCREENED_HASH_HEX = 12


class Screened(Exception):
    """An entry whose text (or context) the screen refused; carries the verdict for the journal."""

    def __init__(self, entry: Entry, field: str, raw: str, verdict: Verdict) -> None:
        super().__init__(verdict.reason())
        self.note = {
            "entry": entry.id,
            "field": field,
            "refused": list(verdict.refused),
            "text_sha": content_hash(raw)[:SCREENED_HASH_HEX],
        }


@runtime_checkable
class PlaybookView(Protocol):
    """A snapshot that can also show the active playbook (the cycle's snapshot should)."""

    def playbook_items(self) -> list[Item]: ...


def correction_item_id(context: str) -> str:
    return "correction-" + (re.sub(r"[^a-z0-9]+", "-", context.lower()).strip("-") or "default")


class ProposeRevisions:
    name = "propose_revisions"
    tier = Tier.T0

    def run(self, snap: Snapshot, ctx: Context, carry: Carry) -> Outcome:
        items = {i.id: i for i in snap.playbook_items()} if isinstance(snap, PlaybookView) else {}
        candidates = snap.entries_matching(
            EntryQuery(
                kinds=("correction", *HEURISTIC_KINDS),
                statuses=(EntryStatus.STAGED, EntryStatus.VALIDATED),
                min_confidence=ctx.config.lifecycle.confidence_floor,
                data_lacks=("quarantine",),
            )
        )
        candidates.sort(key=lambda e: -e.confidence)
        writes, skipped, screened = Writes(), 0, 0
        for entry in candidates:
            try:
                proposal = _proposal(entry, items)
            except Screened as refusal:
                screened += 1
                writes.notes.append(Note("revision_screened", refusal.note))
                continue
            if proposal is None:
                skipped += 1
                continue
            writes.revisions.append(proposal)
        summary = [
            RevisionSummary(op=p.op, item=p.item_id, section=p.section, text=p.text, reason=p.reason)
            for p in writes.revisions
        ]
        payload = {"proposed": summary, "skipped": skipped, "screened": screened}
        writes.notes.append(Note("revision_proposals", payload))
        did = {"proposed": len(summary), "skipped": skipped, "screened": screened}
        return Outcome(writes, carry=Carry(revisions=summary), did=did)


def _proposal(entry: Entry, items: dict[str, Item]) -> RevisionProposal | None:
    if signatures(entry.text):
        return None
    evidence = (entry.id, *entry.sources)
    test = entry.data.get("test")
    if entry.kind == "correction" and isinstance(test, dict) and test.get("type") == "residual_bias":
        return _correction(entry, test, items, evidence)
    if entry.kind in HEURISTIC_KINDS:
        text = _screened(entry, "text", entry.text, screen_rule)
        item_id = new_item_id(HEURISTICS, text)
        if item_id in items:
            return None
        reason = f"{entry.kind} {entry.id} confirmed awake ({entry.confirmations} independent)"
        return RevisionProposal("add", HEURISTICS, text, reason, item_id=item_id, evidence=evidence)
    return None


def _screened(entry: Entry, field: str, raw: str, screen: Callable[[str], Verdict]) -> str:
    """The normalised text when the screen passes it; raises Screened otherwise."""
    verdict = screen(raw)
    if not verdict.ok:
        raise Screened(entry, field, raw, verdict)
    return verdict.text


def _correction(
    entry: Entry, test: dict[str, Any], items: dict[str, Item], evidence: Sequence[str]
) -> RevisionProposal | None:
    context = _screened(entry, "context", str(test.get("context")), screen_label)
    bias = float(test.get("bias", 0.0))
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
