"""NREM forward and reverse replay of decision trajectories, with credit to playbook items.

A *trajectory* is the decision episodes of one session in time order (a decision without a session
is a trajectory of one). The replayed decisions are those prioritized replay selected
(``carry["replay"]``, kind ``decision``), or this cycle's decisions when no selection ran.

Forward replay walks each trajectory as it happened and carries it to later phases
(``carry["trajectories"]``: ids, actions, residuals and the running residual), the sequence REM's
counterfactuals and threat simulation start from.

Reverse replay walks it backwards and propagates every replayed outcome's residual (its TD error,
``outcome - prediction``) to the decisions that led to it, decaying by ``TRACE_DECAY`` per step:
the backward view of TD(lambda) with eligibility traces (Sutton 1988; Sutton & Barto 2018, ch. 12),
the role Foster & Wilson (2006) give reverse hippocampal replay. A decision's credit is
``sum_k TRACE_DECAY**k * residual[t + k]`` over the replayed outcomes at or after it. Each playbook
item the decision used (``data["playbook_items"]``) is counted helpful when that credit is above
``CREDIT_DEADBAND`` of the largest replayed |residual|, harmful when below minus that, and not at
all in between. The cycle applies the counts (``Writes.credits``), undo-logged.

Invariant: a (replayed outcome, earlier decision) pair is credited in the cycle where the outcome is
new and never again, because only this cycle's decisions are sources; older decisions of the same
session still receive credit from new outcomes, which is the point of reverse replay.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from oneiro.dream.ops.replay import action_of, is_decision
from oneiro.dream.ops.revision_proposals import PlaybookView
from oneiro.dream.phase import Carry, Context, Outcome, Snapshot, Trajectory
from oneiro.dream.writes import ItemCredit, Note, Writes
from oneiro.model import Episode, Tier

#: Discount per decision step (gamma) and trace decay (lambda) of TD(lambda); Sutton & Barto
#: (2018, ch. 12) use values in this range; their product is the weight an outcome keeps one
#: decision further back.
DISCOUNT = 0.9
TRACE_LAMBDA = 0.8
TRACE_DECAY = DISCOUNT * TRACE_LAMBDA
#: Credit within this fraction of the largest replayed |residual| of zero counts neither way: an
#: outcome close to what was predicted neither praises nor blames what led to it.
CREDIT_DEADBAND = 0.1


@dataclass
class Tally:
    """Helpful and harmful counts of one playbook item, with the decisions behind them."""

    helpful: int = 0
    harmful: int = 0
    evidence: list[str] = field(default_factory=list)


def replayed_decisions(snap: Snapshot, carry: Carry) -> list[Episode]:
    """The decisions selection chose (kind ``decision``), else every new decision."""
    new = {e.id: e for e in snap.new_episodes}
    if carry.replay is None:
        return [e for e in new.values() if is_decision(e)]
    ids = [r["id"] for r in carry.replay if r.get("kind") == "decision"]
    return [new[i] for i in ids if i in new and is_decision(new[i])]


def trajectories(snap: Snapshot, decisions: Sequence[Episode]) -> list[list[Episode]]:
    """Each replayed decision's session as a time-ordered trajectory of decisions."""
    sessions = sorted({d.session for d in decisions if d.session})
    by_session: dict[str, list[Episode]] = defaultdict(list)
    for ep in snap.episodes_in_sessions(sessions) if sessions else []:
        if is_decision(ep):
            by_session[ep.session].append(ep)
    for d in decisions:
        if d.session and d.id not in {e.id for e in by_session[d.session]}:
            by_session[d.session].append(d)
    out = [sorted(eps, key=lambda e: (e.ts, e.id)) for _, eps in sorted(by_session.items())]
    return out + [[d] for d in decisions if not d.session]


