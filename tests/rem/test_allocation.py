"""REM's creative floor: rehearsal keeps its share however long imagination runs, and the
operations before it stop at theirs and say what they left."""

from __future__ import annotations

from rem_helpers import context, record_decisions, set_rules, snapshot

from oneiro.config import Config
from oneiro.dream.budget import PhaseBudget
from oneiro.dream.ops.rem.allocation import Share
from oneiro.dream.phase import Carry
from oneiro.dream.phases.rem import rem_operations
from oneiro.memory import Memory


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_shares_end_at_their_part_of_the_phase() -> None:
    clock = Clock()
    phase = PhaseBudget(10.0, 0, clock)
    first, second = Share(phase, 0.6), Share(phase, 0.8)
    clock.t = 6.5
    assert first.exhausted() and not second.exhausted() and not phase.exhausted()
    clock.t = 8.5
    assert second.exhausted() and not phase.exhausted()


def test_threat_rehearsal_keeps_the_last_floor_of_the_phase(memory: Memory) -> None:
    from dataclasses import replace

    eps = record_decisions(
        memory, {"fragile": (lambda x: 1.2 - 3.0 * x, 0.0, 0.35), "safe": (lambda x: 0.8, 0.0, 1.0)}, 40
    )
    set_rules(memory, [("r", "Always take fragile", {"action": "fragile"})])
    clock = Clock()
    ctx = replace(context(memory), budget=PhaseBudget(10.0, 0, clock))
    clock.t = 8.5  # past imagination's share (1 - 0.2), inside rehearsal's
    outs = {op.name: op.run(snapshot(memory, eps), ctx, Carry()) for op in rem_operations(Config())}
    assert outs["counterfactuals"].did["decisions"] == 0 and outs["counterfactuals"].left
    assert outs["creative_predictions"].did["made"] == 0 and outs["creative_predictions"].left
    assert outs["threat_simulation"].did["threats"] == 1 and not outs["threat_simulation"].left
