"""Shadows answer for effectful pipelines while dreaming; the real function never runs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from oneiro.errors import EffectGateViolation
from oneiro.gate import REASON_DREAM_GATE, REASON_SHADOW_FAILED, DispatchStatus, Gate
from oneiro.shadows import FirstAnswer, ReplayShadow, ShadowCall, Simulation, StubShadow
from oneiro.store import SQLiteStore


class Calls:
    """The world behind the pipeline: counts how often it was really reached."""

    def __init__(self) -> None:
        self.n = 0

    def charge(self, amount: int) -> dict[str, Any]:
        self.n += 1
        if amount < 0:
            raise ValueError("negative amount")
        return {"charged": amount, "call": self.n}


class PriceModel(Simulation):
    def simulate(self, amount: int) -> dict[str, Any]:
        return {"charged": amount, "simulated": True}


class Broken(Simulation):
    def simulate(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("model file missing")


@pytest.fixture
def gate() -> Iterator[Gate]:
    store = SQLiteStore(":memory:")
    yield Gate(store, lambda: 1_000.0)
    store.close()


def test_replay_answers_with_the_latest_awake_response(gate: Gate) -> None:
    world = Calls()
    gate.register("charge", world.charge, effect="effectful", shadow=ReplayShadow())
    gate.dispatch("charge", 5)
    latest = gate.dispatch("charge", 5)
    gate.dispatch("charge", -1)  # an error is never replayed
    with gate.dreaming("c1"):
        replayed = gate.dispatch("charge", 5)
        failed_before = gate.dispatch("charge", -1)
        again = gate.dispatch("charge", 5)
    assert world.n == 3
    assert (replayed.status, replayed.value, replayed.source) == (
        DispatchStatus.SIMULATED,
        {"charged": 5, "call": 2},
        f"replay:{latest.seq}",
    )
    assert again.source == replayed.source  # dream records are not replay sources
    assert (failed_before.status, failed_before.reason) == (DispatchStatus.SKIPPED, REASON_DREAM_GATE)


def test_stub_and_simulation(gate: Gate) -> None:
    world = Calls()
    gate.register("stubbed", world.charge, effect="effectful", shadow=StubShadow({"queued": True}))
    gate.register("modelled", world.charge, effect="effectful", shadow=PriceModel())
    with gate.dreaming("c1"):
        stub = gate.dispatch("stubbed", 3)
        model = gate.dispatch("modelled", amount=4)
    assert (stub.status, stub.value, stub.source) == (DispatchStatus.SIMULATED, {"queued": True}, "stub")
    assert (model.value, model.source) == ({"charged": 4, "simulated": True}, "simulation:PriceModel")
    assert world.n == 0
    rows = gate.recorded()
    assert {r.status for r in rows} == {"simulated"} and all(r.mode == "dream" for r in rows)


def test_first_answer_falls_back_from_replay_to_simulation(gate: Gate) -> None:
    world = Calls()
    shadow = FirstAnswer(ReplayShadow(), PriceModel())
    gate.register("charge", world.charge, effect="effectful", shadow=shadow)
    gate.dispatch("charge", 1)
    with gate.dreaming("c1"):
        assert str(gate.dispatch("charge", 1).source).startswith("replay:")
        assert gate.dispatch("charge", 2).source == "simulation:PriceModel"
    assert world.n == 1


def test_a_raising_shadow_is_an_error_and_the_gate_stays_closed(gate: Gate) -> None:
    world = Calls()
    gate.register("charge", world.charge, effect="effectful", shadow=Broken())
    with gate.dreaming("c1"):
        result = gate.dispatch("charge", 9)
    assert (result.status, result.reason) == (DispatchStatus.ERROR, REASON_SHADOW_FAILED)
    assert result.error is not None and "Broken" in result.error and "model file missing" in result.error
    assert world.n == 0
    (row,) = gate.recorded()
    assert (row.status, row.mode, row.has_response) == ("error", "dream", False)


def test_a_shadow_cannot_call_the_real_pipeline(gate: Gate) -> None:
    world = Calls()

    class Cheat(Simulation):
        def simulate(self, amount: int) -> Any:
            return gate.guarded("charge")(amount)

    gate.register("charge", world.charge, effect="effectful", shadow=Cheat())
    with gate.dreaming("c1"), pytest.raises(EffectGateViolation):
        gate.dispatch("charge", 1)
    assert world.n == 0


def test_shadow_call_describes_the_request(gate: Gate) -> None:
    seen: list[ShadowCall] = []

    class Spy(Simulation):
        def answer(self, call: ShadowCall) -> Any:
            seen.append(call)
            return None

        def simulate(self, *args: Any, **kwargs: Any) -> Any:
            raise AssertionError("not reached")

    gate.register("charge", Calls().charge, effect="effectful", shadow=Spy())
    with gate.dreaming("c3"):
        result = gate.dispatch("charge", amount=2)
    assert result.status is DispatchStatus.SKIPPED
    (call,) = seen
    assert (call.pipeline, call.args, dict(call.kwargs), call.cycle_id) == ("charge", (), {"amount": 2}, "c3")
    assert call.recorded() is None
