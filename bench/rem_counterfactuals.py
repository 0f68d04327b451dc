"""Counterfactual imagination on the regime-switching task of ``oneiro ab``, where the simulator
knows the true counterfactual payoffs.

Per seed: the built-in environment (five strategies, four regimes, Gaussian noise 0.2) over
``STEPS`` steps; an epsilon-greedy player (the ab agent's rule: epsilon 0.1, stationary running
means) records each step as the ab agent records it (``context = {"key": arm}``, ``data =
{"action": arm, "step": t}``, prediction and outcome). Every ``CYCLE`` steps REM's
counterfactual operation runs over the store (its causal model fitted on the latest
``rem.model_window`` episodes) and imagines, for each of the cycle's decisions and each modelled
strategy a', the expected payoff under do(action = a') with its 90% interval. The truth is the
environment's mean of a' at that decision's step. Figures, over every (decision, strategy) pair
of ``SEEDS`` seeds: mean absolute error of the imagined means and coverage of the 90% intervals
(goal 0.85-0.95), for the default window and for windows as short as a cycle or two: the task
is non-stationary and the model has no feature that tells regimes apart, so what it imagines is
the window's average payoff. A stationary control (the first regime throughout, default window)
shows the intervals' calibration when the model's assumption holds.
Run: ``PYTHONPATH=src python bench/rem_counterfactuals.py``.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np

from oneiro.ab.environment import (
    DEFAULT_ARMS,
    DEFAULT_NOISE,
    DEFAULT_REGIMES,
    RegimeSwitching,
    default_environment,
)
from oneiro.config import Config
from oneiro.dream.ops.rem.counterfactuals import Counterfactuals
from oneiro.dream.phase import Carry
from rem_common import context, open_memory, snapshot, write

SEEDS = 20
STEPS = 400
CYCLE = 50
EPSILON = 0.1
WINDOWS = (5_000, 100, 50)


def run(seed: int, window: int, stationary: bool = False) -> dict[str, Any]:
    env = (
        RegimeSwitching(DEFAULT_ARMS, DEFAULT_REGIMES[:1], (), DEFAULT_NOISE)
        if stationary
        else default_environment(STEPS)
    )
    rng = np.random.default_rng(seed)
    memory, clock = open_memory()
    config = dataclasses.replace(Config(), rem=dataclasses.replace(Config().rem, model_window=window))
    sums = np.zeros(len(env.arms))
    counts = np.zeros(len(env.arms))
    errors: list[float] = []
    covered: list[bool] = []
    seconds: list[float] = []
    batch: list[dict[str, Any]] = []
    for t in range(STEPS):
        if rng.random() < EPSILON or counts.min() == 0:
            arm = int(rng.integers(len(env.arms))) if counts.min() > 0 else int(np.argmin(counts))
        else:
            arm = int(np.argmax(sums / np.maximum(counts, 1)))
        payoff = env.step(t, arm, rng)
        estimate = float(sums[arm] / counts[arm]) if counts[arm] else 0.0
        sums[arm] += payoff
        counts[arm] += 1
        name = env.arms[arm]
        batch.append(
            {
                "ts": clock() + t * 3600.0,
                "session": f"day-{t // 24}",
                "actor": "agent",
                "kind": "decision",
                "text": f"chose {name}: payoff {payoff:+.3f}",
                "context": {"key": name},
                "data": {"action": name, "step": t},
                "prediction": estimate,
                "outcome": payoff,
            }
        )
        if (t + 1) % CYCLE:
            continue
        new = memory.record_many(batch)
        batch = []
        began = time.perf_counter()
        out = Counterfactuals().run(
            snapshot(memory, new, f"c{t}"), context(memory, seed * 1000 + t, config, f"c{t}"), Carry()
        )
        seconds.append(time.perf_counter() - began)
        for finding in out.carry.counterfactuals or []:
            assert isinstance(finding, dict)
            step = int(memory.store.episodes([finding["episode"]])[finding["episode"]].data["step"])
            for action, im in finding["do"].items():
                truth = env.mean(step, list(env.arms).index(action))
                errors.append(abs(im["mean"] - truth))
                covered.append(im["low"] <= truth <= im["high"])
    memory.close()
    return {"errors": errors, "covered": covered, "seconds": seconds}


def main() -> None:
    result: dict[str, Any] = {
        "seeds": SEEDS,
        "steps": STEPS,
        "cycle": CYCLE,
        "epsilon": EPSILON,
        "windows": {},
    }
    for stationary, window in [(False, w) for w in WINDOWS] + [(True, WINDOWS[0])]:
        runs = [run(seed, window, stationary) for seed in range(SEEDS)]
        errors = [e for r in runs for e in r["errors"]]
        covered = [c for r in runs for c in r["covered"]]
        per_seed = [float(np.mean(r["covered"])) for r in runs if r["covered"]]
        result["windows"][f"{window}{' stationary' if stationary else ''}"] = {
            "pairs": len(errors),
            "mae": float(np.mean(errors)) if errors else None,
            "coverage_90": float(np.mean(covered)) if covered else None,
            "coverage_per_seed_median": float(np.median(per_seed)) if per_seed else None,
            "median_seconds_per_cycle": float(np.median([s for r in runs for s in r["seconds"]])),
        }
    write("rem_counterfactuals", result)
    print(result["windows"])


if __name__ == "__main__":
    main()
