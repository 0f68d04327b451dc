"""Doors around the gate: unwrapping the gated function, re-registering an effect as pure, and
refused direct calls that must leave a trace a user can read."""

from __future__ import annotations

import contextvars
import functools
import inspect
import threading
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import FakeClock
from loopback import CountingServer, post_json
from oneiro.errors import EffectGateViolation, PipelineRegistrationError
from oneiro.gate import DRY_RUN_CYCLE, REASON_DREAM_GATE, REFUSED_EVENT, Gate, adopt_mode
from oneiro.model import Mode
from oneiro.store import SQLiteStore


@pytest.fixture
def server() -> Iterator[CountingServer]:
    with CountingServer() as s:
        yield s


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    s = SQLiteStore(tmp_path / "gate.db")
    yield s
    s.close()


@pytest.fixture
def gate(store: SQLiteStore, clock: FakeClock) -> Gate:
    return Gate(store, clock)


def raw_sender(server: CountingServer) -> Callable[[str], Any]:
    def send(text: str) -> Any:
        """Post ``text`` to the world."""
        return post_json(server.url + "/send", {"text": text})

    return send


# -- __wrapped__ ------------------------------------------------------------------------------------
def test_gated_function_does_not_lead_back_to_the_raw_effect(gate: Gate, server: CountingServer) -> None:
    send = gate.pipeline("send", effect="effectful")(raw_sender(server))
    assert send.__name__ == "send" and send.__doc__ == "Post ``text`` to the world."
    assert not hasattr(send, "__wrapped__")
    assert inspect.unwrap(send) is send
    with gate.dreaming("c1"):
        with pytest.raises(EffectGateViolation):
            inspect.unwrap(send)("unwrapped")
        with pytest.raises(EffectGateViolation):
            getattr(send, "__wrapped__", send)("through the attribute")
    assert server.count() == 0


# -- the same effect under a pure name -------------------------------------------------------------
class Sender:
    def __init__(self, server: CountingServer) -> None:
        self.url = server.url

    def send(self, text: str) -> Any:
        return post_json(self.url + "/send", {"text": text})


def test_an_effect_cannot_be_registered_again_as_pure(gate: Gate, server: CountingServer) -> None:
    raw = raw_sender(server)
    gate.register("send", raw, effect="effectful")
    guarded = gate.guarded("send")

    @functools.wraps(raw)
    def wrapper(text: str) -> Any:
        return raw(text)

    copy = types.FunctionType(raw.__code__, raw.__globals__, "copy", raw.__defaults__, raw.__closure__)
    disguises: dict[str, Callable[..., Any]] = {
        "the raw function": raw,
        "the gated function": guarded,
        "a functools.wraps wrapper": wrapper,
        "a partial": functools.partial(raw, "fixed"),
        "a closure": lambda text: raw(text),
        "a default argument": lambda text, _go=raw: _go(text),
        "a copy of its code": copy,
        "a wrapper of the gated function": functools.wraps(guarded)(lambda *a: guarded(*a)),
    }
    for what, fn in disguises.items():
        with pytest.raises(PipelineRegistrationError, match="effectful pipeline 'send'"):
            gate.register(f"alias-{what}", fn, effect="pure")
    assert set(gate.pipelines()) == {"send"}
    with gate.dreaming("c1"):
        assert gate.dispatch("send", "x").reason == REASON_DREAM_GATE
    assert server.count() == 0


def test_bound_methods_and_either_order_are_refused(gate: Gate, server: CountingServer) -> None:
    sender = Sender(server)
    gate.register("method", sender.send, effect="effectful")
    with pytest.raises(PipelineRegistrationError):
        gate.register("method-again", sender.send, effect="pure")
    first = raw_sender(server)
    gate.register("looks-pure", lambda text: first(text), effect="pure")
    with pytest.raises(PipelineRegistrationError, match="'looks-pure'"):
        gate.register("really-effectful", first, effect="effectful")
    assert set(gate.pipelines()) == {"method", "looks-pure"}


def test_pure_code_may_still_call_the_gated_function(gate: Gate, server: CountingServer) -> None:
    """Holding the gated function is safe (its call is refused while dreaming), so it stays allowed."""
    send = gate.pipeline("send", effect="effectful")(raw_sender(server))
    gate.register("report", lambda: send("report"), effect="pure")
    gate.register("unrelated", lambda x: x + 1, effect="pure")
    with gate.dreaming("c1"), pytest.raises(EffectGateViolation):
        gate.dispatch("report")
    assert gate.dispatch("unrelated", 1).value == 2 and server.count() == 0


# -- refused direct calls are journaled -------------------------------------------------------------
def test_refused_direct_calls_are_journaled(gate: Gate, store: SQLiteStore, server: CountingServer) -> None:
    send = gate.pipeline("send", effect="effectful")(raw_sender(server))
    gate.register("sneaky", lambda: send("from pure"), effect="pure")
    with gate.dreaming("c1"):
        with pytest.raises(EffectGateViolation):
            send("direct")
        with pytest.raises(EffectGateViolation):
            gate.dispatch("sneaky")
    refused = store.journal_read(kind=REFUSED_EVENT)
    assert [(r.cycle_id, r.payload["pipeline"], r.payload["reason"]) for r in refused] == [
        ("c1", "send", "dream-mode-effect-gate"),
        ("c1", "send", "dream-mode-effect-gate"),
    ]
    assert refused[0].payload["request_hash"] and "direct" not in str(refused[0].payload)
    assert store.journal_verify() == 4 and server.count() == 0


def test_a_dry_run_journals_no_refusal(gate: Gate, store: SQLiteStore, server: CountingServer) -> None:
    send = gate.pipeline("send", effect="effectful")(raw_sender(server))

    def planned() -> None:
        adopt_mode(Mode.DREAM, DRY_RUN_CYCLE)
        with pytest.raises(EffectGateViolation):
            send("planned")

    contextvars.copy_context().run(planned)
    assert store.journal_read(kind=REFUSED_EVENT) == [] and server.count() == 0


def test_refusal_while_the_store_sleeps_names_the_dreaming_cycle(
    store: SQLiteStore, clock: FakeClock, server: CountingServer
) -> None:
    g = Gate(store, clock, sleep="exclusive")
    send = g.pipeline("send", effect="effectful")(raw_sender(server))
    errors: list[Exception] = []

    def awake_thread() -> None:
        try:
            send("while asleep")
        except EffectGateViolation as exc:
            errors.append(exc)

    with g.dreaming("c9"):
        t = threading.Thread(target=awake_thread)
        t.start()
        t.join()
    (record,) = store.journal_read(kind=REFUSED_EVENT)
    assert len(errors) == 1 and record.cycle_id == "c9"
    assert (record.payload["reason"], record.payload["mode"]) == ("asleep", "awake")
