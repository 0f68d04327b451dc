"""Budgets: the phase split by budget state, malformed budgets refused, and each phase stopping at
its share (of wall-clock time and of tokens) and reporting what it did and what it left."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from oneiro.dream.budget import (
    TERMINAL,
    THRIVING,
    BudgetState,
    CycleBudget,
    PhaseBudget,
    budget_state,
    phase_split,
)
from oneiro.dream.phase import PHASE_ORDER, Carry, Context, Outcome, PhaseName, Snapshot
from oneiro.errors import BudgetError
from oneiro.memory import Memory
from oneiro.model import Tier
from test_cycle import day

#: One unit of work of the grinding operation (seconds).
UNIT_SECONDS = 0.002
#: A cap on units, so a broken budget cannot hang the test.
MAX_UNITS = 5000


@dataclass
class Grind:
    """Works in units until its phase's budget is exhausted; each unit spends ``tokens``."""

    name: str = "grind"
    tokens: int = 0
    tier: Tier = Tier.T0

    def run(self, snap: Snapshot, ctx: Context, carry: Carry) -> Outcome:
        done = 0
        while done < MAX_UNITS and not ctx.budget.exhausted():
            if self.tokens:
                ctx.budget.spend_tokens(self.tokens)
            else:
                time.sleep(UNIT_SECONDS)
            done += 1
        return Outcome(did={"units": done}, left={"units": MAX_UNITS - done})


@given(st.floats(min_value=0.0, max_value=1.0))
def test_every_split_sums_to_one_and_lies_between_the_columns(vitality: float) -> None:
    split = phase_split(vitality)
    assert set(split) == set(PHASE_ORDER)
    assert math.isclose(sum(split.values()), 1.0)
    for p, share in split.items():
        lo, hi = sorted((TERMINAL[p], THRIVING[p]))
        assert lo - 1e-12 <= share <= hi + 1e-12


def test_the_split_ends_at_the_seed_columns_and_is_linear_between() -> None:
    assert phase_split(1.0) == pytest.approx(THRIVING) and phase_split(0.0) == pytest.approx(TERMINAL)
    assert phase_split(7.0) == pytest.approx(THRIVING) and phase_split(-3.0) == pytest.approx(TERMINAL)
    mid = phase_split(0.5)
    assert math.isclose(mid[PhaseName.INTEGRATION], (0.21 + 0.57) / 2)
    assert math.isclose(mid[PhaseName.NREM], (0.34 + 0.16) / 2)


@pytest.mark.parametrize(
    ("vitality", "state"),
    [
        (1.0, BudgetState.THRIVING),
        (0.75, BudgetState.THRIVING),
        (0.74, BudgetState.STABLE),
        (0.40, BudgetState.STABLE),
        (0.39, BudgetState.CONSERVATION),
        (0.15, BudgetState.CONSERVATION),
        (0.14, BudgetState.TERMINAL),
        (0.0, BudgetState.TERMINAL),
    ],
)
def test_budget_states_by_vitality(vitality: float, state: BudgetState) -> None:
    assert budget_state(vitality) is state
    assert CycleBudget(10.0, vitality=vitality).to_dict()["state"] == state.value


@pytest.mark.parametrize(
    "kwargs",
    [
        {"wall_seconds": 0},
        {"wall_seconds": -5.0},
        {"wall_seconds": math.nan},
        {"wall_seconds": math.inf},
        {"wall_seconds": True},
        {"wall_seconds": "60"},
        {"wall_seconds": 10.0, "tokens": -1},
        {"wall_seconds": 10.0, "tokens": True},
        {"wall_seconds": 10.0, "tokens": 2.5},
        {"wall_seconds": 10.0, "tier": Tier.T1},
        {"wall_seconds": 10.0, "vitality": 1.5},
        {"wall_seconds": 10.0, "vitality": math.nan},
    ],
)
def test_malformed_budgets_are_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(BudgetError):
        CycleBudget(**kwargs)


def test_a_budget_round_trips_through_its_dict() -> None:
    b = CycleBudget(12.5, 400, Tier.T1, 0.3)
    assert CycleBudget.from_dict(b.to_dict()) == b
    with pytest.raises(BudgetError):
        CycleBudget.from_dict({**b.to_dict(), "wall_seconds": 0})


def test_each_phase_stops_at_its_share_of_wall_time(memory: Memory) -> None:
    memory.record_many(day(3))
    memory.engine.phases = {p: (Grind(),) for p in PHASE_ORDER}
    wall = 0.6
    report = memory.dream(budget=CycleBudget(wall, vitality=1.0))
    assert report.status == "partial"  # every phase ran out of its share
    total = sum(p.seconds for p in report.phases)
    assert total <= wall + 0.25  # one unit and the phase's own bookkeeping past the share
    by = {p.phase: p for p in report.phases}
    for ph in report.phases:
        if ph.phase != "nrem":
            assert ph.did["grind.units"] > 0 and ph.left["grind.units"] > 0
    # NREM consolidates whole chunks only: the one it could not finish is discarded and left.
    assert by["nrem"].left["grind.units"] > 0 and by["nrem"].left["episodes"] == report.new_episodes
    assert report.left_episodes == report.new_episodes
    # NREM's share (34%) buys several times EVOLUTION's (5%).
    assert by["nrem"].seconds > 2 * by["evolution"].seconds


def test_operations_after_the_share_is_spent_are_left_and_reported(memory: Memory) -> None:
    memory.record_many(day(3))
    memory.engine.phases = {p: (Grind(), Grind("second")) for p in PHASE_ORDER}
    report = memory.dream(budget=CycleBudget(0.2))
    for ph in report.phases:
        assert ph.left.get("operations.second") == 1
        assert "budget share used up after 1 of 2 operations" in ph.note
    phases = memory.journal(report.cycle_id, kind="phase")
    assert all(r.payload["left"]["operations.second"] == 1 for r in phases)


def test_each_phase_gets_its_share_of_tokens_even_when_it_rounds_to_zero(memory: Memory) -> None:
    memory.record_many(day(3))
    memory.engine.phases = {p: (Grind(tokens=1),) for p in PHASE_ORDER}
    tokens = 10
    report = memory.dream(budget=CycleBudget(60.0, tokens=tokens, tier=Tier.T1, vitality=1.0))
    split = phase_split(1.0)
    for ph in report.phases:
        if ph.phase == "nrem":  # the chunk that ran out of tokens is discarded, whole
            assert ph.left["grind.units"] > 0 and ph.left["episodes"] == report.new_episodes
            continue
        assert ph.did.get("grind.units", 0) == int(split[PhaseName(ph.phase)] * tokens), ph.phase
    # EVOLUTION's 5% of 10 tokens is none: the operation is not even started.
    evolution = next(p for p in report.phases if p.phase == "evolution")
    assert evolution.left == {"operations.grind": 1}


def test_a_phase_budget_without_tokens_meters_none() -> None:
    clock = iter([0.0, 1.0, 2.0, 100.0])
    b = PhaseBudget(50.0, 0, lambda: next(clock))
    b.spend_tokens(10_000)
    assert not b.exhausted() and not b.exhausted()
    assert b.exhausted()
