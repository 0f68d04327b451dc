"""A cycle's budget and its split across phases by budget state.

The split comes from the dreaming spec (seed 003, "Dream Budget by Behavioral Phase"): a thriving
agent spends more on replay and imagination, a terminal one on integrating what it already has.
Between the two columns the split is interpolated linearly by vitality (the fraction of the day's
dream budget left), so every split sums to 1.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from oneiro.dream.phase import PhaseName
from oneiro.errors import BudgetError
from oneiro.model import Tier

#: Phase shares of the cycle's budget (DESIGN §7, from seed 003).
THRIVING: dict[PhaseName, float] = {
    PhaseName.ONSET: 0.10,
    PhaseName.NREM: 0.34,
    PhaseName.REM: 0.25,
    PhaseName.EVOLUTION: 0.05,
    PhaseName.INTEGRATION: 0.21,
    PhaseName.RETURN: 0.05,
}
TERMINAL: dict[PhaseName, float] = {
    PhaseName.ONSET: 0.10,
    PhaseName.NREM: 0.16,
    PhaseName.REM: 0.10,
    PhaseName.EVOLUTION: 0.02,
    PhaseName.INTEGRATION: 0.57,
    PhaseName.RETURN: 0.05,
}


class BudgetState(StrEnum):
    THRIVING = "thriving"
    STABLE = "stable"
    CONSERVATION = "conservation"
    TERMINAL = "terminal"


#: Vitality thresholds of the budget states (lower bounds).
STATE_THRESHOLDS: tuple[tuple[float, BudgetState], ...] = (
    (0.75, BudgetState.THRIVING),
    (0.40, BudgetState.STABLE),
    (0.15, BudgetState.CONSERVATION),
    (0.0, BudgetState.TERMINAL),
)


def budget_state(vitality: float) -> BudgetState:
    for bound, state in STATE_THRESHOLDS:
        if vitality >= bound:
            return state
    return BudgetState.TERMINAL


def phase_split(vitality: float) -> dict[PhaseName, float]:
    """Each phase's share: terminal at vitality 0, thriving at 1, linear between."""
    v = min(1.0, max(0.0, vitality))
    return {p: TERMINAL[p] + (THRIVING[p] - TERMINAL[p]) * v for p in THRIVING}


@dataclass(frozen=True)
class CycleBudget:
    """What one cycle may spend: wall-clock seconds, LLM tokens (T1/T2), and its tier."""

    wall_seconds: float
    tokens: int = 0
    tier: Tier = Tier.T0
    vitality: float = 1.0

    def __post_init__(self) -> None:
        wall = self.wall_seconds
        if isinstance(wall, bool) or not isinstance(wall, int | float) or not (0 < wall < math.inf):
            raise BudgetError(f"a cycle needs a positive, finite wall-clock budget, got {wall!r}")
        if isinstance(self.tokens, bool) or not isinstance(self.tokens, int) or self.tokens < 0:
            raise BudgetError(f"tokens must be a non-negative integer, got {self.tokens!r}")
        if self.tier in (Tier.T1, Tier.T2) and self.tokens == 0:
            raise BudgetError(f"tier {self.tier} calls an LLM and needs a token budget above zero")
        if not 0.0 <= self.vitality <= 1.0:
            raise BudgetError(f"vitality must lie in [0, 1], got {self.vitality!r}")

    @property
    def state(self) -> BudgetState:
        return budget_state(self.vitality)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["tier"] = self.tier.value
        out["state"] = self.state.value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CycleBudget:
        return cls(
            float(data["wall_seconds"]),
            int(data.get("tokens", 0)),
            Tier(data.get("tier", "T0")),
            float(data.get("vitality", 1.0)),
        )


class PhaseBudget:
    """One phase's share, measured on a monotonic clock from when the phase starts. Time a phase
    leaves unused carries to the next one.

    ``limit_tokens`` says whether tokens are metered at all (a T0 cycle has no token budget). It
    is separate from ``tokens`` because a metered phase's share can round down to zero, and zero
    tokens must then mean none, not unlimited.
    """

    def __init__(
        self,
        seconds: float,
        tokens: int,
        monotonic: Any = time.monotonic,
        *,
        limit_tokens: bool | None = None,
    ) -> None:
        self._seconds = seconds
        self._tokens = tokens
        self._limit_tokens = tokens > 0 if limit_tokens is None else limit_tokens
        self._spent_tokens = 0
        self._monotonic = monotonic
        self._start = monotonic()

    @property
    def seconds(self) -> float:
        return self._seconds

    @property
    def tokens(self) -> int:
        return self._tokens - self._spent_tokens

    def elapsed(self) -> float:
        return float(self._monotonic() - self._start)

    def exhausted(self) -> bool:
        return self.elapsed() >= self._seconds or self.tokens_exhausted()

    def tokens_exhausted(self) -> bool:
        return self._limit_tokens and self._spent_tokens >= self._tokens

    def spend_tokens(self, n: int) -> None:
        self._spent_tokens += n
