"""Threat simulation: does it find a planted fragile rule, and does it leave a robust one alone?

Each seeded run builds a store of decisions over one feature ``x`` in [0, 1] and a playbook of
two rules, both "always take A":

* the *fragile* rule's action was only ever taken at low x (up to a random edge in [0.3, 0.5]),
  where it pays; its payoff falls with a random slope in [-4, -2], so that one standard
  deviation of x beyond the edge it loses (a plausible perturbation: the store recorded such x,
  for the other action);
* the *robust* rule's action was taken across [0, 1] and pays a random intercept in [0.3, 1.0]
  with a random slope in [-0.2, 0.2] (positive everywhere).

Noise is Gaussian with a random sd in [0.1, 0.3]; 40 decisions per action. Figures: the share of
runs in which the fragile rule is flagged (goal >= 95%) and the robust one (goal <= 5%), over
``RUNS`` seeds (>= 100). Run: ``PYTHONPATH=src python bench/rem_threats.py``.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from oneiro.dream.ops.rem.threats import ThreatSimulation
from oneiro.playbook import Item
from rem_common import context, open_memory, snapshot, write

RUNS = 120
PER_ACTION = 40


def one(seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    edge = float(rng.uniform(0.3, 0.5))
    slope = float(rng.uniform(-4.0, -2.0))
    # Pays 0.2 at the edge: positive wherever it was taken, below zero 0.1 past it at slope -2.
    intercept = 0.2 - slope * edge
    robust_b, robust_m = float(rng.uniform(0.3, 1.0)), float(rng.uniform(-0.2, 0.2))
    sd = float(rng.uniform(0.1, 0.3))
    memory, clock = open_memory()
    records = []
    for k, (action, lo, hi, law) in enumerate(
        [
            ("fragile", 0.0, edge, lambda x: intercept + slope * x),
            ("robust", 0.0, 1.0, lambda x: robust_b + robust_m * x),
        ]
    ):
        for i in range(PER_ACTION):
            x = float(rng.uniform(lo, hi))
            records.append(
                {
                    "ts": clock() - 86_400 + 10 * (k * PER_ACTION + i),
                    "session": f"s-{action}",
                    "kind": "decision",
                    "text": f"{action} at {x:.3f}",
                    "data": {"action": action},
                    "context": {"x": x},
                    "prediction": 0.0,
                    "outcome": law(x) + sd * float(rng.standard_normal()),
                }
            )
    eps = memory.record_many(records)
    memory.store.replace_playbook_items(
        [
            Item("r-fragile", "Rules", "Always take fragile", {"action": "fragile"}),
            Item("r-robust", "Rules", "Always take robust", {"action": "robust"}),
        ]
    )
    t = time.perf_counter()
    out = ThreatSimulation().run(snapshot(memory, eps), context(memory, seed), _carry())
    seconds = time.perf_counter() - t
    memory.close()
    found = {f["rule"] for f in out.carry.threats or [] if isinstance(f, dict)}
    return {
        "seed": seed,
        "fragile_found": "r-fragile" in found,
        "robust_flagged": "r-robust" in found,
        "seconds": seconds,
        "edge": edge,
        "slope": slope,
        "sd": sd,
    }


def _carry() -> Any:
    from oneiro.dream.phase import Carry

    return Carry()


def main() -> None:
    runs = [one(seed) for seed in range(RUNS)]
    result = {
        "runs": RUNS,
        "fragile_found_rate": sum(r["fragile_found"] for r in runs) / RUNS,
        "robust_flagged_rate": sum(r["robust_flagged"] for r in runs) / RUNS,
        "median_seconds_per_run": float(np.median([r["seconds"] for r in runs])),
        "per_run": runs,
    }
    write("rem_threats", result)


if __name__ == "__main__":
    main()
