"""The effect gate against a real SQLite store and a real loopback server that counts requests."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import FakeClock
from loopback import CountingServer, post_json
from oneiro import gate as gate_module
from oneiro.errors import (
    ConfigError,
    EffectGateViolation,
    InvalidInput,
    PipelineRegistrationError,
    UnknownPipeline,
)
from oneiro.gate import (
    REASON_ASLEEP,
    REASON_DREAM_GATE,
    REASON_PIPELINE_FAILED,
    DispatchStatus,
    Effect,
    Gate,
    current_mode,
    spawn_thread,
)
from oneiro.model import Mode
from oneiro.shadows import ReplayShadow, StubShadow
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


def publisher(g: Gate, server: CountingServer, **options: Any) -> Any:
    @g.pipeline("publish", effect="effectful", **options)
    def publish(text: str) -> Any:
        return post_json(server.url + "/publish", {"text": text})

    return publish


# -- registration ---------------------------------------------------------------------------------
def test_missing_or_unknown_effect_is_refused(gate: Gate) -> None:
    with pytest.raises(PipelineRegistrationError, match="no effect class"):
        gate.register("a", lambda: 1)
    with pytest.raises(PipelineRegistrationError, match="unknown effect 'pur'"):
        gate.register("a", lambda: 1, effect="pur")
    with pytest.raises(PipelineRegistrationError, match="no effect class"):
        gate.pipeline("b")(lambda: 1)
    assert gate.pipelines() == {}


def test_same_name_with_another_class_is_refused(gate: Gate) -> None:
    def f() -> int:
        return 1

    gate.register("f", f, effect="pure")
    gate.register("f", f, effect="pure")  # the same registration again is harmless
    with pytest.raises(PipelineRegistrationError, match="already registered as pure"):
        gate.register("f", f, effect="effectful")
    with pytest.raises(PipelineRegistrationError, match="another function"):
        gate.register("f", lambda: 2, effect="pure")
    assert gate.pipelines() == {"f": Effect.PURE}


def test_shadow_on_pure_noncallable_and_bad_shadow_are_refused(gate: Gate) -> None:
    with pytest.raises(PipelineRegistrationError, match="is pure"):
        gate.register("p", lambda: 1, effect="pure", shadow=StubShadow(1))
    with pytest.raises(PipelineRegistrationError, match="not callable"):
        gate.register("n", 42, effect="pure")  # type: ignore[arg-type]
    with pytest.raises(PipelineRegistrationError, match=r"not a oneiro\.shadows\.Shadow"):
        gate.register("s", lambda: 1, effect="effectful", shadow=object())  # type: ignore[arg-type]
    with pytest.raises(PipelineRegistrationError, match="non-empty string name"):
        gate.register("", lambda: 1, effect="pure")
    assert gate.pipelines() == {}


def test_unknown_pipeline_and_bad_policy(gate: Gate, store: SQLiteStore, clock: FakeClock) -> None:
    with pytest.raises(UnknownPipeline, match="nope"):
        gate.dispatch("nope")
    with pytest.raises(ConfigError):
        Gate(store, clock, sleep="sometimes")


# -- dispatch -------------------------------------------------------------------------------------
def test_awake_effectful_runs_and_is_recorded(gate: Gate, server: CountingServer, clock: FakeClock) -> None:
    publisher(gate, server)
    result = gate.dispatch("publish", text="hello")
    assert result.status is DispatchStatus.OK and result.mode is Mode.AWAKE
    assert result.value["body"] == {"text": "hello"}
    assert server.count("POST") == 1
    (row,) = gate.recorded()
    assert row.seq == result.seq and row.ts == clock.now
    assert (row.pipeline, row.effect, row.mode, row.status) == ("publish", "effectful", "awake", "ok")
    assert json.loads(row.request) == {"args": [], "kwargs": {"text": "hello"}}
    assert row.response == result.value and row.error is None


def test_request_hash_is_canonical(gate: Gate) -> None:
    gate.register("e", lambda **kw: sorted(kw), effect="effectful")
    first = gate.dispatch("e", a=1, b={"y": 2, "x": 1})
    second = gate.dispatch("e", b={"x": 1, "y": 2}, a=1)
    rows = {r.seq: r for r in gate.recorded()}
    assert rows[first.seq].request_hash == rows[second.seq].request_hash


def test_pure_runs_in_both_modes_and_is_not_recorded(gate: Gate) -> None:
    gate.register("double", lambda x: 2 * x, effect="pure")
    assert gate.dispatch("double", 4).value == 8
    with gate.dreaming("c1"):
        result = gate.dispatch("double", 5)
    assert (result.status, result.value, result.mode) == (DispatchStatus.OK, 10, Mode.DREAM)
    assert gate.recorded() == []


def test_dream_effectful_without_shadow_is_skipped(gate: Gate, server: CountingServer) -> None:
    publisher(gate, server)
    with gate.dreaming("c1"):
        result = gate.dispatch("publish", text="x")
    assert (result.status, result.reason) == (DispatchStatus.SKIPPED, REASON_DREAM_GATE)
    assert server.count() == 0
    (row,) = gate.recorded()
    assert (row.mode, row.status, row.cycle_id, row.has_response) == ("dream", "skipped", "c1", False)


def test_dream_replays_the_recorded_answer(gate: Gate, server: CountingServer) -> None:
    publisher(gate, server, shadow=ReplayShadow())
    awake = gate.dispatch("publish", "seen")
    with gate.dreaming("c1"):
        replayed = gate.dispatch("publish", "seen")
        unseen = gate.dispatch("publish", "never sent")
    assert server.count() == 1
    assert replayed.status is DispatchStatus.SIMULATED and replayed.value == awake.value
    assert replayed.source == f"replay:{awake.seq}"
    assert (unseen.status, unseen.reason) == (DispatchStatus.SKIPPED, REASON_DREAM_GATE)


def test_raising_pipeline_is_an_error_and_recorded(gate: Gate) -> None:
    def broken(x: int) -> int:
        raise ValueError(f"bad {x}")

    gate.register("broken", broken, effect="effectful")
    result = gate.dispatch("broken", 3)
    assert (result.status, result.reason, result.error) == (
        DispatchStatus.ERROR,
        REASON_PIPELINE_FAILED,
        "ValueError: bad 3",
    )
    (row,) = gate.recorded()
    assert (row.status, row.error, row.has_response) == ("error", "ValueError: bad 3", False)


def test_non_json_arguments_are_refused_before_running(gate: Gate, server: CountingServer) -> None:
    publisher(gate, server)
    with pytest.raises(InvalidInput, match="JSON"):
        gate.dispatch("publish", text={1, 2})
    assert server.count() == 0 and gate.recorded() == []


# -- the structural gate ---------------------------------------------------------------------------
def test_direct_call_while_dreaming_raises(gate: Gate, server: CountingServer) -> None:
    publish = publisher(gate, server)
    gate.register("sneaky", lambda: publish("from a pure pipeline"), effect="pure")
    with gate.dreaming("c1"):
        with pytest.raises(EffectGateViolation, match="'publish'"):
            publish("direct")
        with pytest.raises(EffectGateViolation):
            gate.dispatch("sneaky")
        with pytest.raises(EffectGateViolation):
            gate.guarded("publish")("through guarded()")
    assert server.count() == 0
    assert publish("awake again")["id"] == 1


def test_helper_threads_and_tasks_inherit_dream_mode(gate: Gate, server: CountingServer) -> None:
    publish = publisher(gate, server)
    seen: list[Any] = []

    def attempt() -> None:
        try:
            seen.append(publish("from a thread"))
        except EffectGateViolation as exc:
            seen.append(exc)

    async def task() -> Mode:
        await asyncio.sleep(0)
        with pytest.raises(EffectGateViolation):
            publish("from a task")
        return current_mode()

    with gate.dreaming("c1"):
        spawn_thread(attempt).join()
        assert asyncio.run(task()) is Mode.DREAM
    assert isinstance(seen[0], EffectGateViolation)
    assert server.count() == 0


def test_plain_thread_is_awake_under_concurrent_sleep(gate: Gate, server: CountingServer) -> None:
    """Documented limit: threading.Thread does not inherit contextvars; concurrent sleep lets it act."""
    publisher(gate, server)
    results: list[Any] = []
    with gate.dreaming("c1"):
        t = threading.Thread(target=lambda: results.append(gate.dispatch("publish", "awake work")))
        t.start()
        t.join()
    assert results[0].status is DispatchStatus.OK and server.count() == 1


def test_exclusive_sleep_refuses_every_context(
    store: SQLiteStore, clock: FakeClock, server: CountingServer
) -> None:
    g = Gate(store, clock, sleep="exclusive")
    publish = publisher(g, server)
    results: list[Any] = []

    def other_context() -> None:
        results.append(g.dispatch("publish", "awake"))
        results.append(g.mode())
        try:
            publish("direct")
        except EffectGateViolation as exc:
            results.append(exc)

    with g.dreaming("c1"):
        t = threading.Thread(target=other_context)
        t.start()
        t.join()
    assert (results[0].status, results[0].reason) == (DispatchStatus.SKIPPED, REASON_ASLEEP)
    assert results[1] is Mode.DREAM and isinstance(results[2], EffectGateViolation)
    assert server.count() == 0
    assert g.dispatch("publish", "awake").ok and server.count() == 1


def test_exclusive_sees_another_process_through_the_store(
    store: SQLiteStore, clock: FakeClock, server: CountingServer
) -> None:
    """The dream lease, not process state, says whether the store sleeps: a live process here or
    anywhere on another host holding it closes the gate until the lease is released or lapses."""
    g = Gate(store, clock, sleep="exclusive")
    publisher(g, server)
    here, now = socket.gethostname(), time.time()
    assert store.lease_acquire("c9", here, os.getppid(), now, 600.0)[0]
    assert g.store_mode() is Mode.DREAM
    assert g.dispatch("publish", "x").reason == REASON_ASLEEP
    assert store.lease_release("c9")
    assert store.lease_acquire("c9", here, _dead_pid(), now, 600.0)[0]
    assert g.store_mode() is Mode.AWAKE  # the dreamer crashed: the lease it left binds no one
    assert g.dispatch("publish", "x").ok and server.count() == 1
    assert store.lease_release("c9")
    assert store.lease_acquire("c10", "elsewhere", _dead_pid(), now, 600.0)[0]
    assert g.store_mode() is Mode.DREAM  # a pid on another host cannot be checked: until it lapses
    assert g.dispatch("publish", "y").reason == REASON_ASLEEP
    assert store.lease_release("c10")
    assert store.lease_acquire("c11", "elsewhere", 1, now - 700.0, 600.0)[0]
    assert g.store_mode() is Mode.AWAKE  # lapsed
    assert g.dispatch("publish", "y").ok and server.count() == 2


def test_exclusive_sleeps_while_another_memory_on_the_file_dreams(tmp_path: Path) -> None:
    """Two Memory objects on one file: the second one's gate sleeps while the first one's cycle
    holds the lease, and wakes when it ends."""
    import oneiro
    from oneiro.dream.phase import PhaseName
    from test_cycle import Blocker, cycle_thread, day, with_phase, writers

    a = oneiro.open(tmp_path / "s.db", embedder="hashing", overrides={"sleep": "exclusive"})
    b = oneiro.open(tmp_path / "s.db", embedder="hashing", overrides={"sleep": "exclusive"})
    server_calls: list[str] = []

    @b.pipeline("send", effect="effectful")
    def send(text: str) -> None:
        server_calls.append(text)

    try:
        a.record_many(day(3))
        blocker = Blocker()
        a.engine.phases = with_phase(writers(), PhaseName.REM, blocker)
        thread, out = cycle_thread(a)
        assert blocker.entered.wait(30)
        assert b.mode() is Mode.DREAM
        assert b.dispatch("send", "x").reason == REASON_ASLEEP
        blocker.release.set()
        thread.join(30)
        assert out["report"].status == "completed"
        assert b.mode() is Mode.AWAKE and b.dispatch("send", "y").ok
        assert server_calls == ["y"]
    finally:
        a.close()
        b.close()


def _dead_pid() -> int:
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


# -- modes ----------------------------------------------------------------------------------------
def test_dreaming_restores_awake_and_journals(gate: Gate, store: SQLiteStore) -> None:
    with pytest.raises(RuntimeError), gate.dreaming("c1"):
        assert current_mode() is Mode.DREAM and gate.mode() is Mode.DREAM
        assert store.get_meta("mode") == "dream"
        raise RuntimeError("a phase failed")
    assert current_mode() is Mode.AWAKE and gate.mode() is Mode.AWAKE
    assert store.get_meta("mode") == "awake"
    changes = store.journal_read(kind="mode_change")
    assert [(r.payload["from"], r.payload["to"], r.cycle_id) for r in changes] == [
        ("awake", "dream", "c1"),
        ("dream", "awake", "c1"),
    ]
    assert store.journal_verify() == 2


def test_dreaming_needs_a_cycle_id(gate: Gate) -> None:
    with pytest.raises(InvalidInput), gate.dreaming(""):
        pass
    assert current_mode() is Mode.AWAKE


def test_child_environment_carries_the_mode(gate: Gate) -> None:
    assert gate_module.child_environment() == {"ONEIRO_MODE": "awake"}
    with gate.dreaming("c7"):
        assert gate_module.child_environment() == {"ONEIRO_MODE": "dream", "ONEIRO_CYCLE": "c7"}
