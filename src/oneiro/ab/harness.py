"""The falsifiability harness: twins from one seed, dreaming on vs off, beside published anchors.

For every seed, each condition plays the same task for the same number of steps. The payoff noise
at step ``t`` comes from a generator seeded by ``(seed, t)`` alone (common random numbers), so two
conditions that choose alike see identical payoffs; the twins also share their policy generator.
The only difference between two twins is ``dreaming`` (see :mod:`oneiro.ab.agent`).

Conditions: the naive pair (``no-dream`` / ``dream``: all-history means), the strong pair
(``awake`` / ``dream-awake``: a discounted, context-binned estimator whose discount and bins are
tuned on seeds never reported, :mod:`oneiro.ab.tuning`), and the anchors ``sw-ucb`` and ``d-ts``.
The strong dream twin is the strong awake agent plus dreaming, so whatever it gains is the dream's.

Reproducibility: a cycle's id (which seeds its RNG) is derived from the simulated time and the
store's history, so a seeded run's dreams repeat.

Metrics per run: cumulative pseudo-regret, time to adapt after each switch, worst drawdown of the
cumulative payoff, a Sharpe-like ratio of per-step payoff. Across seeds: percentile-bootstrap
confidence intervals and paired tests (:mod:`oneiro.ab.stats`).
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
from oneiro.ab.environment import (
    Environment,
    best_arm,
    check_environment,
    context_of,
    contextual_environment,
    default_environment,
    degenerate,
)
from oneiro.ab.stats import (
    BOOTSTRAP_RESAMPLES,
    CONFIDENCE,
    bootstrap_mean,
    bootstrap_ratio,
    paired,
    paired_p,
)
from oneiro.errors import InvalidInput
from oneiro.memory import open_memory
from oneiro.store.query import EntryQuery

__all__ = ["bootstrap_mean", "bootstrap_ratio"]

#: Adaptation: the new best arm must exceed this share of the last ADAPT_WINDOW choices.
ADAPT_THRESHOLD = 0.5
ADAPT_WINDOW = 20
#: Built-in defaults, sized for a few minutes on two cores with the hashing embedder.
DEFAULT_SEEDS = 20
DEFAULT_STEPS = 600
#: The dream twin dreams once per simulated day (every session), as a nightly scheduler would.
DEFAULT_DREAM_EVERY = 24
#: Goal for the naive pair: dream regret <= this x no-dream regret, and <= SW-UCB's.
GOAL_RATIO = 0.7
#: Goal for the strong pair: dream-awake regret <= this x awake regret, the CI's upper end < 1.
STRONG_GOAL_RATIO = 0.8
NO_DREAM, DREAM, AWAKE, DREAM_AWAKE, SW_UCB, D_TS = (
    "no-dream",
    "dream",
    "awake",
    "dream-awake",
    "sw-ucb",
    "d-ts",
)
CONDITIONS = (NO_DREAM, DREAM, AWAKE, DREAM_AWAKE, SW_UCB, D_TS)
#: The conditions that dream, and the one each is the twin of.
TWIN_OF = {DREAM: NO_DREAM, DREAM_AWAKE: AWAKE}
METRICS = ("regret", "adaptation", "drawdown", "sharpe")
TASKS: dict[str, Callable[[int], Environment]] = {
    "regime": default_environment,
    "contextual": contextual_environment,
}
_NOISE_STREAM, _POLICY_STREAM = 1, 2


@dataclass(frozen=True)
class ABConfig:
    """One harness run. ``conditions`` is any subset of :data:`CONDITIONS`; ``discount`` and
    ``bins`` set the strong pair's estimator; ``disabled`` are dream operations or phases the
    dreaming conditions run without (``Config.disabled_operations``)."""

    seeds: int = DEFAULT_SEEDS
    steps: int = DEFAULT_STEPS
    dream_every: int = DEFAULT_DREAM_EVERY
    embedder: str = "hashing"
    epsilon: float = EPSILON
    conditions: tuple[str, ...] = CONDITIONS
    first_seed: int = 0
    reads: tuple[str, ...] = DREAM_READS
    task: str = "regime"
    discount: float = 1.0
    bins: int = 1
    disabled: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("seeds", "steps", "dream_every", "bins"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidInput(f"must be a positive integer, got {value!r}", field=name)
        if not 0.0 <= self.epsilon <= 1.0:
            raise InvalidInput(f"must lie in [0, 1], got {self.epsilon}", field="epsilon")
        if not 0.0 < self.discount <= 1.0:
            raise InvalidInput(f"must lie in (0, 1], got {self.discount}", field="discount")
        if self.first_seed < 0:
            raise InvalidInput(f"must be >= 0, got {self.first_seed}", field="first_seed")
        odd = [r for r in self.reads if r not in DREAM_READS]
        if odd:
            raise InvalidInput(f"unknown entry kinds {odd}; known: {list(DREAM_READS)}", field="reads")
        unknown = [c for c in self.conditions if c not in CONDITIONS]
        if unknown or not self.conditions:
            raise InvalidInput(
                f"unknown or no conditions {unknown}; known: {list(CONDITIONS)}", field="conditions"
            )
        if self.task not in TASKS:
            raise InvalidInput(f"unknown task {self.task!r}; known: {list(TASKS)}", field="task")


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
    strong = condition in (AWAKE, DREAM_AWAKE)
    dreaming = condition in TWIN_OF
    clock = SimClock()
    overrides = {"disabled_operations": list(config.disabled)} if dreaming and config.disabled else None
    with open_memory(":memory:", embedder=config.embedder, clock=clock, overrides=overrides) as memory:
        agent = MemoryAgent(
            memory,
            env.arms,
            clock,
            dreaming=dreaming,
            dream_every=config.dream_every,
            epsilon=config.epsilon,
            reads=config.reads,
            discount=config.discount if strong else 1.0,
            bins=config.bins if strong else 1,
            context=context_of(env) if strong else None,
        )
        run = play(env, agent, seed, config.steps)
        run.extra = {
            "dreams": agent.dreams,
            "entries": sum(memory.store.entry_counts().values()),
            "entry_kinds": _entry_kinds(memory.store.entries_matching(EntryQuery())),
            "corrections_folded": len(agent.beliefs.folded),
            "summaries_used": len(agent.beliefs.rebased),
            "mix_explorations": agent.mixes_used,
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
    """For each switch, the steps until the best arm (at each step: on a contextual task it moves
    with the context) exceeds ADAPT_THRESHOLD of the last ADAPT_WINDOW choices (post-switch
    choices only). Never reached: the regime's length (right-censored)."""
    bounds = [*env.switches, len(actions)]
    out = []
    for start, end in itertools.pairwise(bounds):
        best = np.array([best_arm(env, t) for t in range(start, end)])
        hits = (actions[start:end] == best).astype(float)
        rolling = np.convolve(hits, np.ones(ADAPT_WINDOW))[: len(hits)] / ADAPT_WINDOW
        above = np.flatnonzero(rolling > ADAPT_THRESHOLD)
        out.append(int(above[0]) + 1 if above.size else end - start)
    return out


