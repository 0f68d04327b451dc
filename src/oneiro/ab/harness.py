"""The falsifiability harness: twins from one seed, dreaming on vs off, beside published anchors.

For every seed, each condition plays the same task for the same number of steps. The payoff noise
at step ``t`` comes from a generator seeded by ``(seed, t)`` alone (common random numbers), so two
conditions that choose alike see identical payoffs; the twins also share their policy generator.
The only difference between the twins is ``dreaming`` (see :mod:`oneiro.ab.agent`).

Reproducibility limit: a cycle seeds its own RNG from its id, which carries a random suffix, so the
dream's stochastic steps (perturbed replay) are not fixed by the harness seed; the dream twin's
per-seed values can differ slightly between runs while everything else repeats exactly.

Metrics per run: cumulative pseudo-regret, time to adapt after each switch, worst drawdown of the
cumulative payoff. Across seeds: percentile-bootstrap confidence intervals (Efron & Tibshirani
1993, ch. 13), the paired dream - no-dream difference and the dream / no-dream regret ratio.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from oneiro.ab.agent import DREAM_READS, EPSILON, MemoryAgent, SimClock, session_of
from oneiro.ab.anchors import DiscountedThompson, Policy, SlidingWindowUCB, sw_ucb_window
from oneiro.ab.environment import Environment, best_arm, check_environment, default_environment
from oneiro.errors import InvalidInput
from oneiro.memory import open_memory
from oneiro.store.query import EntryQuery

#: Bootstrap resamples: 10,000 keeps the percentile endpoints stable to about 0.01 of a CI width.
BOOTSTRAP_RESAMPLES = 10_000
#: Two-sided confidence level of every interval reported.
CONFIDENCE = 0.95
#: Fixed so reruns print identical intervals for identical per-seed values.
BOOTSTRAP_SEED = 20_240_101
#: Adaptation: the new best arm must exceed this share of the last ADAPT_WINDOW choices.
ADAPT_THRESHOLD = 0.5
ADAPT_WINDOW = 20
#: Built-in defaults, sized for a few minutes on two cores with the hashing embedder.
DEFAULT_SEEDS = 20
DEFAULT_STEPS = 600
#: The dream twin dreams once per simulated day (every session), as a nightly scheduler would.
DEFAULT_DREAM_EVERY = 24
#: Goal the harness reports against: dream regret <= this x no-dream regret, and <= SW-UCB's.
GOAL_RATIO = 0.7
NO_DREAM, DREAM, SW_UCB, D_TS = "no-dream", "dream", "sw-ucb", "d-ts"
CONDITIONS = (NO_DREAM, DREAM, SW_UCB, D_TS)
METRICS = ("regret", "adaptation", "drawdown")
_NOISE_STREAM, _POLICY_STREAM = 1, 2


@dataclass(frozen=True)
class ABConfig:
    """One harness run. ``conditions`` is any subset of :data:`CONDITIONS`."""

    seeds: int = DEFAULT_SEEDS
    steps: int = DEFAULT_STEPS
    dream_every: int = DEFAULT_DREAM_EVERY
    embedder: str = "hashing"
    epsilon: float = EPSILON
    conditions: tuple[str, ...] = CONDITIONS
    first_seed: int = 0
    reads: tuple[str, ...] = DREAM_READS

    def __post_init__(self) -> None:
        for name in ("seeds", "steps", "dream_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidInput(f"must be a positive integer, got {value!r}", field=name)
        if not 0.0 <= self.epsilon <= 1.0:
            raise InvalidInput(f"must lie in [0, 1], got {self.epsilon}", field="epsilon")
        odd = [r for r in self.reads if r not in DREAM_READS]
        if odd:
            raise InvalidInput(f"unknown entry kinds {odd}; known: {list(DREAM_READS)}", field="reads")
        unknown = [c for c in self.conditions if c not in CONDITIONS]
        if unknown or not self.conditions:
            raise InvalidInput(
                f"unknown or no conditions {unknown}; known: {list(CONDITIONS)}", field="conditions"
            )


@dataclass
class Run:
    """One condition on one seed: what it chose and earned, and what it cost."""

    actions: np.ndarray
    payoffs: np.ndarray
    seconds: float
    extra: dict[str, Any] = field(default_factory=dict)


def play(
    env: Environment, policy: Policy, seed: int, steps: int, after: Callable[[int], None] | None = None
) -> Run:
    """Run ``policy`` for ``steps`` steps; payoff noise depends only on (seed, t)."""
    rng = np.random.default_rng([seed, _POLICY_STREAM])
    actions = np.zeros(steps, dtype=np.int64)
    payoffs = np.zeros(steps)
    start = time.perf_counter()
    for t in range(steps):
        action = policy.choose(t, rng)
        payoff = env.step(t, action, np.random.default_rng([seed, t, _NOISE_STREAM]))
        policy.update(t, action, payoff)
        actions[t], payoffs[t] = action, payoff
    return Run(actions, payoffs, time.perf_counter() - start)


def run_condition(env: Environment, condition: str, seed: int, config: ABConfig) -> Run:
    """Play one condition on one seed; the twins each get a fresh in-memory store."""
    arms = len(env.arms)
    if condition == SW_UCB:
        window = sw_ucb_window(config.steps, len(env.switches))
        return play(env, SlidingWindowUCB(arms, window, env.payoff_range), seed, config.steps)
    if condition == D_TS:
        return play(env, DiscountedThompson(arms, env.payoff_range), seed, config.steps)
    clock = SimClock()
    with open_memory(":memory:", embedder=config.embedder, clock=clock) as memory:
        agent = MemoryAgent(
            memory,
            env.arms,
            clock,
            dreaming=condition == DREAM,
            dream_every=config.dream_every,
            epsilon=config.epsilon,
            reads=config.reads,
        )
        run = play(env, agent, seed, config.steps)
        run.extra = {
            "dreams": agent.dreams,
            "entries": sum(memory.store.entry_counts().values()),
            "entry_kinds": _entry_kinds(memory.store.entries_matching(EntryQuery())),
            "corrections_folded": len(agent.beliefs.folded),
            "summaries_used": len(agent.beliefs.rebased),
            "sessions": len({session_of(t) for t in range(config.steps)}),
            "dream_operations": {
                str(phase): [op.name for op in ops] for phase, ops in memory.engine.phases.items()
            },
        }
    return run


def _entry_kinds(entries: Sequence[Any]) -> dict[str, int]:
    out: dict[str, int] = {}
    for e in entries:
        out[e.kind] = out.get(e.kind, 0) + 1
    return dict(sorted(out.items()))


# -- metrics -----------------------------------------------------------------------------
def regret(env: Environment, actions: np.ndarray) -> float:
    """Cumulative pseudo-regret: sum over t of best mean minus the chosen arm's mean."""
    means = np.array([[env.mean(t, a) for a in range(len(env.arms))] for t in range(len(actions))])
    return float(np.sum(means.max(axis=1) - means[np.arange(len(actions)), actions]))


