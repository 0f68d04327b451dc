"""Published non-stationary bandit algorithms the twins are measured against.

No maintained PyPI library implements these two faithfully (MABWiser, for one, offers UCB1 and
stationary Thompson sampling but neither a sliding window nor discounting), so each is a short
implementation of the paper's algorithm:

* **SW-UCB**, sliding-window UCB (Garivier & Moulines, "On upper-confidence bound policies for
  switching bandit problems", ALT 2011, section 4): the index of arm i is its mean payoff over the
  last ``tau`` steps plus ``B * sqrt(xi * log(min(t, tau)) / N_t(tau, i))``; an arm not played
  inside the window is played first.
* **Discounted Thompson sampling** (Raj & Kalyani, "Taming non-stationary bandits: a Bayesian
  approach", arXiv:1707.09727, 2017, Algorithm 2): Beta(S_i + a0, F_i + b0) posteriors whose
  success and failure counts are all multiplied by ``gamma`` every step before the chosen arm's
  are incremented. Payoffs are rescaled to [0, 1] and turned into Bernoulli trials with that
  probability (Agrawal & Goyal, COLT 2012, section 2), as the Beta posterior needs binary rewards.

Both see exactly what the oneiro agent sees: their own action's payoff, one step at a time.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Protocol

import numpy as np

#: SW-UCB exploration constant; the regret bound needs xi > 1/2 (Garivier & Moulines 2011, Thm 2).
SW_UCB_XI = 0.6
#: Discount factor for D-TS; close to 1 keeps a long memory, lower tracks faster. Our setting.
DTS_GAMMA = 0.95
#: Uniform Beta(1, 1) prior, as in Raj & Kalyani (2017), Algorithm 2.
DTS_PRIOR = (1.0, 1.0)


class Policy(Protocol):
    """A bandit policy: chooses an arm at ``t``, then learns the payoff of that arm only."""

    name: str

    def choose(self, t: int, rng: np.random.Generator) -> int: ...

    def update(self, t: int, action: int, payoff: float) -> None: ...


def sw_ucb_window(horizon: int, breakpoints: int, bound: float = 1.0) -> int:
    """The window the paper recommends: ``2B * sqrt(T log T / Upsilon_T)`` (Garivier & Moulines
    2011, below Theorem 2), for ``Upsilon_T`` breakpoints (at least one, so a stationary task
    gets a finite window)."""
    t = max(horizon, 2)
    return max(1, round(2 * bound * math.sqrt(t * math.log(t) / max(breakpoints, 1))))


def _unit(payoff: float, low: float, high: float) -> float:
    return min(max((payoff - low) / (high - low), 0.0), 1.0)


class SlidingWindowUCB:
    """SW-UCB over payoffs rescaled to [0, 1] (so ``B = 1``). Holds at most ``window`` steps."""

    name = "sw-ucb"

    def __init__(self, arms: int, window: int, payoff_range: tuple[float, float], xi: float = SW_UCB_XI):
        self.arms, self.window, self.xi = arms, window, xi
        self.low, self.high = payoff_range
        self.recent: deque[tuple[int, float]] = deque(maxlen=window)

    def choose(self, t: int, rng: np.random.Generator) -> int:
        counts = np.zeros(self.arms)
        sums = np.zeros(self.arms)
        for action, reward in self.recent:
            counts[action] += 1
            sums[action] += reward
        unplayed = np.flatnonzero(counts == 0)
        if unplayed.size:
            return int(unplayed[0])
        bonus = np.sqrt(self.xi * math.log(min(t + 1, self.window)) / counts)
        return int(np.argmax(sums / counts + bonus))

    def update(self, t: int, action: int, payoff: float) -> None:
        self.recent.append((action, _unit(payoff, self.low, self.high)))


class DiscountedThompson:
    """D-TS with Bernoulli trials of rescaled payoffs."""

    name = "d-ts"

    def __init__(
        self,
        arms: int,
        payoff_range: tuple[float, float],
        gamma: float = DTS_GAMMA,
        prior: tuple[float, float] = DTS_PRIOR,
    ) -> None:
        self.gamma, self.prior = gamma, prior
        self.low, self.high = payoff_range
        self.successes = np.zeros(arms)
        self.failures = np.zeros(arms)
        self._coin: np.random.Generator | None = None

    def choose(self, t: int, rng: np.random.Generator) -> int:
        self._coin = rng
        draws = rng.beta(self.successes + self.prior[0], self.failures + self.prior[1])
        return int(np.argmax(draws))

    def update(self, t: int, action: int, payoff: float) -> None:
        coin = self._coin if self._coin is not None else np.random.default_rng(t)
        success = float(coin.random() < _unit(payoff, self.low, self.high))
        self.successes *= self.gamma
        self.failures *= self.gamma
        self.successes[action] += success
        self.failures[action] += 1.0 - success
