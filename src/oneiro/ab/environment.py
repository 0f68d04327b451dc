"""The task the twins face: a plug-in ``Environment`` protocol and the built-in regime-switching one.

An environment is a non-stationary multi-armed bandit seen from the agent's side: at step ``t`` the
agent picks one arm and observes only that arm's payoff. The harness also asks it for each arm's
true mean at ``t`` (never shown to an agent) to score pseudo-regret, the standard measure in the
non-stationary bandit literature (Garivier & Moulines 2011, section 2).

Invariant: ``mean(t, a)`` is the expectation of ``step(t, a, rng)`` over ``rng``, and it may only
change at the times listed in ``switches``; adaptation is measured from those times.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from oneiro.errors import InvalidInput


@runtime_checkable
class Environment(Protocol):
    """What a user implements to put their own task under the harness.

    ``arms`` names the strategies; ``switches`` lists the steps at which the means change (empty
    for a stationary task); ``payoff_range`` bounds where payoffs mostly lie (anchors rescale
    payoffs to [0, 1] with it, as both anchor papers assume bounded rewards).
    """

    @property
    def arms(self) -> Sequence[str]: ...

    @property
    def switches(self) -> Sequence[int]: ...

    @property
    def payoff_range(self) -> tuple[float, float]: ...

    def mean(self, t: int, action: int) -> float: ...

    def step(self, t: int, action: int, rng: np.random.Generator) -> float: ...


def optimal_mean(env: Environment, t: int) -> float:
    """The best arm's mean at ``t``: the benchmark regret is measured against."""
    return max(env.mean(t, a) for a in range(len(env.arms)))


def degenerate(env: Environment) -> str | None:
    """Why a result on ``env`` says nothing about adaptation (no regime switch), else None."""
    if not env.switches:
        return "no regime switch: a stationary task; adaptation is not measured"
    return None


def best_arm(env: Environment, t: int) -> int:
    """The best arm at ``t`` (the lowest index on a tie)."""
    means = [env.mean(t, a) for a in range(len(env.arms))]
    return int(np.argmax(means))


def check_environment(env: Environment, steps: int) -> None:
    """Refuse an environment the harness cannot score over ``steps`` steps."""
    if not env.arms:
        raise InvalidInput("an environment needs at least one arm", field="arms")
    if len(env.arms) < 2:
        raise InvalidInput(
            "a single strategy leaves nothing to choose: regret is 0 for every agent", field="arms"
        )
    low, high = env.payoff_range
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise InvalidInput(f"must be finite with low < high, got {(low, high)}", field="payoff_range")
    for t in env.switches:
        if not 0 < t < steps:
            raise InvalidInput(
                f"switch time {t} lies outside the horizon (1..{steps - 1}); "
                "raise --steps or move the switch",
                field="switches",
            )


@dataclass(frozen=True)
class RegimeSwitching:
    """Payoff means that jump between regimes at fixed steps, with Gaussian noise.

    ``regimes[k][a]`` is arm ``a``'s mean in regime ``k``; regime ``k`` holds from
    ``switches[k - 1]`` (or 0) up to ``switches[k]``. The agent never sees which regime it is in.
    """

    arm_names: tuple[str, ...]
    regimes: tuple[tuple[float, ...], ...]
    switch_times: tuple[int, ...]
    noise: float

    def __post_init__(self) -> None:
        if not self.arm_names:
            raise InvalidInput("an environment needs at least one arm", field="arms")
        if len(set(self.arm_names)) != len(self.arm_names):
            raise InvalidInput("arm names must be distinct", field="arms")
        if len(self.regimes) != len(self.switch_times) + 1:
            raise InvalidInput(
                f"{len(self.switch_times)} switches need {len(self.switch_times) + 1} regimes, "
                f"got {len(self.regimes)}",
                field="regimes",
            )
        for k, means in enumerate(self.regimes):
            if len(means) != len(self.arm_names) or not all(math.isfinite(m) for m in means):
                raise InvalidInput(
                    f"regime {k} needs one finite mean per arm ({len(self.arm_names)})", field="regimes"
                )
        times = list(self.switch_times)
        if any(t <= 0 for t in times) or times != sorted(set(times)):
            raise InvalidInput("switch times must be positive and strictly increasing", field="switches")
        if not (math.isfinite(self.noise) and self.noise >= 0):
            raise InvalidInput("must be a finite number >= 0", field="noise")

    @property
    def arms(self) -> Sequence[str]:
        return self.arm_names

    @property
    def switches(self) -> Sequence[int]:
        return self.switch_times

    @property
    def payoff_range(self) -> tuple[float, float]:
        """Means widened by ``PAYOFF_SPREAD`` noise deviations (about 99.7% of payoffs inside)."""
        flat = [m for means in self.regimes for m in means]
        spread = PAYOFF_SPREAD * self.noise or 1.0
        return (min(flat) - spread, max(flat) + spread)

    def regime(self, t: int) -> int:
        return sum(1 for s in self.switch_times if t >= s)

    def mean(self, t: int, action: int) -> float:
        return self.regimes[self.regime(t)][action]

    def step(self, t: int, action: int, rng: np.random.Generator) -> float:
        return self.mean(t, action) + self.noise * float(rng.standard_normal())