def adaptation_times(env: Environment, actions: np.ndarray) -> list[int]:
    """For each switch, the steps until the new best arm exceeds ADAPT_THRESHOLD of the last
    ADAPT_WINDOW choices (post-switch choices only). Never reached: the regime's length
    (right-censored)."""
    bounds = [*env.switches, len(actions)]
    out = []
    for start, end in itertools.pairwise(bounds):
        hits = (actions[start:end] == best_arm(env, start)).astype(float)
        rolling = np.convolve(hits, np.ones(ADAPT_WINDOW))[: len(hits)] / ADAPT_WINDOW
        above = np.flatnonzero(rolling > ADAPT_THRESHOLD)
        out.append(int(above[0]) + 1 if above.size else end - start)
    return out


def worst_drawdown(payoffs: np.ndarray) -> float:
    """Largest fall of the cumulative payoff from its running peak (the peak starts at 0)."""
    equity = np.concatenate([[0.0], np.cumsum(payoffs)])
    return float(np.max(np.maximum.accumulate(equity) - equity))


def metrics(env: Environment, run: Run) -> dict[str, float]:
    """Regret, mean adaptation time over the switches (absent for a stationary task), drawdown."""
    out = {"regret": regret(env, run.actions), "drawdown": worst_drawdown(run.payoffs)}
    adapt = adaptation_times(env, run.actions)
    if adapt:
        out["adaptation"] = float(np.mean(adapt))
    return out


# -- bootstrap ---------------------------------------------------------------------------
def _indices(n: int, resamples: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, n, size=(resamples, n))


def bootstrap_mean(
    values: Sequence[float], resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED
) -> dict[str, float]:
    """Mean with a percentile-bootstrap CI at :data:`CONFIDENCE`."""
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        raise InvalidInput("needs at least one value", field="values")
    means = x[_indices(x.size, resamples, seed)].mean(axis=1)
    return _interval(float(x.mean()), means)


