"""Playbook rules as REM can run them: an action recommended inside a region of contexts.

A playbook item is *testable* when its ``params`` name the ``action`` it recommends (a string);
``when`` optionally bounds the contexts it applies to (``{feature: [low, high]}``, either edge may
be null) and ``min_outcome`` is the outcome below which following it counts as failing (0 by
default: a loss). An item without an action (a note, a style rule, a constraint's echo) is
counted untestable and never run. Running a rule is pure: the store's causal model imagines the
outcome of its action in a context (:class:`~oneiro.dream.ops.rem.scm.CausalModel`); nothing is
dispatched, so no effectful pipeline is reached and the gate has nothing to refuse.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from oneiro.dream.ops.rem.evidence import bound
from oneiro.dream.ops.rem.scm import CausalModel

#: The failure line of a rule that states none: an outcome below zero is a loss.
DEFAULT_MIN_OUTCOME = 0.0

Region = dict[str, tuple[float | None, float | None]]


@dataclass(frozen=True)
class Rule:
    """One testable playbook item."""

    id: str
    text: str
    action: str
    region: Region
    min_outcome: float


def _region(raw: Any) -> Region | None:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        return None
    out: Region = {}
    for name, edges in raw.items():
        if not isinstance(name, str) or not isinstance(edges, list | tuple) or len(edges) != 2:
            return None
        out[name] = (bound(edges[0]), bound(edges[1]))
    return out


def rules_of(items: Sequence[Any]) -> tuple[list[Rule], list[str]]:
    """The testable rules among playbook ``items`` and the ids of the others."""
    rules: list[Rule] = []
    untestable: list[str] = []
    for item in items:
        params = getattr(item, "params", None) or {}
        action = params.get("action") if isinstance(params, Mapping) else None
        region = _region(params.get("when")) if isinstance(params, Mapping) else None
        floor = bound(params.get("min_outcome")) if isinstance(params, Mapping) else None
        if not isinstance(action, str) or not action.strip() or region is None:
            untestable.append(str(getattr(item, "id", "?")))
            continue
        rules.append(
            Rule(
                str(item.id),
                str(item.text),
                action.strip(),
                region,
                DEFAULT_MIN_OUTCOME if floor is None else floor,
            )
        )
    return rules, untestable


def region_mask(model: CausalModel, region: Mapping[str, tuple[float | None, float | None]]) -> np.ndarray:
    """Which of the model's recorded decisions lie inside ``region`` (a feature the model does not
    know excludes every decision: the rule speaks of a context the store never recorded)."""
    mask = np.ones(len(model.rows), dtype=bool)
    for name, (lo, hi) in region.items():
        if name not in model.names:
            return np.zeros(len(model.rows), dtype=bool)
        col = model.X[:, model.names.index(name)]
        if lo is not None:
            mask &= col >= lo
        if hi is not None:
            mask &= col <= hi
    return mask


def clip_to(
    model: CausalModel, region: Mapping[str, tuple[float | None, float | None]], x: np.ndarray
) -> np.ndarray:
    """``x`` kept inside the observed range of every feature and inside ``region``."""
    lo = model.low.astype(np.float64).copy()
    hi = model.high.astype(np.float64).copy()
    for name, (a, b) in region.items():
        if name in model.names:
            j = model.names.index(name)
            lo[j] = max(lo[j], a) if a is not None else lo[j]
            hi[j] = min(hi[j], b) if b is not None else hi[j]
    hi = np.maximum(hi, lo)
    return np.asarray(np.clip(x, lo, hi), dtype=np.float64)


def rescore(
    model: CausalModel, action: str, region: Mapping[str, tuple[float | None, float | None]], coverage: float
) -> tuple[float, float, float, list[str]] | None:
    """Counterfactual re-scoring: the mean imagined outcome of ``action`` over the recorded
    decisions inside ``region`` (mean, interval low and high) and their ids; None when no recorded
    decision lies in it or the action has no model."""
    if action not in model.models:
        return None
    mask = region_mask(model, region)
    if not mask.any():
        return None
    sums = [0.0, 0.0, 0.0]
    ids = []
    for i in np.flatnonzero(mask):
        im = model.imagine_at(model.X[i], action, coverage)
        if im is None:
            return None
        sums = [sums[0] + im.mean, sums[1] + im.low, sums[2] + im.high]
        ids.append(model.rows[i].id)
    n = len(ids)
    out = (sums[0] / n, sums[1] / n, sums[2] / n)
    return (*out, ids) if all(math.isfinite(v) for v in out) else None