#: Noise deviations either side of the means that ``payoff_range`` spans (the three-sigma rule).
PAYOFF_SPREAD = 3.0
#: The built-in task: five strategies, four regimes. Each switch demotes the best strategy to a
#: losing one and promotes another, the pattern that hurts an agent trusting its long-run averages.
DEFAULT_ARMS = ("momentum", "mean_reversion", "carry", "breakout", "hold")
DEFAULT_REGIMES = (
    (0.50, 0.10, 0.00, -0.20, 0.05),
    (-0.40, 0.00, 0.50, 0.10, 0.05),
    (0.00, 0.50, -0.30, 0.10, 0.05),
    (0.10, -0.30, 0.00, 0.50, 0.05),
)
#: Payoff noise (standard deviation): the best arm leads by 0.4 or more, a handful of pulls
#: apart, so a learner that tracks the regime can find it within a few dozen steps.
DEFAULT_NOISE = 0.2


def default_environment(steps: int, *, noise: float = DEFAULT_NOISE) -> RegimeSwitching:
    """The built-in task over ``steps`` steps: regimes of equal length, switches at 1/4, 1/2, 3/4."""
    if steps < len(DEFAULT_REGIMES):
        raise InvalidInput(f"the built-in task needs at least {len(DEFAULT_REGIMES)} steps", field="steps")
    k = len(DEFAULT_REGIMES)
    switches = tuple(steps * i // k for i in range(1, k))
    return RegimeSwitching(DEFAULT_ARMS, DEFAULT_REGIMES, switches, noise)


@dataclass(frozen=True)
class ContextualRegimes:
    """Partial feedback with context: each strategy's mean is linear in an observed context.

    At step ``t`` the agent sees ``context(t)`` = ``x_t`` in [0, 1] (a deterministic volatility
    cycle of period ``period``: common to every condition and seed), picks one strategy and
    observes only that strategy's payoff, ``intercept + slope * x_t`` of the current regime plus
    Gaussian noise. Which strategy is best depends on ``x_t`` and, across switches, on the regime:
    information about the strategies not chosen is exactly what an agent lacks, and what a causal
    model of outcome given (context, action) can impute.
    """

    arm_names: tuple[str, ...]
    #: ``regimes[k][a]`` = (intercept, slope) of arm ``a`` in regime ``k``.
    regimes: tuple[tuple[tuple[float, float], ...], ...]
    switch_times: tuple[int, ...]
    noise: float
    period: int = 48

    def __post_init__(self) -> None:
        flat = tuple(tuple(a + 0.5 * b for a, b in means) for means in self.regimes)
        RegimeSwitching(self.arm_names, flat, self.switch_times, self.noise)  # the same checks
        if self.period < 2:
            raise InvalidInput("must be at least 2 steps", field="period")

    @property
    def arms(self) -> Sequence[str]:
        return self.arm_names

    @property
    def switches(self) -> Sequence[int]:
        return self.switch_times

    @property
    def payoff_range(self) -> tuple[float, float]:
        ends = [a + b * x for means in self.regimes for a, b in means for x in (0.0, 1.0)]
        spread = PAYOFF_SPREAD * self.noise or 1.0
        return (min(ends) - spread, max(ends) + spread)

    def context(self, t: int) -> float:
        return round(0.5 + 0.5 * math.sin(2 * math.pi * t / self.period), 6)

    def regime(self, t: int) -> int:
        return sum(1 for s in self.switch_times if t >= s)

    def mean(self, t: int, action: int) -> float:
        a, b = self.regimes[self.regime(t)][action]
        return a + b * self.context(t)

    def step(self, t: int, action: int, rng: np.random.Generator) -> float:
        return self.mean(t, action) + self.noise * float(rng.standard_normal())


#: The built-in contextual task: eight strategies, three regimes. In each regime one strategy is
#: best in calm markets (x near 0), another in volatile ones (x near 1), a steady one in between
#: is never best; a switch hands both roles to other strategies.
CONTEXTUAL_ARMS = ("momentum", "mean_reversion", "carry", "breakout", "value", "vol_selling", "trend", "hold")
CONTEXTUAL_REGIMES = (
    ((0.5, -0.6), (-0.2, 0.7), (0.1, 0.0), (-0.1, 0.0), (0.0, 0.1), (0.2, -0.3), (0.0, 0.0), (0.05, 0.0)),
    ((-0.2, 0.0), (0.0, 0.1), (0.5, -0.6), (-0.2, 0.7), (0.1, 0.0), (0.0, 0.0), (0.2, -0.3), (0.05, 0.0)),
    ((0.1, 0.0), (0.0, 0.0), (-0.1, 0.0), (0.2, -0.3), (0.5, -0.6), (-0.2, 0.7), (0.0, 0.1), (0.05, 0.0)),
)


def contextual_environment(steps: int, *, noise: float = DEFAULT_NOISE) -> ContextualRegimes:
    """The built-in contextual task over ``steps`` steps: switches at 1/3 and 2/3."""
    k = len(CONTEXTUAL_REGIMES)
    if steps < k:
        raise InvalidInput(f"the contextual task needs at least {k} steps", field="steps")
    switches = tuple(steps * i // k for i in range(1, k))
    return ContextualRegimes(CONTEXTUAL_ARMS, CONTEXTUAL_REGIMES, switches, noise)


def context_of(env: Environment) -> Callable[[int], float] | None:
    """The environment's observed context, if it has one (``context(t)`` in [0, 1])."""
    found = getattr(env, "context", None)
    return found if callable(found) else None
