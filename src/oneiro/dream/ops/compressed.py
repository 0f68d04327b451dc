"""NREM compressed replay: a cluster of similar decisions replayed as one.

Sharp-wave ripples compress minutes of experience into a burst (Buzsaki 2015; seed 003); here a
cluster is this cycle's decisions with the same context key and the same action
(:func:`oneiro.dream.ops.replay.decision_key`, :func:`~oneiro.dream.ops.replay.action_of`), and its
replay is one ``summary`` entry: how many times it was done, the mean prediction, the mean outcome
and the mean residual, citing every member. It only restates awake data, so it is extractive
(active at the extractive confidence); whether the mean residual is a *bias* worth correcting is
residual pattern detection's question, not this one's. Like that operation it reads every new
decision, not only the selected ones, whose means would lean towards the largest residuals.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from oneiro.dream.ops.extractive import extractive_entry
from oneiro.dream.ops.replay import action_of, decision_key, is_decision
from oneiro.dream.phase import Carry, Context, Outcome, Snapshot
from oneiro.dream.writes import Note, Writes
from oneiro.model import Entry, Episode, Tier

#: Smallest cluster worth compressing: one decision is its own summary.
MIN_CLUSTER = 2


def clusters(episodes: Sequence[Episode]) -> tuple[dict[tuple[str, str], list[Episode]], int]:
    """Decisions by (context key, action), in time order; and how many decisions had no finite
    residual or no key at all (skipped)."""
    out: dict[tuple[str, str], list[Episode]] = defaultdict(list)
    skipped = 0
    for ep in episodes:
        if not is_decision(ep):
            skipped += 1 if ep.kind == "decision" or ep.prediction is not None else 0
            continue
        key = decision_key(ep)
        if key is None:
            skipped += 1
            continue
        out[(key, action_of(ep) or "")].append(ep)
    for members in out.values():
        members.sort(key=lambda e: (e.ts, e.id))
    return dict(out), skipped


def summary(ctx: Context, key: str, action: str, members: Sequence[Episode]) -> Entry:
    predictions = np.array([e.prediction or 0.0 for e in members])
    outcomes = np.array([e.outcome or 0.0 for e in members])
    stats = {
        "context": key,
        "action": action,
        "n": len(members),
        "mean_prediction": float(predictions.mean()),
        "mean_outcome": float(outcomes.mean()),
        "mean_residual": float((outcomes - predictions).mean()),
    }
    did = f"'{action}' in context '{key}'" if action and action != key else f"decisions in context '{key}'"
    text = (
        f"{did}, {len(members)} times: predicted {stats['mean_prediction']:.3g} on average, "
        f"observed {stats['mean_outcome']:.3g} (mean residual {stats['mean_residual']:+.3g})."
    )
    return extractive_entry(
        ctx,
        "summary",
        text[0].upper() + text[1:],
        [e.id for e in members],
        keys=[key, action],
        data=stats,
        valid_from=members[0].ts,
    )


class CompressedReplay:
    name = "compressed_replay"
    tier = Tier.T0

    def run(self, snap: Snapshot, ctx: Context, carry: Carry) -> Outcome:
        groups, skipped = clusters(snap.new_episodes)
        writes = Writes()
        small = 0
        for n, ((key, action), members) in enumerate(sorted(groups.items())):
            if ctx.budget.exhausted():
                return self._done(writes, small, skipped, left=len(groups) - n)
            if len(members) < MIN_CLUSTER:
                small += 1
                continue
            writes.entries.append(summary(ctx, key, action, members))
        return self._done(writes, small, skipped)

    @staticmethod
    def _done(writes: Writes, small: int, skipped: int, *, left: int = 0) -> Outcome:
        payload = {
            "summaries": [
                {k: e.data[k] for k in ("context", "action", "n", "mean_residual")} for e in writes.entries
            ],
            "clusters_too_small": small,
            "decisions_skipped": skipped,
        }
        writes.notes.append(Note("compressed_replay", payload))
        return Outcome(
            writes,
            did={"summaries": len(writes.entries), "too_small": small, "skipped": skipped},
            left={"clusters": left} if left else {},
        )