def bootstrap_ratio(
    top: Sequence[float],
    bottom: Sequence[float],
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> dict[str, float]:
    """mean(top) / mean(bottom) over paired seeds, with a percentile-bootstrap CI."""
    a, b = np.asarray(top, dtype=float), np.asarray(bottom, dtype=float)
    if a.size == 0 or a.size != b.size:
        raise InvalidInput("needs paired, non-empty values", field="values")
    idx = _indices(a.size, resamples, seed)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = a[idx].mean(axis=1) / b[idx].mean(axis=1)
        point = float(a.mean() / b.mean()) if b.mean() else float("nan")
    return _interval(point, ratios[np.isfinite(ratios)])


def _interval(point: float, draws: np.ndarray) -> dict[str, float]:
    tail = (1 - CONFIDENCE) / 2 * 100
    if draws.size == 0:
        return {"mean": point, "low": float("nan"), "high": float("nan")}
    low, high = np.percentile(draws, [tail, 100 - tail])
    return {"mean": point, "low": float(low), "high": float(high)}


# -- the whole experiment ----------------------------------------------------------------
def run_ab(
    config: ABConfig, env: Environment | None = None, progress: Callable[[str, int], None] | None = None
) -> dict[str, Any]:
    """Every condition on every seed; per-seed values, CIs and the twin comparison, as data."""
    task = env if env is not None else default_environment(config.steps)
    check_environment(task, config.steps)
    per_seed: dict[str, dict[str, list[float]]] = {c: {} for c in config.conditions}
    extras: dict[str, list[dict[str, Any]]] = {c: [] for c in config.conditions}
    seconds: dict[str, float] = dict.fromkeys(config.conditions, 0.0)
    for seed in range(config.first_seed, config.first_seed + config.seeds):
        for condition in config.conditions:
            run = run_condition(task, condition, seed, config)
            for name, value in metrics(task, run).items():
                per_seed[condition].setdefault(name, []).append(value)
            extras[condition].append(run.extra)
            seconds[condition] += run.seconds
            if progress is not None:
                progress(condition, seed)
    return {
        "config": asdict(config),
        "environment": describe(task),
        "bootstrap": {"resamples": BOOTSTRAP_RESAMPLES, "confidence": CONFIDENCE, "method": "percentile"},
        "adaptation": {"threshold": ADAPT_THRESHOLD, "window": ADAPT_WINDOW},
        "conditions": {
            c: {
                "per_seed": per_seed[c],
                "summary": {m: bootstrap_mean(v) for m, v in per_seed[c].items()},
                "seconds": round(seconds[c], 3),
                "activity": _activity(extras[c]),
            }
            for c in config.conditions
        },
        "comparison": compare(per_seed),
    }


def _activity(extras: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Totals over seeds of what the memory did (empty for anchors)."""
    out: dict[str, Any] = {}
    for extra in extras:
        for key, value in extra.items():
            if key == "dream_operations":
                out[key] = value
            elif isinstance(value, dict):
                bucket = out.setdefault(key, {})
                for k, v in value.items():
                    bucket[k] = bucket.get(k, 0) + v
            else:
                out[key] = out.get(key, 0) + value
    return out


def compare(per_seed: dict[str, dict[str, list[float]]]) -> dict[str, Any]:
    """Paired dream - no-dream differences, the regret ratios and the goal's verdict."""
    if DREAM not in per_seed or NO_DREAM not in per_seed:
        return {}
    dream, base = per_seed[DREAM], per_seed[NO_DREAM]
    out: dict[str, Any] = {
        f"{m}_difference": bootstrap_mean(np.subtract(dream[m], base[m]).tolist())
        for m in METRICS
        if m in dream
    }
    out["regret_ratio"] = bootstrap_ratio(dream["regret"], base["regret"])
    goal = {"ratio_target": GOAL_RATIO, "ratio_met": out["regret_ratio"]["mean"] <= GOAL_RATIO}
    if SW_UCB in per_seed:
        out["regret_ratio_vs_sw_ucb"] = bootstrap_ratio(dream["regret"], per_seed[SW_UCB]["regret"])
        goal["sw_ucb_met"] = out["regret_ratio_vs_sw_ucb"]["mean"] <= 1.0
    goal["met"] = all(v for k, v in goal.items() if k.endswith("_met"))
    out["goal"] = goal
    return out


def describe(env: Environment) -> dict[str, Any]:
    data: dict[str, Any] = {
        "type": type(env).__name__,
        "arms": list(env.arms),
        "switches": list(env.switches),
        "payoff_range": list(env.payoff_range),
    }
    for name in ("regimes", "noise"):
        if hasattr(env, name):
            data[name] = getattr(env, name)
    return data
