"""The fleet's plan: each agent's own scheduler decides whether it dreams; the fleet's budget
decides how many of those do, most urgent first."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from oneiro.dream.budget import CycleBudget
from oneiro.errors import BudgetError
from oneiro.fleet.schedule import MIN_CYCLE_SECONDS, FleetBudget, plan
from oneiro.scheduler import Decision


def wants(seconds: float, urgency: float) -> Decision:
    return Decision(True, "backlog", budget=CycleBudget(seconds), urgency=urgency)


def test_an_agent_whose_scheduler_declines_never_dreams_whatever_the_budget() -> None:
    got = plan({"a": Decision(False, "nothing new"), "b": wants(10, 1.0)}, FleetBudget(1e6))
    assert [x.agent for x in got.assignments] == ["b"] and got.declined == {"a": "nothing new"}


def test_the_most_urgent_go_first_and_the_last_is_cut_to_what_is_left() -> None:
    decisions = {"low": wants(30, 0.5), "high": wants(30, 3.0), "mid": wants(30, 1.0)}
    got = plan(decisions, FleetBudget(70))
    assert [(x.agent, x.budget.wall_seconds) for x in got.assignments] == [
        ("high", 30),
        ("mid", 30),
        ("low", 10),
    ]
    assert got.deferred == ()


def test_the_agent_cap_and_a_spent_budget_defer_the_rest() -> None:
    decisions = {f"a{i}": wants(10, float(i)) for i in range(5)}
    capped = plan(decisions, FleetBudget(1000, max_agents=2))
    assert [x.agent for x in capped.assignments] == ["a4", "a3"] and set(capped.deferred) == {
        "a0",
        "a1",
        "a2",
    }
    spent = plan(decisions, FleetBudget(20 + MIN_CYCLE_SECONDS / 2))
    assert [x.agent for x in spent.assignments] == ["a4", "a3"]


@pytest.mark.parametrize("bad", [0, -1, float("inf")])
def test_a_fleet_budget_must_be_positive_and_finite(bad: float) -> None:
    with pytest.raises(BudgetError):
        FleetBudget(bad)


@given(
    st.dictionaries(
        st.text("abcdef", min_size=1, max_size=4),
        st.tuples(st.booleans(), st.floats(1, 600), st.floats(0, 10)),
        max_size=12,
    ),
    st.floats(1, 3000),
    st.one_of(st.none(), st.integers(1, 12)),
)
def test_a_plan_never_exceeds_the_fleet_or_an_agents_own_budget(
    raw: dict[str, tuple[bool, float, float]], total: float, cap: int | None
) -> None:
    decisions = {n: wants(s, u) if dream else Decision(False, "no") for n, (dream, s, u) in raw.items()}
    got = plan(decisions, FleetBudget(total, cap))
    assert got.planned_seconds <= total + 1e-9
    assert cap is None or len(got.assignments) <= cap
    for a in got.assignments:
        own = decisions[a.agent].budget
        assert decisions[a.agent].dream and own is not None and a.budget.wall_seconds <= own.wall_seconds
    assert {a.agent for a in got.assignments} | set(got.declined) | set(got.deferred) == set(decisions)
