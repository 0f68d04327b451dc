"""Strategy evolution on the regime-switching task (``oneiro.ab``'s built-in environment): how far
the stored concentration vector is from the true best mix before and after each dream, and the
regret of an agent that allocates by it, with and without the replicator step (same seeds).

The agent samples each step's arm from the live ``strategy_mix`` (uniform before the first one),
records the decision (action, outcome) and dreams every ``--dream-every`` steps: a real cycle, in
which REM imagines each arm's return over the replayed decisions and EVOLUTION takes one
replicator step. The twin without the step allocates uniformly throughout (what the agent does
with no mix), on the same seeds and payoff draws. The true best mix at step t puts all weight on
the best arm; L1 distance is sum |c_i - best_i| (2 is as far as it gets).

``--step`` overrides the replicator step (the seed's 0.01 by default) to show how the figure
depends on it; results record the step used.

Run: ``nice python bench/evolution_regimes.py --seeds 20 --steps 400 --dream-every 50``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

import oneiro
from oneiro.ab.environment import best_arm, default_environment, optimal_mean
from oneiro.dream.ops.evolution.strategy import LIVE_MIX
from oneiro.memory import Memory

OUT = Path(__file__).resolve().parent / "results" / "evolution_regimes.json"
EPOCH = 1_772_000_000.0


def mix_of(memory: Memory, arms: list[str]) -> np.ndarray:
    live = memory.store.entries_matching(LIVE_MIX)
    if not live:
        return np.full(len(arms), 1.0 / len(arms))
    conc = max(live, key=lambda e: (e.created_at, e.id)).data.get("concentrations", {})
    c = np.array([float(conc.get(a, 0.0)) for a in arms])
    return c / c.sum() if c.sum() > 0 else np.full(len(arms), 1.0 / len(arms))


def l1(c: np.ndarray, best: int) -> float:
    target = np.zeros_like(c)
    target[best] = 1.0
    return float(np.abs(c - target).sum())


def one_seed(seed: int, steps: int, every: int, step_size: float, evolve: bool) -> dict[str, Any]:
    env = default_environment(steps)
    arms = list(env.arms)
    rng = np.random.default_rng(seed)
    t_now = [EPOCH]
    overrides = {"evolution": {"replicator_step": step_size}}
    regret, dreams = 0.0, []
    with oneiro.open(":memory:", embedder="hashing", clock=lambda: t_now[0], overrides=overrides) as m:
        c = np.full(len(arms), 1.0 / len(arms))
        for t in range(steps):
            t_now[0] = EPOCH + 60.0 * t
            a = int(rng.choice(len(arms), p=c))
            payoff = env.step(t, a, rng)
            regret += optimal_mean(env, t) - env.mean(t, a)
            if not evolve:
                continue
            m.record(
                {
                    "text": f"chose {arms[a]}: payoff {payoff:+.3f}",
                    "kind": "decision",
                    "actor": "agent",
                    "session": f"s{t // every}",
                    "data": {"action": arms[a], "step": t},
                    "outcome": payoff,
                }
            )
            if (t + 1) % every == 0:
                before = l1(c, best_arm(env, t))
                m.dream(reason="scheduled")
                c = mix_of(m, arms)
                dreams.append({"step": t, "l1_before": before, "l1_after": l1(c, best_arm(env, t))})
    return {"seed": seed, "regret": regret, "dreams": dreams}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--dream-every", type=int, default=50)
    parser.add_argument("--step", type=float, nargs="+", default=[0.01])
    args = parser.parse_args()
    rows = []
    for step_size in args.step:
        t0 = time.perf_counter()
        with_step = [one_seed(s, args.steps, args.dream_every, step_size, True) for s in range(args.seeds)]
        without = [one_seed(s, args.steps, args.dream_every, step_size, False) for s in range(args.seeds)]
        deltas = [d["l1_after"] - d["l1_before"] for r in with_step for d in r["dreams"]]
        rows.append(
            {
                "replicator_step": step_size,
                "seeds": args.seeds,
                "steps": args.steps,
                "dream_every": args.dream_every,
                "l1_before_mean": float(np.mean([d["l1_before"] for r in with_step for d in r["dreams"]])),
                "l1_after_mean": float(np.mean([d["l1_after"] for r in with_step for d in r["dreams"]])),
                "l1_change_per_dream_mean": float(np.mean(deltas)),
                "dreams_that_moved_closer": float(np.mean([d < 0 for d in deltas])),
                "regret_with_step_mean": float(np.mean([r["regret"] for r in with_step])),
                "regret_without_step_mean": float(np.mean([r["regret"] for r in without])),
                "regret_ratio": float(
                    np.mean([r["regret"] for r in with_step]) / np.mean([r["regret"] for r in without])
                ),
                "per_seed_regret": [
                    [a["regret"], b["regret"]] for a, b in zip(with_step, without, strict=True)
                ],
                "seconds": round(time.perf_counter() - t0, 1),
            }
        )
        print(json.dumps({k: v for k, v in rows[-1].items() if k != "per_seed_regret"}))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
