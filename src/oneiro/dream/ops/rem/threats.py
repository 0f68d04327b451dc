"""REM threat simulation: the active playbook run against imagined bad days (seed 003, seed 000).

For each testable rule (:mod:`~oneiro.dream.ops.rem.rules`) the store's causal model imagines the
outcome of the rule's action in scenarios built from recorded contexts (at most
``rem.threat_contexts`` of those inside the rule's region, sampled with ``ctx.rng``):

* *tail* scenarios: the contexts of the decisions (of any action) whose residuals lie in the
  tail of the store's residual distribution (the largest ``rem.tail_quantile`` share of |outcome
  - prediction|, the model's own expectation standing in for a missing prediction): the
  situations the agent understood worst, moved into the rule's region if they lie outside it;
* *adversarial* scenarios: each recorded context pushed ``rem.perturbation_sd`` standard
  deviations along every feature in the direction that lowers the action's imagined outcome (the
  sign of its mean slope), clipped to the range the store has recorded and to the rule's region:
  a context the store could plausibly meet, where the rule still fires.

A rule *fails* in a scenario when even the upper end of the imagined 90% interval lies below the
rule's ``min_outcome``: a confident failure of the expected outcome, not one unlucky draw, so that
a robust rule is rarely flagged. The gap analysis lists, per rule, the
scenarios tested and failed, the worst imagined outcome and its shortfall; its severity is the
share of scenarios failed. A failing rule becomes a ``threat`` hypothesis (staged, sourced on the
recorded decisions its failing scenarios came from, tested by ``outcome_region``: a later awake
decision taking the action in the failing region whose outcome falls below the floor confirms
it) and a finding in ``Carry.threats``, which the waking brief lists. ``Carry.threat_search``
says what was looked for, also when nothing could be (an empty playbook, no rule naming an
action, no model of a rule's action).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from oneiro.dream.ops.rem.decisions import store_model
from oneiro.dream.ops.rem.evidence import outcome_test
from oneiro.dream.ops.rem.rules import Region, Rule, clip_to, region_mask, rules_of
from oneiro.dream.ops.rem.scm import MAX_MAGNITUDE, CausalModel
from oneiro.dream.ops.rem.staging import live, staged
from oneiro.dream.ops.replay import action_of
from oneiro.dream.ops.revision_proposals import PlaybookView
from oneiro.dream.phase import Carry, Context, JsonObject, Outcome, Snapshot
from oneiro.dream.writes import Note, Writes
from oneiro.model import Entry, Tier
from oneiro.screen import quoted_label

#: Failing scenarios listed per threat (the rest are counted).
MAX_LISTED = 10


@dataclass
class Gap:
    """One rule's gap analysis."""

    rule: Rule
    tested: int = 0
    failures: list[JsonObject] = field(default_factory=list)
    worst: float | None = None
    failing_x: list[np.ndarray] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)

    @property
    def severity(self) -> float:
        return len(self.failures) / self.tested if self.tested else 0.0

    def summary(self) -> JsonObject:
        return {
            "rule": self.rule.id,
            "action": self.rule.action,
            "tested": self.tested,
            "failed": len(self.failures),
            "severity": round(self.severity, 6),
            "worst": None if self.worst is None else round(self.worst, 6),
            "shortfall": None
            if self.worst is None
            else round(max(0.0, self.rule.min_outcome - self.worst), 6),
            "scenarios": self.failures[:MAX_LISTED],
        }


def residuals(model: CausalModel) -> np.ndarray:
    """|residual| of every recorded decision: ``outcome - prediction`` when it carries a finite
    prediction, else its distance from its own action's modelled expectation (0 without one)."""
    out = np.zeros(len(model.rows), dtype=np.float64)
    for i, ep in enumerate(model.rows):
        r = ep.residual
        if r is not None and np.isfinite(r) and abs(r) <= MAX_MAGNITUDE:
            out[i] = abs(r)
            continue
        om = model.models.get(action_of(ep) or "")
        if om is not None:
            fitted = float(om.coef @ model.X[i]) + om.intercept if om.coef.size else om.intercept
            out[i] = abs(float(model.y[i]) - fitted) if np.isfinite(fitted) else 0.0
    return out


def tail_contexts(model: CausalModel, ctx: Context) -> np.ndarray:
    """Indices of the decisions in the residual tail (at least one, at most ``threat_contexts``)."""
    cfg = ctx.config.rem
    r = residuals(model)
    n = min(cfg.threat_contexts, max(1, int(np.ceil(cfg.tail_quantile * len(r)))))
    return np.argsort(-r, kind="stable")[:n]