def worst_drawdown(payoffs: np.ndarray) -> float:
    """Largest fall of the cumulative payoff from its running peak (the peak starts at 0)."""
    equity = np.concatenate([[0.0], np.cumsum(payoffs)])
    return float(np.max(np.maximum.accumulate(equity) - equity))


def sharpe(payoffs: np.ndarray) -> float:
    """Mean over standard deviation of the per-step payoff (not annualised; 0 without spread)."""
    sd = float(np.std(payoffs))
    return float(np.mean(payoffs)) / sd if sd > 0 else 0.0


def metrics(env: Environment, run: Run) -> dict[str, float]:
    """Regret, mean adaptation time over the switches (absent for a stationary task), drawdown,
    Sharpe-like ratio."""
    out = {
        "regret": regret(env, run.actions),
        "drawdown": worst_drawdown(run.payoffs),
        "sharpe": sharpe(run.payoffs),
    }
    adapt = adaptation_times(env, run.actions)
    if adapt:
        out["adaptation"] = float(np.mean(adapt))
    return out


# -- the whole experiment ----------------------------------------------------------------
def task_environment(config: ABConfig) -> Environment:
    return TASKS[config.task](config.steps)


def run_ab(
    config: ABConfig, env: Environment | None = None, progress: Callable[[str, int], None] | None = None
) -> dict[str, Any]:
    """Every condition on every seed; per-seed values, CIs and the comparisons, as data. A task
    with no regime switch runs, but its result is labelled ``degenerate``."""
    task = env if env is not None else task_environment(config)
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
    result: dict[str, Any] = {
        "config": asdict(config),
        "seeds_run": list(range(config.first_seed, config.first_seed + config.seeds)),
        "environment": describe(task),
        "bootstrap": {"resamples": BOOTSTRAP_RESAMPLES, "confidence": CONFIDENCE, "method": "percentile"},
        "test": "two-sided Wilcoxon signed-rank on paired per-seed differences",
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
    why = degenerate(task)
    if why is not None:
        result["degenerate"] = why
    return result


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


#: Every comparison reported, as (treatment, reference): each twin pair, the strong dream twin
#: against each anchor, and the strong awake agent against the naive one.
PAIRS = (
    (DREAM, NO_DREAM),
    (DREAM_AWAKE, AWAKE),
    (DREAM_AWAKE, SW_UCB),
    (DREAM_AWAKE, D_TS),
    (AWAKE, NO_DREAM),
    (AWAKE, SW_UCB),
)


def pair_name(a: str, b: str) -> str:
    return f"{a} vs {b}"


def compare_pair(a: dict[str, list[float]], b: dict[str, list[float]]) -> dict[str, Any]:
    """Paired a - b differences per metric (CI and p) and the regret ratio a / b (CI)."""
    out: dict[str, Any] = {m: paired(a[m], b[m]) for m in METRICS if m in a and m in b}
    out["regret_ratio"] = bootstrap_ratio(a["regret"], b["regret"])
    out["regret_ratio"]["p"] = paired_p(a["regret"], b["regret"])
    return out


def compare(per_seed: dict[str, dict[str, list[float]]]) -> dict[str, Any]:
    """Every pair of :data:`PAIRS` both of whose conditions ran, and the goals' verdicts. The
    naive pair's figures also stay under their earlier keys (``regret_ratio`` ...)."""
    pairs = {
        pair_name(a, b): compare_pair(per_seed[a], per_seed[b])
        for a, b in PAIRS
        if a in per_seed and b in per_seed
    }
    out: dict[str, Any] = {"pairs": pairs}
    naive = pairs.get(pair_name(DREAM, NO_DREAM))
    if naive is not None:
        out.update({f"{m}_difference": naive[m] for m in METRICS if m in naive})
        out["regret_ratio"] = naive["regret_ratio"]
        goal: dict[str, Any] = {
            "ratio_target": GOAL_RATIO,
            "ratio_met": naive["regret_ratio"]["mean"] <= GOAL_RATIO,
        }
        if SW_UCB in per_seed:
            out["regret_ratio_vs_sw_ucb"] = bootstrap_ratio(
                per_seed[DREAM]["regret"], per_seed[SW_UCB]["regret"]
            )
            goal["sw_ucb_met"] = out["regret_ratio_vs_sw_ucb"]["mean"] <= 1.0
        goal["met"] = all(v for k, v in goal.items() if k.endswith("_met"))
        out["goal"] = goal
    strong = pairs.get(pair_name(DREAM_AWAKE, AWAKE))
    if strong is not None:
        ratio = strong["regret_ratio"]
        sgoal: dict[str, Any] = {
            "ratio_target": STRONG_GOAL_RATIO,
            "ratio_met": ratio["mean"] <= STRONG_GOAL_RATIO and ratio["high"] < 1.0,
        }
        vs = pairs.get(pair_name(DREAM_AWAKE, SW_UCB))
        if vs is not None:
            sgoal["sw_ucb_met"] = vs["regret_ratio"]["mean"] <= 1.0
        sgoal["met"] = all(v for k, v in sgoal.items() if k.endswith("_met"))
        out["strong_goal"] = sgoal
    return out


def describe(env: Environment) -> dict[str, Any]:
    data: dict[str, Any] = {
        "type": type(env).__name__,
        "arms": list(env.arms),
        "switches": list(env.switches),
        "payoff_range": list(env.payoff_range),
    }
    for name in ("regimes", "noise", "period"):
        if hasattr(env, name):
            data[name] = getattr(env, name)
    return data
