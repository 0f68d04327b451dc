"""REM creative predictions: what the store's causal model expects the next decisions to do, each
with a resolution checkpoint (seed 003: about 30 a cycle, resolved by awake experience).

Candidates are (action, region) pairs: every modelled action over all contexts, and over each
third of every feature's recorded range (terciles, so that a prediction can be wrong about one
part of the context space while right about another). Each says: *the next decision taking A in
R lands in [low, high]*, where the interval is the imagined mean over the recorded decisions in R
widened by the action's residual quantiles, a 90% predictive interval (``rem.interval``). The
best-supported candidates (most recorded decisions behind them) are registered first, at most
``rem.predictions_per_cycle``, each once while an earlier one is live.

Each prediction is two rows: a ``prediction`` hypothesis (staged at 0.2, sourced on the recorded
decisions in its region, tested by ``outcome_region``) and a prediction row linked to it, due
``rem.prediction_horizon_days`` later. The validator resolves the row by the first awake decision
that decides it before the checkpoint and lapses it after; the hypothesis collects every
independent decision's evidence and is promoted (validated) only at the lifecycle's three
independent confirmations within a window, the false-discovery control; dream output confirms
none of it.
"""

from __future__ import annotations

import hashlib

import numpy as np

from oneiro.dream.ops.rem.decisions import store_model
from oneiro.dream.ops.rem.evidence import outcome_test
from oneiro.dream.ops.rem.rules import Region, rescore
from oneiro.dream.ops.rem.scm import CausalModel
from oneiro.dream.ops.rem.staging import live, staged
from oneiro.dream.phase import Carry, Context, JsonObject, Outcome, Snapshot
from oneiro.dream.writes import Note, Prediction, Writes
from oneiro.model import Tier
from oneiro.screen import quoted_label

DAY = 86_400.0
#: Parts each feature's recorded range is cut into for regional predictions (terciles).
PARTS = 3


def candidates(model: CausalModel) -> list[tuple[str, str, Region]]:
    """(key, action, region) triples: each action everywhere, then in each tercile of each
    feature. The key names the action and the part (feature and tercile), not the edges, which
    move as decisions are recorded: a live prediction about one part is not made twice."""
    out: list[tuple[str, str, Region]] = [(key_of(a, ""), a, {}) for a in sorted(model.models)]
    for j, name in enumerate(model.names):
        if not model.sd[j] > 0:
            continue
        edges = np.quantile(model.X[:, j], np.linspace(0, 1, PARTS + 1))
        for k in range(PARTS):
            region: Region = {name: (float(edges[k]), float(edges[k + 1]))}
            out.extend((key_of(a, f"{name}#{k}"), a, region) for a in sorted(model.models))
    return out


def region_text(region: Region) -> str:
    if not region:
        return "in any context"
    parts = []
    for name, (lo, hi) in sorted(region.items()):
        parts.append(
            f"{quoted_label(name)} in [{lo:.3g}, {hi:.3g}]" if lo is not None and hi is not None else name
        )
    return "with " + ", ".join(parts)


def key_of(action: str, part: str) -> str:
    return hashlib.sha256(repr((action, part)).encode()).hexdigest()[:16]


class CreativePredictions:
    """Registers bounded, checkable predictions of the next decisions' outcomes."""

    name = "creative_predictions"
    tier = Tier.T0

    def run(self, snap: Snapshot, ctx: Context, carry: Carry) -> Outcome:
        cfg = ctx.config.rem
        model = store_model(snap, ctx)
        if not model.models or cfg.predictions_per_cycle == 0:
            why = "no action has enough recorded decisions to predict" if not model.models else "disabled"
            return Outcome(
                Writes(notes=[Note("creative_predictions", {"made": 0, "why": why})]), did={"made": 0}
            )
        tail = (1 - cfg.interval) / 2
        scored = []
        for key, action, region in candidates(model):
            got = rescore(model, action, region, cfg.interval)
            if got is not None:
                scored.append((len(got[3]), key, action, region, got))
        scored.sort(key=lambda s: (-s[0], s[1]))
        writes = Writes()
        findings: list[JsonObject] = []
        known = 0
        for _, key, action, region, (mean, low, high, ids) in scored:
            if len(findings) >= cfg.predictions_per_cycle:
                break
            if ctx.budget.exhausted():
                break
            if live(snap, "prediction", "key", key):
                known += 1
                continue
            om = model.models[action]
            lo, hi = low + min(0.0, om.noise(tail)), high + max(0.0, om.noise(1 - tail))
            text = (
                f"The next decision taking '{quoted_label(action)}' {region_text(region)} will land "
                f"in [{lo:.3g}, {hi:.3g}] (imagined mean {mean:+.3g} over {len(ids)} recorded decisions)."
            )
            test = outcome_test(action, region, lo, hi)
            entry = staged(
                ctx,
                "prediction",
                text,
                ids[-20:],
                {"test": test, "key": key, "mean": mean, "support": len(ids)},
                ("prediction", quoted_label(action)),
            )
            due = ctx.now + cfg.prediction_horizon_days * DAY
            writes.entries.append(entry)
            writes.predictions.append(
                Prediction("pred-" + entry.id[:32], text, due, entry.id, {"test": test})
            )
            findings.append({"text": text, "entry": entry.id, "due_at": due, "action": action, "key": key})
        left = max(0, min(len(scored) - known, cfg.predictions_per_cycle) - len(findings))
        writes.notes.append(
            Note(
                "creative_predictions",
                {"made": len(findings), "already_open": known, "candidates": len(scored)},
            )
        )
        return Outcome(
            writes,
            carry=Carry(predictions=list(findings)),
            did={"made": len(findings), "already_open": known},
            left={"predictions": left} if left and ctx.budget.exhausted() else {},
        )
