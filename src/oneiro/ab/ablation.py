"""Leave-one-out and add-one-in ablations over the dream's operations, by name.

The units are read from the registration door (:meth:`oneiro.plugins.Registry.operation_names`):
every phase that holds operations, except ONSET and RETURN (the plumbing that collects the
residue and activates what a cycle staged: without them no dream output is ever visible, so
removing them measures nothing about a mechanism). An operation registered later, by oneiro or a
plugin, becomes part of its phase's unit, and a caller may name single operations as units too.
A unit is removed through the supported option ``Config.disabled_operations``.

* leave-one-out: the strong dream twin without the unit vs the full dream twin; effect =
  regret(without) - regret(full): positive means the unit helps.
* add-one-in: the strong awake agent plus that unit only vs the awake agent (dreaming off);
  effect = regret(awake) - regret(with only it): positive means the unit helps on its own.

Every effect is paired per seed (bootstrap CI, Wilcoxon p) and the family of a benchmark is
Holm-corrected (:mod:`oneiro.ab.stats`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from oneiro.ab.environment import Environment, check_environment
from oneiro.ab.harness import AWAKE, DREAM_AWAKE, ABConfig, metrics, run_condition, task_environment
from oneiro.ab.stats import ALPHA, holm, paired
from oneiro.dream.phase import PhaseName
from oneiro.errors import InvalidInput
from oneiro.plugins import Registry

#: Phases that are plumbing, not mechanisms (see the module docstring).
PLUMBING = (PhaseName.ONSET, PhaseName.RETURN)
FULL = "full"
LOO, AOI = "leave-one-out", "add-one-in"


def default_units(registry: Registry | None = None) -> list[str]:
    """Every phase with operations, plumbing aside, in cycle order."""
    names = (registry or Registry()).operation_names()
    return [p.value for p, ops in names.items() if ops and p not in PLUMBING]


def check_units(units: Sequence[str], registry: Registry | None = None) -> list[str]:
    """The units, refused when empty, repeated, or naming no phase or operation oneiro knows."""
    names = (registry or Registry()).operation_names()
    known_ops = {op for ops in names.values() for op in ops}
    phases = {p.value for p, ops in names.items() if ops and p not in PLUMBING}
    unknown = [u for u in units if u not in phases and u not in known_ops]
    if unknown:
        raise InvalidInput(
            f"unknown dream operations {unknown}; phases: {', '.join(sorted(phases))}; "
            f"operations: {', '.join(sorted(known_ops))}",
            field="ablate",
        )
    if not units or len(set(units)) != len(units):
        raise InvalidInput("needs at least one unit, each named once", field="ablate")
    return list(units)


def ablation_conditions(units: Sequence[str]) -> dict[str, tuple[str, tuple[str, ...]]]:
    """Condition label -> (harness condition, disabled units)."""
    out: dict[str, tuple[str, tuple[str, ...]]] = {FULL: (DREAM_AWAKE, ()), AWAKE: (AWAKE, ())}
    for unit in units:
        out[f"{LOO}:{unit}"] = (DREAM_AWAKE, (unit,))
        out[f"{AOI}:{unit}"] = (DREAM_AWAKE, tuple(u for u in units if u != unit))
    return out


def run_ablation(
    config: ABConfig,
    units: Sequence[str] | None = None,
    env: Environment | None = None,
    progress: Callable[[str, int], None] | None = None,
) -> dict[str, Any]:
    """Every ablation condition on every seed of ``config``; effects with CIs, Holm-corrected."""
    chosen = check_units(list(units) if units is not None else default_units())
    task = env if env is not None else task_environment(config)
    check_environment(task, config.steps)
    conditions = ablation_conditions(chosen)
    per_seed: dict[str, dict[str, list[float]]] = {c: {} for c in conditions}
    for seed in range(config.first_seed, config.first_seed + config.seeds):
        for label, (condition, disabled) in conditions.items():
            run = run_condition(task, condition, seed, replace(config, disabled=disabled))
            for name, value in metrics(task, run).items():
                per_seed[label].setdefault(name, []).append(value)
            if progress is not None:
                progress(label, seed)
    effects: list[dict[str, Any]] = []
    for unit in chosen:
        loo, aoi = per_seed[f"{LOO}:{unit}"]["regret"], per_seed[f"{AOI}:{unit}"]["regret"]
        effects.append({"unit": unit, "ablation": LOO, **paired(loo, per_seed[FULL]["regret"])})
        effects.append({"unit": unit, "ablation": AOI, **paired(per_seed[AWAKE]["regret"], aoi)})
    for effect, q in zip(effects, holm([e["p"] for e in effects]), strict=True):
        effect["holm_p"] = q
        effect["verdict"] = _verdict(effect)
    return {
        "config": {**_plain(config), "units": chosen},
        "seeds_run": list(range(config.first_seed, config.first_seed + config.seeds)),
        "conditions": {
            label: {"disabled": list(conditions[label][1]), "per_seed": values}
            for label, values in per_seed.items()
        },
        "effects": effects,
        "effect_sign": "positive = the unit lowers regret (helps)",
    }


def _verdict(effect: dict[str, Any]) -> str:
    if effect["holm_p"] >= ALPHA:
        return "no detectable effect"
    return "helps" if effect["mean"] > 0 else "hurts"


def _plain(config: ABConfig) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(config)
