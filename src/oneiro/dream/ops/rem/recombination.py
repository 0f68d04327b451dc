"""REM creative recombination of replayed decisions and playbook rules, in the three modes of
seed 003 (after Boden's combinational / exploratory / transformational creativity).

* *combinational*: two high-value decisions (each in the top quarter of its own action's recent
  outcomes: solutions that worked) that took different actions in different sessions (never
  replayed together) are joined: the action of one in the context of the other. The store's
  causal model imagines it; when the whole imagined interval clears the outcome the other
  decision really reached, REM proposes that in contexts like it (one standard deviation around
  each feature) the borrowed action does at least as well.
* *exploratory*: one edge of a rule's ``when`` region is moved within the feature's recorded
  range (half and one standard deviation either way). The variant is scored by counterfactual
  re-scoring of the recorded decisions in the part it adds or removes: an added part is kept
  when the imagined interval of the rule's action there clears the rule's ``min_outcome``, a
  removed part when it falls below it (the rule should not fire there).
* *transformational*: one condition of a rule is dropped (the rule would fire on either side of
  the feature's bounds) or a one-sided condition is inverted; scored the same way on the part it
  adds.

Each output is a staged hypothesis whose sources are both parents (the two decisions, or the
recorded decisions in the scored part; the rule's id is in ``data["parents"]``), tested by
``outcome_region`` on the part it speaks of, so later awake decisions confirm or refute it. At most
``rem.recombinations_per_cycle``, taken in turn from the three modes so that none starves the rest.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import replace
from itertools import zip_longest

import numpy as np

from oneiro.dream.ops.rem.decisions import store_model
from oneiro.dream.ops.rem.evidence import outcome_test
from oneiro.dream.ops.rem.rules import Region, Rule, region_mask, rescore, rules_of
from oneiro.dream.ops.rem.scm import CausalModel, outcome_of
from oneiro.dream.ops.rem.staging import live, staged
from oneiro.dream.ops.replay import action_of
from oneiro.dream.ops.revision_proposals import PlaybookView
from oneiro.dream.phase import Carry, Context, Outcome, Snapshot
from oneiro.dream.writes import Note, Writes
from oneiro.model import Entry, Tier, entry_id
from oneiro.screen import quoted_label

#: High-value decisions: outcomes at or above this quantile of their action's recent decisions.
HIGH_VALUE_QUANTILE = 0.75
#: High-value decisions paired per cycle, the most valuable first (pairs grow as its square).
MAX_PARENTS = 24
#: Moves of a rule edge tried by exploration, in standard deviations of the feature.
EXPLORE_STEPS = (-1.0, -0.5, 0.5, 1.0)

Candidate = tuple[str, str, Region, float | None, float | None, list[str], dict[str, object]]


def _fmt(region: Region) -> str:
    parts = []
    for name, (lo, hi) in sorted(region.items()):
        lo_s = "-inf" if lo is None else f"{lo:.3g}"
        hi_s = "+inf" if hi is None else f"{hi:.3g}"
        parts.append(f"{quoted_label(name)} in [{lo_s}, {hi_s}]")
    return ", ".join(parts) or "any context"


def combinational(model: CausalModel, ctx: Context) -> Iterator[Entry]:
    cfg = ctx.config.rem
    if len(model.rows) < 2 or not model.names:
        return
    by_action: dict[str, list[int]] = {}
    for i, ep in enumerate(model.rows):
        by_action.setdefault(action_of(ep) or "", []).append(i)
    best: list[int] = []
    for members in by_action.values():
        cut = float(np.quantile(model.y[members], HIGH_VALUE_QUANTILE))
        best.extend(i for i in members if model.y[i] >= cut)
    high = sorted(best, key=lambda i: (-float(model.y[i]), i))[:MAX_PARENTS]
    for i in high:
        for j in high:
            a, b = model.rows[int(i)], model.rows[int(j)]
            act_a, act_b = action_of(a), action_of(b)
            if act_a is None or act_a == act_b or (a.session and a.session == b.session):
                continue
            im = model.imagine_at(model.X[int(j)], act_a, cfg.interval)
            reached = outcome_of(b)
            if im is None or reached is None or im.low < reached:
                continue
            region: Region = {
                n: (float(model.X[int(j), k] - model.sd[k]), float(model.X[int(j), k] + model.sd[k]))
                for k, n in enumerate(model.names)
            }
            text = (
                f"Recombined: taking '{quoted_label(act_a)}' (as in {a.id[:12]}) in contexts like "
                f"{b.id[:12]} ({_fmt(region)}) is imagined at {im.mean:+.3g}, at least the "
                f"{reached:+.3g} that '{quoted_label(act_b or '?')}' reached there."
            )
            data = {
                "mode": "combinational",
                "test": outcome_test(act_a, region, reached, None),
                "parents": [a.id, b.id],
                "imagined": [im.mean, im.low, im.high],
            }
            yield staged(ctx, "recombination", text, (a.id, b.id), data, ("recombination", "combinational"))


def _scored(
    model: CausalModel, rule: Rule, part: Region, keep_if: str, ctx: Context
) -> tuple[float, list[str]] | None:
    """Counterfactual re-scoring of ``part``: the imagined mean when the rule's action there
    confidently clears (``keep_if="clears"``) or falls below (``"fails"``) its floor."""
    got = rescore(model, rule.action, part, ctx.config.rem.interval)
    if got is None:
        return None
    mean, low, high, ids = got
    if (keep_if == "clears" and low >= rule.min_outcome) or (keep_if == "fails" and high < rule.min_outcome):
        return mean, ids
    return None


def _variant(
    ctx: Context,
    rule: Rule,
    mode: str,
    change: str,
    when: Region,
    part: Region,
    ids: list[str],
    mean: float,
    clears: bool,
) -> Entry:
    verb = "pays" if clears else "fails"
    text = (
        f"Rule variant ({mode}) of {rule.id} ('{quoted_label(rule.text)}'): {change}; taking "
        f"'{quoted_label(rule.action)}' where {_fmt(part)} {verb} (imagined {mean:+.3g} against its "
        f"floor {rule.min_outcome:g})."
    )
    low, high = (rule.min_outcome, None) if clears else (None, rule.min_outcome)
    data = {
        "mode": mode,
        "rule": rule.id,
        "change": change,
        "variant": {k: [v[0], v[1]] for k, v in sorted(when.items())},
        "test": outcome_test(rule.action, part, low, high),
        "parents": [rule.id, *ids[:5]],
        "imagined": mean,
    }
    return staged(ctx, "rule_variant", text, ids, data, ("rule variant", mode, rule.id))


def exploratory(model: CausalModel, rules: list[Rule], ctx: Context) -> Iterator[Entry]:
    for rule in rules:
        for name, (lo, hi) in sorted(rule.region.items()):
            if name not in model.names:
                continue
            k = model.names.index(name)
            sd, seen_lo, seen_hi = float(model.sd[k]), float(model.low[k]), float(model.high[k])
            for side, edge in (("low", lo), ("high", hi)):
                if edge is None or sd <= 0:
                    continue
                for step in EXPLORE_STEPS:
                    moved = min(max(edge + step * sd, seen_lo), seen_hi)
                    if moved == edge:
                        continue
                    widen = moved < edge if side == "low" else moved > edge
                    part: Region = {**rule.region, name: (min(edge, moved), max(edge, moved))}
                    got = _scored(model, rule, part, "clears" if widen else "fails", ctx)
                    if got is None:
                        continue
                    when = {**rule.region, name: (moved, hi) if side == "low" else (lo, moved)}
                    change = f"move the {side} edge of {quoted_label(name)} from {edge:.3g} to {moved:.3g}"
                    yield _variant(ctx, rule, "exploratory", change, when, part, got[1], got[0], widen)


def transformational(model: CausalModel, rules: list[Rule], ctx: Context) -> Iterator[Entry]:
    for rule in rules:
        for name, (lo, hi) in sorted(rule.region.items()):
            rest = {n: e for n, e in rule.region.items() if n != name}
            parts: list[tuple[str, Region, Region]] = []
            if lo is not None:
                parts.append(
                    (f"drop the condition on {quoted_label(name)}", {**rest, name: (None, lo)}, rest)
                )
            if hi is not None:
                parts.append(
                    (f"drop the condition on {quoted_label(name)}", {**rest, name: (hi, None)}, rest)
                )
            if (lo is None) != (hi is None):
                inverted: Region = {**rest, name: (hi, None) if lo is None else (None, lo)}
                parts.append((f"invert the condition on {quoted_label(name)}", inverted, inverted))
            for change, part, when in parts:
                if not region_mask(model, part).any():
                    continue
                got = _scored(model, rule, part, "clears", ctx)
                if got is not None:
                    yield _variant(ctx, rule, "transformational", change, when, part, got[1], got[0], True)


class CreativeRecombination:
    """Stages recombined decisions and rule variants, scored by counterfactual re-scoring."""

    name = "creative_recombination"
    tier = Tier.T0

    def run(self, snap: Snapshot, ctx: Context, carry: Carry) -> Outcome:
        cfg = ctx.config.rem
        model = store_model(snap, ctx)
        items = snap.playbook_items() if isinstance(snap, PlaybookView) else []
        rules = [r for r in rules_of(items)[0] if r.action in model.models]
        modes = (
            combinational(model, ctx),
            exploratory(model, rules, ctx),
            transformational(model, rules, ctx),
        )
        writes = Writes()
        made: dict[str, int] = {"combinational": 0, "exploratory": 0, "transformational": 0}
        seen: set[str] = set()
        exhausted = False
        for turn in zip_longest(*modes):
            if len(writes.entries) >= cfg.recombinations_per_cycle:
                break
            if ctx.budget.exhausted():
                exhausted = True
                break
            for entry in turn:
                if entry is None or len(writes.entries) >= cfg.recombinations_per_cycle:
                    continue
                sig = signature(entry)
                if sig in seen or live(snap, entry.kind, "sig", sig):
                    continue
                seen.add(sig)
                writes.entries.append(_signed(entry, sig))
                made[str(entry.data["mode"])] += 1
        writes.notes.append(
            Note("creative_recombination", {"made": made, "rules": len(rules), "decisions": len(model.rows)})
        )
        return Outcome(
            writes,
            did={**made, "total": len(writes.entries)},
            left={"recombination": 1} if exhausted else {},
        )


def signature(entry: Entry) -> str:
    """What makes two recombinations the same idea, whatever their imagined numbers: the mode,
    the parents (decisions, or the rule), the change and the action tested."""
    d = entry.data
    raw = repr(
        (
            entry.kind,
            d.get("mode"),
            d.get("rule"),
            d.get("change"),
            d["test"].get("action"),
            sorted(d.get("parents", [])) if d.get("mode") == "combinational" else None,
        )
    )
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def _signed(entry: Entry, sig: str) -> Entry:
    data = {**entry.data, "sig": sig}
    return replace(entry, data=data, id=entry_id(entry.kind, entry.text, entry.sources, data))