def simulate(model: CausalModel, rule: Rule, ctx: Context, tail: np.ndarray) -> Gap:
    """Run ``rule`` through its tail and adversarial scenarios (module docstring)."""
    cfg = ctx.config.rem
    om = model.models[rule.action]
    gap = Gap(rule)
    inside = np.flatnonzero(region_mask(model, rule.region))
    if inside.size > cfg.threat_contexts:
        inside = np.sort(ctx.rng.choice(inside, size=cfg.threat_contexts, replace=False))
    step = -np.sign(om.coef) * cfg.perturbation_sd * model.sd if om.coef.size else np.zeros(0)
    scenarios: list[tuple[str, np.ndarray, str]] = [
        ("tail", clip_to(model, rule.region, model.X[i]), model.rows[i].id) for i in tail
    ]
    for i in inside:
        base = model.X[i]
        pushed = clip_to(model, rule.region, base + step) if step.size else base
        if not np.allclose(pushed, base):
            scenarios.append(("adversarial", pushed, model.rows[i].id))
    for kind, x, source in scenarios:
        im = model.imagine_at(x, rule.action, cfg.interval)
        if im is None:
            continue
        gap.tested += 1
        gap.worst = im.mean if gap.worst is None else min(gap.worst, im.mean)
        if im.high < rule.min_outcome:
            gap.failures.append(
                {
                    "kind": kind,
                    "from": source,
                    "context": {n: round(float(v), 6) for n, v in zip(model.names, x, strict=True)},
                    "imagined": round(im.mean, 6),
                }
            )
            gap.failing_x.append(x)
            gap.sources.append(source)
    return gap


def failing_region(model: CausalModel, gap: Gap, step: np.ndarray) -> Region:
    """The contexts the threat speaks of: the rule's region, narrowed on each pushed feature to
    the side of its failing contexts the adversary pushed towards."""
    region: Region = dict(gap.rule.region)
    xs = np.vstack(gap.failing_x)
    for j, name in enumerate(model.names):
        lo, hi = region.get(name, (None, None))
        if j < step.size and step[j] > 0:
            region[name] = (float(xs[:, j].min()), hi)
        elif j < step.size and step[j] < 0:
            region[name] = (lo, float(xs[:, j].max()))
    return region


def threat_entry(ctx: Context, model: CausalModel, gap: Gap) -> Entry:
    rule = gap.rule
    om = model.models[rule.action]
    step = -np.sign(om.coef) if om.coef.size else np.zeros(0)
    text = (
        f"Playbook rule {rule.id} ('{quoted_label(rule.text)}') fails in {len(gap.failures)} of "
        f"{gap.tested} simulated scenarios: taking '{quoted_label(rule.action)}' is imagined at "
        f"{gap.worst:+.3g} at worst, below its floor {rule.min_outcome:g}."
    )
    data: dict[str, Any] = {
        "test": outcome_test(rule.action, failing_region(model, gap, step), None, rule.min_outcome),
        "rule": rule.id,
        "parents": [rule.id],
        **{k: v for k, v in gap.summary().items() if k != "rule"},
    }
    return staged(ctx, "threat", text, gap.sources, data, ("threat", rule.id, quoted_label(rule.action)))


class ThreatSimulation:
    """Runs the active playbook against simulated scenarios and stages the threats it finds."""

    name = "threat_simulation"
    tier = Tier.T0

    def run(self, snap: Snapshot, ctx: Context, carry: Carry) -> Outcome:
        items = snap.playbook_items() if isinstance(snap, PlaybookView) else []
        rules, untestable = rules_of(items)
        search: JsonObject = {"rules": len(rules), "untestable": untestable, "scenarios": 0, "found": 0}
        if not rules:
            search["why"] = (
                "the playbook is empty: nothing to test"
                if not items
                else "no playbook rule names an action: nothing to run"
            )
            return self._done(Writes(), [], search, {"rules": 0})
        cfg = ctx.config.rem
        model = store_model(snap, ctx)
        gaps: list[Gap] = []
        unmodelled = [r.id for r in rules if r.action not in model.models]
        runnable = [r for r in rules if r.action in model.models]
        done = 0
        tail = tail_contexts(model, ctx) if runnable else np.zeros(0, dtype=np.int64)
        for rule in runnable:
            if ctx.budget.exhausted():
                break
            gaps.append(simulate(model, rule, ctx, tail))
            done += 1
        search.update(
            scenarios=sum(g.tested for g in gaps),
            unmodelled=unmodelled,
            gaps=[g.summary() for g in gaps],
        )
        failing = sorted((g for g in gaps if g.failures), key=lambda g: (-g.severity, g.rule.id))
        search["found"] = len(failing)
        if unmodelled and not runnable:
            search["why"] = "no rule's action has enough recorded decisions to imagine its outcome"
        writes = Writes()
        findings: list[JsonObject] = []
        for gap in failing[: cfg.max_threats]:
            entry = threat_entry(ctx, model, gap)
            if not live(snap, "threat", "rule", gap.rule.id):
                writes.entries.append(entry)
            findings.append({"text": entry.text, "entry": entry.id, **gap.summary()})
        left = {"rules": len(runnable) - done} if done < len(runnable) else {}
        did = {"rules": done, "scenarios": int(search["scenarios"]), "threats": len(findings)}
        return self._done(writes, findings, search, did, left)

    @staticmethod
    def _done(
        writes: Writes,
        findings: list[JsonObject],
        search: JsonObject,
        did: dict[str, int],
        left: dict[str, int] | None = None,
    ) -> Outcome:
        writes.notes.append(Note("threat_simulation", dict(search)))
        brief_search = {k: v for k, v in search.items() if k != "gaps"}
        return Outcome(
            writes, carry=Carry(threats=list(findings), threat_search=brief_search), did=did, left=left or {}
        )
