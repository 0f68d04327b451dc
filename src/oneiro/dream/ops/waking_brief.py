"""RETURN: the waking brief, what the agent should know when it wakes.

Data first (a JSON-ready dict) and a markdown rendering of the same data: what changed in this
cycle, which hypotheses to test and how awake experience can settle them, which revisions wait for
a decision, what admission quarantined or rejected, which threats were looked for and found. It reads the
snapshot (taken after INTEGRATION's writes) and what earlier phases carried; the cycle journals it
(kind ``brief``) and then makes the cycle's view active.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from oneiro.dream.phase import Carry, Context, Outcome, Snapshot
from oneiro.model import Entry, EntryStatus, Tier
from oneiro.playbook import Revision
from oneiro.store.query import EntryQuery

#: Hypotheses listed in the brief; the rest are counted (``oneiro hypotheses`` lists them all).
MAX_TO_TEST = 20
NO_THREATS = "none: no threat simulation ran in this cycle, so no threats were looked for"


@runtime_checkable
class RevisionView(Protocol):
    """A snapshot that can list pending playbook revisions (the cycle's snapshot should)."""

    def pending_revisions(self) -> list[Revision]: ...


def describe_test(test: Any) -> str:
    """How awake experience can settle a hypothesis, in words."""
    if not isinstance(test, dict):
        return "no test: it can only expire"
    if test.get("type") == "residual_bias":
        sign = "above" if float(test.get("bias", 0)) > 0 else "below"
        return (
            f"a decision in context '{test.get('context')}' whose outcome lands {sign} its prediction "
            f"by at least {abs(float(test.get('min_abs', 0))):g} confirms it; the opposite refutes it"
        )
    if test.get("type") == "outcome_region":
        region = test.get("region") or {}
        parts = sorted(region.items()) if isinstance(region, dict) else []
        where = " with " + ", ".join(f"{k} in {v}" for k, v in parts) if parts else ""
        return (
            f"a later decision taking '{test.get('action')}'{where} whose outcome lands in "
            f"[{test.get('low')}, {test.get('high')}] confirms it; one landing outside refutes it"
        )
    if test.get("type") == "affect_settled":
        return "a later episode on the same subject recorded calm supports it; one charged again refutes it"
    if test.get("type") == "text_support":
        return "a later awake episode restating it supports it; one denying it refutes it"
    return f"test '{test.get('type')}'"


class WakingBrief:
    """Composes the brief. ``essential``: it runs whatever the budget says, since a cycle that ran
    out of budget must still tell the agent what it left."""

    name = "waking_brief"
    tier = Tier.T0
    essential = True

    def run(self, snap: Snapshot, ctx: Context, carry: Carry) -> Outcome:
        mine = snap.entries_matching(EntryQuery(cycle=ctx.cycle_id))
        floor = ctx.config.lifecycle.confidence_floor
        brief = compose(ctx.cycle_id, ctx.now, mine, carry, _pending(snap, carry), floor)
        return Outcome(carry=Carry(brief=brief), did={"entries": len(mine), "to_test": len(brief["to_test"])})


def _pending(snap: Snapshot, carry: Carry) -> list[dict[str, Any]]:
    if isinstance(snap, RevisionView):
        return [
            {"id": r.id, "op": r.op, "item": r.item_id, "text": r.text, "reason": r.reason}
            for r in snap.pending_revisions()
        ]
    return [dict(r) for r in carry.revisions or []]


def compose(
    cycle_id: str,
    now: float,
    mine: list[Entry],
    carry: Carry,
    pending: list[dict[str, Any]],
    floor: float,
) -> dict[str, Any]:
    """The brief as data, with its markdown under ``"markdown"``. ``fragments`` counts staged
    hypotheses below the confidence ``floor``: kept as raw material for later dreams, not recalled."""
    by_status = Counter(e.status.value for e in mine)
    by_kind = Counter(e.kind for e in mine if e.status == EntryStatus.ACTIVE)
    hypotheses = [e for e in mine if e.status == EntryStatus.STAGED and "quarantine" not in e.data]
    to_test = [
        {
            "id": e.id,
            "kind": e.kind,
            "text": e.text,
            "confidence": e.confidence,
            "how": describe_test(e.data.get("test")),
        }
        for e in hypotheses[:MAX_TO_TEST]
    ]
    admission: Mapping[str, Any] = carry.admission or {}
    threats = carry.threats
    brief: dict[str, Any] = {
        "cycle_id": cycle_id,
        "generated_at": now,
        "changed": {
            "by_status": dict(by_status),
            "active_by_kind": dict(by_kind),
            "entries": len(mine),
            "fragments": sum(e.confidence < floor for e in hypotheses),
        },
        "to_test": to_test,
        "more_to_test": max(0, len(hypotheses) - MAX_TO_TEST),
        "waiting_revisions": pending,
        "admission": {k: admission.get(k, []) for k in ("quarantined", "rejected", "superseded")},
        "predictions": list(carry.predictions or []),
        "threats": list(threats) if threats is not None else [],
        "threats_note": _threats_note(threats, carry.threat_search),
        "backlog": _backlog(carry.backlog),
    }
    brief["markdown"] = render(brief)
    return brief


def _threats_note(threats: Any, search: Mapping[str, Any] | None) -> str | None:
    """What threat simulation looked for: why it could test nothing, or how much it ran and
    found; None when findings came without a search summary (they speak for themselves)."""
    if search is None:
        return None if threats is not None else NO_THREATS
    if search.get("why"):
        return f"none found: {search['why']}"
    return (
        f"{search.get('rules', 0)} playbook rules run against {search.get('scenarios', 0)} simulated "
        f"scenarios; {search.get('found', 0)} fail"
    )


def _threat_line(threat: Any) -> str:
    if isinstance(threat, Mapping) and "text" in threat:
        severity = threat.get("severity")
        return f"- {threat['text']}" + (f" (severity {float(severity):.2f})" if severity is not None else "")
    return f"- {threat}"


def _backlog(raw: Any) -> dict[str, Any]:
    """What the cycle set out to consolidate and what it left (the cycle carries it in)."""
    raw = raw if isinstance(raw, dict) else {}
    intake = int(raw.get("intake", 0))
    consolidated = int(raw.get("consolidated", intake))
    return {
        "intake": intake,
        "consolidated": consolidated,
        "left": max(0, intake - consolidated),
        "ran_out": bool(raw.get("ran_out", False)),
    }


def _render_backlog(backlog: dict[str, Any]) -> list[str]:
    lines = ["", "## Backlog"]
    if backlog["left"]:
        lines.append(
            f"- the budget ran out: {backlog['consolidated']} of {backlog['intake']} new episodes "
            f"consolidated, {backlog['left']} left unconsolidated; the next cycle takes them first"
        )
    elif backlog["ran_out"]:
        lines.append(
            f"- all {backlog['intake']} new episodes consolidated, but the budget ran out before "
            "every operation finished (see the cycle's report)"
        )
    else:
        lines.append(f"- all {backlog['intake']} new episodes consolidated")
    return lines


def render(brief: dict[str, Any]) -> str:
    changed = brief["changed"]
    kinds = ", ".join(f"{k} {n}" for k, n in sorted(changed["active_by_kind"].items())) or "none"
    statuses = ", ".join(f"{k} {n}" for k, n in sorted(changed["by_status"].items())) or "nothing"
    adm = brief["admission"]
    lines = [
        f"# Waking brief: cycle {brief['cycle_id']}",
        "",
        "## What changed",
        f"- {changed['entries']} entries made ({statuses}); active knowledge by kind: {kinds}",
        f"- {changed['fragments']} hypotheses below the floor, kept as raw material for later dreams",
        f"- admission: {len(adm['quarantined'])} quarantined (poisoning signatures), "
        f"{len(adm['rejected'])} rejected, {len(adm['superseded'])} superseded",
        "",
        "## What to test",
    ]
    lines += [f"- [{t['kind']}] {t['text']} ({t['confidence']:.2f}): {t['how']}" for t in brief["to_test"]]
    if brief["more_to_test"]:
        lines.append(f"- and {brief['more_to_test']} more (`oneiro hypotheses`)")
    if not brief["to_test"]:
        lines.append("- nothing new to test")
    lines += ["", "## Revisions waiting for a decision"]
    lines += [
        f"- {r.get('id', '(new)')} {r['op']} {r.get('item')}: {r['reason']}"
        + (f" (`oneiro playbook approve {r['id']}`)" if r.get("id") else "")
        for r in brief["waiting_revisions"]
    ] or ["- none"]
    lines += ["", "## Threats"]
    if brief["threats_note"] is not None and brief["threats"]:
        lines.append(f"- looked for: {brief['threats_note']}")
    lines += [_threat_line(t) for t in brief["threats"]] or [f"- {brief['threats_note']}"]
    lines += _render_backlog(brief.get("backlog") or _backlog(None))
    return "\n".join(lines) + "\n"
