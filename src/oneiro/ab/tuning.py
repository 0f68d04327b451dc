"""The strong awake agent's estimator, tuned on seeds that are never reported.

The awake agent with dreaming off is tuned over a small grid of discounts (1.0 is the all-history
mean) and, on a task with an observed context, context bins; the setting with the lowest mean
regret over :data:`TUNING_SEEDS` seeds from :data:`TUNING_FIRST_SEED` is then used, unchanged, by
both the strong awake agent and its dream twin on the reported seeds. The grid is searched with
dreaming off so that the dream cannot pick its own baseline. Reported seeds that overlap the
tuning seeds are refused (tuning on reported seeds would flatter the awake agent).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from oneiro.ab.environment import Environment, check_environment, context_of
from oneiro.ab.harness import AWAKE, ABConfig, metrics, run_condition, task_environment
from oneiro.errors import InvalidInput

#: Tuning seeds: a block far from the reported seeds 0..N-1.
TUNING_FIRST_SEED = 1000
TUNING_SEEDS = 10
#: Discounts searched (1.0 = no discounting, the naive agent's estimator).
DISCOUNTS = (0.8, 0.9, 0.95, 0.97, 0.98, 0.99, 1.0)
#: Context bins searched on a task with a context (1 = ignore it).
CONTEXT_BINS = (1, 2, 4)


def check_disjoint(config: ABConfig, seeds: int = TUNING_SEEDS) -> None:
    reported = set(range(config.first_seed, config.first_seed + config.seeds))
    tuning = set(range(TUNING_FIRST_SEED, TUNING_FIRST_SEED + seeds))
    if reported & tuning:
        raise InvalidInput(
            f"reported seeds {config.first_seed}..{config.first_seed + config.seeds - 1} overlap the "
            f"tuning seeds {TUNING_FIRST_SEED}..{TUNING_FIRST_SEED + seeds - 1}",
            field="first_seed",
        )


def tune(config: ABConfig, env: Environment | None = None, seeds: int = TUNING_SEEDS) -> dict[str, Any]:
    """The grid, each setting's mean regret on the tuning seeds, and the chosen setting."""
    check_disjoint(config, seeds)
    task = env if env is not None else task_environment(config)
    check_environment(task, config.steps)
    bins = CONTEXT_BINS if context_of(task) is not None else (1,)
    grid: list[dict[str, Any]] = []
    for b in bins:
        for gamma in DISCOUNTS:
            trial = replace(config, discount=gamma, bins=b, conditions=(AWAKE,))
            regrets = [
                metrics(task, run_condition(task, AWAKE, seed, trial))["regret"]
                for seed in range(TUNING_FIRST_SEED, TUNING_FIRST_SEED + seeds)
            ]
            grid.append({"discount": gamma, "bins": b, "regret": float(np.mean(regrets))})
    best = min(grid, key=lambda g: (g["regret"], -g["discount"], g["bins"]))
    return {
        "seeds": list(range(TUNING_FIRST_SEED, TUNING_FIRST_SEED + seeds)),
        "grid": grid,
        "chosen": {"discount": best["discount"], "bins": best["bins"]},
    }


def tuned(config: ABConfig, env: Environment | None = None) -> tuple[ABConfig, dict[str, Any]]:
    """``config`` with the tuned discount and bins, and the tuning record."""
    record = tune(config, env)
    chosen = record["chosen"]
    return replace(config, discount=chosen["discount"], bins=chosen["bins"]), record
