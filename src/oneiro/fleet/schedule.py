"""Which agents of a fleet dream now, and with how much: each agent's own scheduler first, then
one budget for the whole fleet.

Pure: :func:`plan` receives each agent's own :class:`~oneiro.scheduler.Decision` and the fleet's
:class:`FleetBudget` and returns the assignments as data. An agent whose scheduler says no never
dreams (the fleet does not overrule it); the others are taken most urgent first (ties by name, so
a plan is reproducible), each with the budget its own scheduler gave, cut to what is left of the
fleet's, until the fleet's wall-clock allowance or its agent cap is spent. What a cut leaves an
agent below :data:`MIN_CYCLE_SECONDS` is not worth a cycle, so it waits for the next round.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from oneiro.dream.budget import CycleBudget
from oneiro.errors import BudgetError
from oneiro.scheduler import Decision

#: The shortest cycle worth starting: below this a cycle spends its time opening the store and
#: reading its snapshot (a T0 cycle over a few hundred episodes takes ~1 s on one core).
MIN_CYCLE_SECONDS = 1.0


@dataclass(frozen=True)
class FleetBudget:
    """What one fleet round may spend: the sum of its cycles' wall-clock budgets, and at most
    ``max_agents`` cycles (None: no cap)."""

    wall_seconds: float
    max_agents: int | None = None

    def __post_init__(self) -> None:
        if not 0 < self.wall_seconds < float("inf"):
            raise BudgetError(
                f"a fleet needs a positive, finite wall-clock budget, got {self.wall_seconds!r}"
            )
        if self.max_agents is not None and self.max_agents < 1:
            raise BudgetError(f"max_agents must be at least 1, got {self.max_agents!r}")


@dataclass(frozen=True)
class Assignment:
    """One agent's cycle in this round: its budget and why it was chosen."""

    agent: str
    budget: CycleBudget
    reason: str
    urgency: float


@dataclass(frozen=True)
class Plan:
    assignments: tuple[Assignment, ...]
    #: Agents whose own scheduler said no, with its reason.
    declined: dict[str, str]
    #: Agents that wanted to dream but found the fleet's budget spent.
    deferred: tuple[str, ...]

    @property
    def planned_seconds(self) -> float:
        return sum(a.budget.wall_seconds for a in self.assignments)


def plan(decisions: Mapping[str, Decision], budget: FleetBudget) -> Plan:
    """The agents that dream this round, most urgent first, within ``budget``."""
    declined = {name: d.reason for name, d in decisions.items() if not d.dream or d.budget is None}
    wanting = sorted(
        ((name, d) for name, d in decisions.items() if name not in declined),
        key=lambda item: (-item[1].urgency, item[0]),
    )
    left = budget.wall_seconds
    chosen: list[Assignment] = []
    deferred: list[str] = []
    for name, decision in wanting:
        own = decision.budget
        assert own is not None  # declined otherwise
        full = budget.max_agents is not None and len(chosen) >= budget.max_agents
        seconds = min(own.wall_seconds, left)
        if full or seconds < MIN_CYCLE_SECONDS:
            deferred.append(name)
            continue
        cut = CycleBudget(seconds, own.tokens, own.tier, own.vitality)
        chosen.append(Assignment(name, cut, decision.reason, decision.urgency))
        left -= seconds
    return Plan(tuple(chosen), declined, tuple(deferred))
