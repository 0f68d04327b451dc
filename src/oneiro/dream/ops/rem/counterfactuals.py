"""REM counterfactual replay: do(action=a') for the decisions NREM replayed (seed 003).

The store's :class:`~oneiro.dream.ops.rem.scm.CausalModel` is fitted on the store's recent
decisions (context features, action, outcome; :func:`~oneiro.dream.ops.rem.decisions.store_decisions`,
bounded by ``rem.model_window``). For each replayed decision it imagines the expected outcome
of every modelled action with a 90% interval, and relabels the decision in hindsight (Andrychowicz
et al. 2017): the outcome actually reached becomes a goal the episode demonstrates. The per-action
means over the replayed decisions are ``Carry.imagined_returns`` (EVOLUTION's input); the
per-decision findings are ``Carry.counterfactuals``. All of it is dream output: carried findings
and a journal note, never evidence and never a confirmation of any hypothesis.

Refusals, journaled rather than raised: no usable decision (no action or no finite outcome), or
fewer than two actions with enough decisions to model (a counterfactual needs an alternative the
store has seen work; with one action there is none to claim).
"""

from __future__ import annotations

from oneiro.dream.ops.rem.decisions import store_model
from oneiro.dream.ops.rem.scm import outcome_of, usable
from oneiro.dream.ops.replay import action_of
from oneiro.dream.phase import Carry, Context, ImaginedReturn, JsonObject, Outcome, Snapshot
from oneiro.dream.writes import Note, Writes
from oneiro.model import Episode, Tier


def _replayed(snap: Snapshot, carry: Carry) -> list[Episode]:
    """The decisions NREM replayed (in its order), else this cycle's usable decisions."""
    if carry.replay:
        ids = [p["id"] for p in carry.replay]
        eps = snap.episodes(ids)
        return [eps[i] for i in ids if i in eps and usable(eps[i])]
    return [ep for ep in snap.new_episodes if usable(ep)]


class Counterfactuals:
    """Imagined outcomes under every modelled action for the replayed decisions."""

    name = "counterfactuals"
    tier = Tier.T0

    def run(self, snap: Snapshot, ctx: Context, carry: Carry) -> Outcome:
        cfg = ctx.config.rem
        model = store_model(snap, ctx)
        replayed = _replayed(snap, carry)
        base: JsonObject = {
            "actions": model.counts,
            "modelled": sorted(model.models),
            "skipped": model.skipped,
        }
        if len(model.models) < 2:
            why = (
                "no usable decision"
                if not model.counts
                else "fewer than two actions have enough decisions to model"
            )
            return Outcome(
                Writes(notes=[Note("counterfactuals_skipped", {**base, "why": why})]),
                # Not ``left``: that is work left for lack of budget (it makes a cycle partial);
                # an action with too few decisions is not work this cycle could have done.
                did={
                    "decisions": 0,
                    "skipped": model.skipped,
                    "unmodelled_actions": len(model.counts) - len(model.models),
                },
            )
        sums: dict[str, list[float]] = {a: [0.0, 0.0, 0.0] for a in model.models}
        findings: list[JsonObject] = []
        done = 0
        for ep in replayed:
            if ctx.budget.exhausted():
                break
            done += 1
            imagined: JsonObject = {}
            for action in model.models:
                im = model.imagine(ep, action, cfg.interval)
                if im is None:
                    continue
                s = sums[action]
                s[0], s[1], s[2] = s[0] + im.mean, s[1] + im.low, s[2] + im.high
                imagined[action] = {
                    "mean": round(im.mean, 6),
                    "low": round(im.low, 6),
                    "high": round(im.high, 6),
                }
            if len(findings) < cfg.max_counterfactuals:
                findings.append(
                    {
                        "episode": ep.id,
                        "action": action_of(ep),
                        "outcome": outcome_of(ep),
                        "goal": {"reached": outcome_of(ep), "demonstrated_by": ep.id},
                        "do": imagined,
                    }
                )
        returns = [
            ImaginedReturn(
                action=a,
                mean=s[0] / done,
                low=s[1] / done,
                high=s[2] / done,
                n=done,
                observed=model.counts.get(a, 0),
            )
            for a, s in sums.items()
            if done
        ]
        note = Note("counterfactuals", {**base, "decisions": done, "returns": list(map(dict, returns))})
        return Outcome(
            Writes(notes=[note]),
            carry=Carry(counterfactuals=list(findings), imagined_returns=returns),
            did={"decisions": done, "actions": len(returns), "skipped": model.skipped},
            left={"decisions": len(replayed) - done} if len(replayed) > done else {},
        )
