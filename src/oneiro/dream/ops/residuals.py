"""NREM residual pattern detection, with perturbed replay as its robustness test.

A *residual* is ``outcome - prediction`` of a decision episode. When the predictions made in one
context run systematically high or low, the agent can correct them: that is a ``correction``
hypothesis, tested later by awake validation (``residual_bias``: a later decision in the same
context whose residual has the bias's sign and at least ``min_abs`` magnitude confirms it).

Grouping: by :func:`oneiro.dream.ops.replay.decision_key` (the context key awake validation
reads, else the decision's action). Every one of this cycle's decisions with a finite residual is
grouped (incremental: no rescan of the store), not only those prioritized replay selected: the
selection favours large residuals, and a mean over it would overstate every bias. Decisions
without a prediction or an outcome are counted and skipped.

Criterion: a group of at least ``MIN_GROUP`` decisions whose mean residual differs from zero by a
one-sample Student t test (Student 1908) at family-wise level ``ALPHA``, Bonferroni-corrected over
the groups tested in the cycle (Dunn 1961), so that many clean contexts do not yield one spurious
correction per twenty.

Perturbed replay (Deperrois et al. 2022; seed 003: "noise on features to test whether a rule still
holds"): each of ``nrem.perturbation_trials`` trials replays the group resampled with replacement
(Efron 1979) and with Gaussian noise of standard deviation ``nrem.perturbation_sigma`` times the
group's standard deviation added to every residual, drawing from ``ctx.rng``. The bias *holds* in a
trial when the perturbed group still clears the same t criterion with the same sign. The fraction
of trials where it holds is its robustness; a bias below ``ROBUST_MIN`` is fragile (it rests on a
few particular episodes) and is dropped with a Note rather than proposed.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from oneiro.dream.ops.replay import decision_key, is_decision
from oneiro.dream.phase import Carry, Context, Outcome, Snapshot
from oneiro.dream.writes import Note, Writes
from oneiro.model import Entry, EntryStatus, Episode, Provenance, Tier, entry_id
from oneiro.screen import quoted_label
from oneiro.store.query import EntryQuery

#: Smallest group tested: below five a t test has four degrees of freedom or fewer and its
#: critical value (2.78 at 5%) grows so fast that one lucky pair decides it.
MIN_GROUP = 5
#: Family-wise significance level of the bias test (the conventional 5%, Fisher 1925).
ALPHA = 0.05
#: A later residual confirms a correction when it is at least this fraction of |bias| with the
#: bias's sign; smaller ones are within the noise around zero and say nothing (validation).
MIN_ABS_FRACTION = 0.5
#: Share of perturbed replays in which the bias must still hold. Hillis & Bull (1993) found that
#: bootstrap support of 70% or more corresponds to a 95% or better chance that a result is real.
ROBUST_MIN = 0.7
#: |t| reported for a group with no spread at all (every residual equal): JSON has no infinity.
T_CAP = 1e6


@dataclass(frozen=True)
class Bias:
    """A tested group: its key, evidence, mean residual, spread, t statistic and critical value."""

    key: str
    ids: tuple[str, ...]
    residuals: tuple[float, ...]
    mean: float
    sd: float
    t: float
    critical: float

    @property
    def significant(self) -> bool:
        return self.mean != 0 and abs(self.t) >= self.critical


def t_statistic(values: np.ndarray) -> float:
    """One-sample t of ``values`` against zero; +-T_CAP when they do not vary, 0 when all zero."""
    mean = float(values.mean())
    sd = float(values.std(ddof=1)) if len(values) > 1 else 0.0
    if sd == 0 or not math.isfinite(sd):
        return 0.0 if mean == 0 else math.copysign(T_CAP, mean)
    return max(-T_CAP, min(T_CAP, mean / (sd / math.sqrt(len(values)))))


def critical_t(n: int, tests: int) -> float:
    """Two-sided Student critical value at ALPHA / tests (Bonferroni) with n - 1 degrees of freedom."""
    return float(stats.t.ppf(1 - ALPHA / (2 * max(tests, 1)), n - 1))


def group_decisions(episodes: Sequence[Episode]) -> tuple[dict[str, list[Episode]], int]:
    """Decisions by key, each in time order; and how many episodes were not usable decisions."""
    groups: dict[str, list[Episode]] = defaultdict(list)
    unusable = 0
    for ep in episodes:
        key = decision_key(ep) if is_decision(ep) else None
        if key is None:
            unusable += 1 if ep.kind == "decision" or ep.prediction is not None else 0
            continue
        groups[key].append(ep)
    for members in groups.values():
        members.sort(key=lambda e: (e.ts, e.id))
    return dict(groups), unusable


def tested_biases(groups: dict[str, list[Episode]]) -> list[Bias]:
    """The t test of every group large enough to test, Bonferroni over those groups."""
    tested = {k: g for k, g in groups.items() if len(g) >= MIN_GROUP}
    out = []
    for key, members in sorted(tested.items()):
        values = np.array([e.residual or 0.0 for e in members], dtype=np.float64)
        out.append(
            Bias(
                key,
                tuple(e.id for e in members),
                tuple(float(v) for v in values),
                float(values.mean()),
                float(values.std(ddof=1)),
                t_statistic(values),
                critical_t(len(values), len(tested)),
            )
        )
    return out


def robustness(bias: Bias, sigma: float, trials: int, rng: np.random.Generator) -> float:
    """Fraction of perturbed replays (resample + noise of ``sigma`` x the group's spread) in which
    the bias still clears its critical value with the same sign."""
    if trials <= 0:
        return 1.0
    values = np.array(bias.residuals)
    scale = sigma * bias.sd
    held = 0
    for _ in range(trials):
        sample = rng.choice(values, size=len(values), replace=True)
        if scale > 0:
            sample = sample + rng.normal(0.0, scale, size=len(values))
        t = t_statistic(sample)
        held += 1 if abs(t) >= bias.critical and (t > 0) == (bias.mean > 0) else 0
    return held / trials


class ResidualPatterns:
    """Proposes a staged ``correction`` per context whose predictions are robustly biased."""

    name = "residual_patterns"
    tier = Tier.T0

    def run(self, snap: Snapshot, ctx: Context, carry: Carry) -> Outcome:
        groups, unusable = group_decisions(snap.new_episodes)
        small = sorted(k for k, g in groups.items() if len(g) < MIN_GROUP)
        writes = Writes()
        tested = tested_biases(groups)
        kept = fragile = known = 0
        for done, bias in enumerate(tested):
            if ctx.budget.exhausted():
                return self._done(writes, tested, unusable, small, kept, fragile, left=len(tested) - done)
            if not bias.significant:
                continue
            nrem = ctx.config.nrem
            robust = robustness(bias, nrem.perturbation_sigma, nrem.perturbation_trials, ctx.rng)
            if robust < ROBUST_MIN:
                fragile += 1
                writes.notes.append(Note("residual_bias_fragile", _summary(bias, robust)))
            elif _already_proposed(snap, bias):
                known += 1
            else:
                kept += 1
                writes.entries.append(correction(ctx, bias, robust))
        return self._done(writes, tested, unusable, small, kept, fragile, known=known)

    @staticmethod
    def _done(
        writes: Writes,
        tested: Sequence[Bias],
        unusable: int,
        small: Sequence[str],
        kept: int,
        fragile: int,
        *,
        known: int = 0,
        left: int = 0,
    ) -> Outcome:
        payload = {
            "tested": [_summary(b) for b in tested],
            "proposed": kept,
            "fragile": fragile,
            "already_proposed": known,
            "groups_too_small": list(small),
            "decisions_without_residual": unusable,
        }
        writes.notes.append(Note("residual_patterns", payload))
        did = {"groups": len(tested), "corrections": kept, "fragile": fragile, "skipped": unusable}
        return Outcome(writes, did=did, left={"groups": left} if left else {})


def _summary(bias: Bias, robust: float | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "context": bias.key,
        "n": len(bias.ids),
        "bias": round(bias.mean, 6),
        "t": round(bias.t, 4),
        "critical": round(bias.critical, 4),
    }
    if robust is not None:
        out["robustness"] = robust
    return out


def _already_proposed(snap: Snapshot, bias: Bias) -> bool:
    """A live correction for this context with the same sign already waits for awake evidence."""
    rows = snap.entries_matching(
        EntryQuery(
            kinds=("correction",),
            statuses=(EntryStatus.STAGED, EntryStatus.VALIDATED),
            data_has=(("test.context", bias.key),),
        )
    )
    return any((float(e.data["test"].get("bias", 0.0)) > 0) == (bias.mean > 0) for e in rows)


def correction(ctx: Context, bias: Bias, robust: float) -> Entry:
    """The staged hypothesis: in context ``key`` outcomes run ``bias`` from predictions."""
    label = quoted_label(bias.key)
    text = (
        f"In context '{label}', outcomes run {bias.mean:+.3g} from predictions "
        f"(n={len(bias.ids)}, t={bias.t:.2f}, robust in {robust:.0%} of perturbed replays)."
    )
    data = {
        "test": {
            "type": "residual_bias",
            "context": bias.key,
            "bias": bias.mean,
            "min_abs": MIN_ABS_FRACTION * abs(bias.mean),
        },
        "n": len(bias.ids),
        "t": bias.t,
        "sd": bias.sd,
        "critical": bias.critical,
        "robustness": robust,
    }
    return Entry(
        id=entry_id("correction", text, bias.ids, data),
        kind="correction",
        text=text,
        sources=bias.ids,
        provenance=Provenance.DREAM,
        tier=ctx.tier,
        cycle_id=ctx.cycle_id,
        confidence=ctx.config.lifecycle.hypothesis_confidence,
        status=EntryStatus.STAGED,
        keys=(label, "residual bias", "correction"),
        data=data,
        created_at=ctx.now,
    )