def reverse_credit(trajectory: Sequence[Episode], sources: set[str]) -> list[float]:
    """Backward eligibility-trace pass: credit[t] = residual[t] (if a source) + TRACE_DECAY * credit[t+1]."""
    credit = [0.0] * len(trajectory)
    trace = 0.0
    for t in range(len(trajectory) - 1, -1, -1):
        ep = trajectory[t]
        trace = TRACE_DECAY * trace + ((ep.residual or 0.0) if ep.id in sources else 0.0)
        credit[t] = trace
    return credit


def items_used(ep: Episode) -> list[str] | None:
    """The playbook item ids a decision used; None when the field is present but malformed."""
    raw = ep.data.get("playbook_items", [])
    if not isinstance(raw, list) or not all(isinstance(i, str) for i in raw):
        return None
    return list(dict.fromkeys(raw))


class BidirectionalReplay:
    """Forward replay for later phases; reverse replay for credit to playbook items."""

    name = "chains"
    tier = Tier.T0

    def run(self, snap: Snapshot, ctx: Context, carry: Carry) -> Outcome:
        decisions = replayed_decisions(snap, carry)
        if not decisions:
            note = Note("replay_chains", {"trajectories": 0, "skipped": "no replayed decision episodes"})
            return Outcome(Writes(notes=[note]), carry=Carry(trajectories=[]), did={"trajectories": 0})
        sources = {d.id for d in decisions}
        scale = max(abs(d.residual or 0.0) for d in decisions)
        tallies: dict[str, Tally] = defaultdict(Tally)
        forward: list[Trajectory] = []
        malformed: list[str] = []
        paths = trajectories(snap, decisions)
        for n, path in enumerate(paths):
            if ctx.budget.exhausted():
                return self._finish(snap, tallies, forward, malformed, left=len(paths) - n)
            credit = reverse_credit(path, sources)
            forward.append(_forward(path, credit))
            for ep, c in zip(path, credit, strict=True):
                self._count(ep, c, scale, tallies, malformed)
        return self._finish(snap, tallies, forward, malformed)

    @staticmethod
    def _count(ep: Episode, credit: float, scale: float, tallies: dict[str, Tally], bad: list[str]) -> None:
        items = items_used(ep)
        if items is None:
            bad.append(ep.id)
            return
        if scale <= 0 or abs(credit) < CREDIT_DEADBAND * scale:
            return
        for item in items:
            tally = tallies[item]
            if credit > 0:
                tally.helpful += 1
            else:
                tally.harmful += 1
            tally.evidence.append(ep.id)

    @staticmethod
    def _finish(
        snap: Snapshot,
        tallies: Mapping[str, Tally],
        forward: list[Trajectory],
        malformed: list[str],
        *,
        left: int = 0,
    ) -> Outcome:
        known = {i.id for i in snap.playbook_items()} if isinstance(snap, PlaybookView) else None
        unknown = sorted(i for i in tallies if known is not None and i not in known)
        credits = [
            ItemCredit(item, t.helpful, t.harmful, tuple(dict.fromkeys(t.evidence)))
            for item, t in sorted(tallies.items())
            if item not in unknown
        ]
        payload = {
            "trajectories": len(forward),
            "decisions": sum(len(f["ids"]) for f in forward),
            "credits": [{"item": c.item_id, "helpful": c.helpful, "harmful": c.harmful} for c in credits],
            "unknown_items": unknown,
            "malformed_items": malformed,
        }
        return Outcome(
            Writes(credits=credits, notes=[Note("replay_chains", payload)]),
            carry=Carry(trajectories=forward),
            did={"trajectories": len(forward), "credited_items": len(credits)},
            left={"trajectories": left} if left else {},
        )


def _forward(path: Sequence[Episode], credit: Sequence[float]) -> Trajectory:
    """One trajectory as replayed forward: what was done, how far off each prediction was, the
    running residual, and the credit reverse replay gave each step."""
    running, total = [], 0.0
    for ep in path:
        total += ep.residual or 0.0
        running.append(round(total, 6))
    return Trajectory(
        session=path[0].session,
        ids=[e.id for e in path],
        actions=[action_of(e) for e in path],
        residuals=[round(e.residual or 0.0, 6) for e in path],
        running=running,
        credit=[round(c, 6) for c in credit],
    )
