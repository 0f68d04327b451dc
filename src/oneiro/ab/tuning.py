"""The strong awake agent's estimator, tuned on seeds that are never reported.

The awake agent with dreaming off is tuned over a small grid of discounts (1.0 is the all-history
mean) and, on a task with an observed context, context bins; the setting with the lowest mean
regret over :data:`TUNING_SEEDS` seeds from :data:`TUNING_FIRST_SEED` is then used, unchanged, by
both the strong awake agent and its dream twin on the reported seeds. The grid is searched with
dreaming off so that the dream cannot pick its own baseline. Reported seeds that overlap the
tuning seeds are refused (tuning on reported seeds would flatter the awake agent).

The search plays :class:`AwakeReplica`, the awake agent's estimator and choice rule without the
store around it: with dreaming off the agent's beliefs are a function of its own choices and
payoffs alone, so the replica makes exactly the agent's choices (a test checks it, step by step)
at a small fraction of the cost; the reported runs always play the real agent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from oneiro.ab.environment import Environment, check_environment, context_of
from oneiro.ab.harness import ABConfig, play, regret, task_environment
from oneiro.errors import InvalidInput

#: Tuning seeds: a block far from the reported seeds 0..N-1.
TUNING_FIRST_SEED = 1000
TUNING_SEEDS = 10
#: Discounts searched (1.0 = no discounting, the naive agent's estimator).
DISCOUNTS = (0.8, 0.9, 0.95, 0.97, 0.98, 0.99, 1.0)
#: Context bins searched on a task with a context (1 = ignore it).
CONTEXT_BINS = (1, 2, 4)


class AwakeReplica:
    """The awake agent (:class:`oneiro.ab.agent.MemoryAgent`, dreaming off) in plain numpy: the
    same discounted, context-binned sums, updated in the same order, the same draws from the
    policy generator, the same tie-breaking."""

    name = "awake-replica"

    def __init__(
        self, arms: int, epsilon: float, discount: float, bins: int, context: Callable[[int], float] | None
    ) -> None:
        self.arms, self.epsilon, self.discount, self.bins, self.context = (
            arms,
            epsilon,
            discount,
            bins,
            context,
        )
        self.sums = np.zeros((bins, arms))
        self.counts = np.zeros((bins, arms))

    def _bin(self, t: int) -> int:
        if self.context is None or self.bins == 1:
            return 0
        return min(max(int(self.context(t) * self.bins), 0), self.bins - 1)

    def choose(self, t: int, rng: np.random.Generator) -> int:
        explore = rng.random() < self.epsilon
        pick = int(rng.integers(self.arms))
        if explore:
            return pick
        b = self._bin(t)
        untried = np.flatnonzero(self.counts[b] == 0)
        if untried.size:
            return int(untried[0])
        return int(np.argmax(self.sums[b] / self.counts[b]))

    def update(self, t: int, action: int, payoff: float) -> None:
        if self.discount < 1.0:
            self.sums *= self.discount
            self.counts *= self.discount
        b = self._bin(t)
        self.sums[b, action] += payoff
        self.counts[b, action] += 1


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
            regrets = [
                regret(task, play(task, replica(task, config, gamma, b), seed, config.steps).actions)
                for seed in range(TUNING_FIRST_SEED, TUNING_FIRST_SEED + seeds)
            ]
            grid.append({"discount": gamma, "bins": b, "regret": float(np.mean(regrets))})
    best = min(grid, key=lambda g: (g["regret"], -g["discount"], g["bins"]))
    return {
        "seeds": list(range(TUNING_FIRST_SEED, TUNING_FIRST_SEED + seeds)),
        "grid": grid,
        "chosen": {"discount": best["discount"], "bins": best["bins"]},
    }


def replica(task: Environment, config: ABConfig, discount: float, bins: int) -> AwakeReplica:
    return AwakeReplica(
        len(task.arms), config.epsilon, discount, bins, context_of(task) if bins > 1 else None
    )


def tuned(config: ABConfig, env: Environment | None = None) -> tuple[ABConfig, dict[str, Any]]:
    """``config`` with the tuned discount and bins, and the tuning record."""
    record = tune(config, env)
    chosen = record["chosen"]
    return replace(config, discount=chosen["discount"], bins=chosen["bins"]), record
