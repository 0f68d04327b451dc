"""The gate's invariant, generated: no effectful request leaves a dreaming context.

A Hypothesis state machine drives two gates (``sleep="concurrent"`` and ``sleep="exclusive"``), each
on its own SQLite file, with effectful pipelines that POST to a real loopback server which counts
what it receives. Each step dispatches a pipeline (effectful, pure, a pure one that dispatches an
effectful one, a pure one that lies and calls an effectful function directly) or calls an effectful
function directly, from the current context, a thread started through ``spawn_thread``, an asyncio
task, or a plain ``threading.Thread`` (which does not inherit the mode); other steps fall asleep
(nesting up to two cycles) or wake up. A model predicts every step's status and the exact number of
requests the server must see; requests from a dreaming context must be zero.

Set ``GATE_PROPERTIES_OUT`` to a path to write the counts as JSON.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from loopback import CountingServer, post_json
from oneiro.errors import EffectGateViolation
from oneiro.gate import (
    REASON_ASLEEP,
    REASON_DREAM_GATE,
    REASON_SHADOW_FAILED,
    DispatchResult,
    DispatchStatus,
    Gate,
    current_mode,
    spawn_thread,
)
from oneiro.model import Mode
from oneiro.shadows import ReplayShadow, Simulation, StubShadow
from oneiro.store import SQLiteStore

#: Sequences (state machine runs) per policy; two policies give 3,000 sequences in all.
SEQUENCES_PER_POLICY = 1_500
#: Steps per sequence: enough to nest two cycles and act in each of them.
STEPS_PER_SEQUENCE = 8
#: Cycles that may be open at once in one sequence (a dream inside a dream).
MAX_NESTING = 2
ARGS = st.integers(min_value=0, max_value=3)
VIAS = ("inline", "helper_thread", "task", "plain_thread")
#: One event loop for every task step (a task copies the caller's context when it is created).
_LOOP = asyncio.new_event_loop()


class Imagined(Simulation):
    def simulate(self, n: int) -> dict[str, Any]:
        return {"imagined": n}


class Failing(Simulation):
    def simulate(self, n: int) -> Any:
        raise RuntimeError("no model")


#: Effectful pipelines by the shadow they carry, and the status a dreaming dispatch gets (None:
#: depends on whether the request was recorded awake).
SHADOWS: dict[str, tuple[Callable[[], Any], DispatchStatus | None]] = {
    "e_none": (lambda: None, DispatchStatus.SKIPPED),
    "e_replay": (ReplayShadow, None),
    "e_stub": (lambda: StubShadow({"stub": True}), DispatchStatus.SIMULATED),
    "e_sim": (Imagined, DispatchStatus.SIMULATED),
    "e_broken": (Failing, DispatchStatus.ERROR),
}


@dataclass
class World:
    """What every sequence shares: the server, one gate per policy, and the counts."""

    server: CountingServer
    gates: dict[str, Gate]
    recorded: set[tuple[str, str, int]] = field(default_factory=set)
    counts: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(
            (
                "sequences",
                "steps",
                "dispatches",
                "direct_calls",
                "requests",
                "dreaming_steps",
                "dream_requests",
            ),
            0,
        )
    )


def build_gate(store: SQLiteStore, sleep: str, url: str) -> Gate:
    gate = Gate(store, lambda: 0.0, sleep=sleep)
    for name, (make_shadow, _) in SHADOWS.items():
        gate.register(name, _poster(url, name), effect="effectful", shadow=make_shadow())
    gate.register("p_compute", lambda n: n * 2, effect="pure")
    gate.register("p_nested", lambda name, n: gate.dispatch(name, n).status.value, effect="pure")
    gate.register("p_lying", lambda name, n: gate.guarded(name)(n), effect="pure")
    return gate


def _poster(url: str, name: str) -> Callable[[int], Any]:
    def post(n: int) -> Any:
        return post_json(f"{url}/{name}", {"n": n})

    return post


def run_in(via: str, fn: Callable[[], Any]) -> Any:
    """Run ``fn`` in the given kind of context; return its value or the exception it raised."""
    box: list[Any] = []

    def capture() -> None:
        try:
            box.append(fn())
        except Exception as exc:
            box.append(exc)

    if via == "inline":
        capture()
    elif via == "helper_thread":
        spawn_thread(capture).join()
    elif via == "plain_thread":
        thread = threading.Thread(target=capture)
        thread.start()
        thread.join()
    else:

        async def main() -> None:
            await asyncio.create_task(asyncio.sleep(0))
            await asyncio.create_task(_as_coroutine(capture))

        _LOOP.run_until_complete(main())
    return box[0]


async def _as_coroutine(fn: Callable[[], None]) -> None:
    fn()


class GateMachine(RuleBasedStateMachine):
    world: World
    policy: str

    def __init__(self) -> None:
        super().__init__()
        self.gate = self.world.gates[self.policy]
        self.dreams: list[AbstractContextManager[None]] = []
        self.cycles = 0
        self.world.counts["sequences"] += 1

    @property
    def depth(self) -> int:
        return len(self.dreams)

    def teardown(self) -> None:
        while self.dreams:
            self.dreams.pop().__exit__(None, None, None)

    # -- the model -------------------------------------------------------------------------
    def dreaming_context(self, via: str) -> bool:
        return self.depth > 0 and via != "plain_thread"

    def closed(self, via: str) -> bool:
        """Effects refused: a dreaming context, or any context of an exclusive store that sleeps."""
        return self.dreaming_context(via) or (self.depth > 0 and self.policy == "exclusive")

    def expected_status(self, name: str, n: int, via: str) -> tuple[DispatchStatus, str | None, int]:
        if self.dreaming_context(via):
            status = SHADOWS[name][1]
            if status is None:
                replayable = (self.policy, name, n) in self.world.recorded
                status = DispatchStatus.SIMULATED if replayable else DispatchStatus.SKIPPED
            reason = {DispatchStatus.SKIPPED: REASON_DREAM_GATE, DispatchStatus.ERROR: REASON_SHADOW_FAILED}
            return status, reason.get(status), 0
        if self.closed(via):
            return DispatchStatus.SKIPPED, REASON_ASLEEP, 0
        return DispatchStatus.OK, None, 1

    def observe(self, via: str, action: Callable[[], Any], expected_requests: int) -> Any:
        before = self.world.server.count()
        outcome = run_in(via, action)
        seen = self.world.server.count() - before
        counts = self.world.counts
        counts["steps"] += 1
        counts["requests"] += seen
        if self.dreaming_context(via):
            counts["dreaming_steps"] += 1
            counts["dream_requests"] += seen
            assert seen == 0, f"{seen} effectful request(s) left a dreaming context"
        assert seen == expected_requests, (via, outcome)
        return outcome

    # -- rules ------------------------------------------------------------------------------
    @rule(name=st.sampled_from(sorted(SHADOWS)), n=ARGS, via=st.sampled_from(VIAS))
    def dispatch_effectful(self, name: str, n: int, via: str) -> None:
        status, reason, requests = self.expected_status(name, n, via)
        result = self.observe(via, lambda: self.gate.dispatch(name, n), requests)
        self.world.counts["dispatches"] += 1
        assert isinstance(result, DispatchResult), result
        assert (result.status, result.reason) == (status, reason)
        if status is DispatchStatus.OK:
            self.world.recorded.add((self.policy, name, n))

    @rule(name=st.sampled_from(sorted(SHADOWS)), n=ARGS, via=st.sampled_from(VIAS))
    def dispatch_nested(self, name: str, n: int, via: str) -> None:
        status, _, requests = self.expected_status(name, n, via)
        result = self.observe(via, lambda: self.gate.dispatch("p_nested", name, n), requests)
        self.world.counts["dispatches"] += 2
        assert isinstance(result, DispatchResult) and result.ok, result
        assert result.value == status.value
        if status is DispatchStatus.OK:
            self.world.recorded.add((self.policy, name, n))

    @rule(name=st.sampled_from(sorted(SHADOWS)), n=ARGS, via=st.sampled_from(VIAS))
    def dispatch_lying_pure(self, name: str, n: int, via: str) -> None:
        closed = self.closed(via)
        outcome = self.observe(via, lambda: self.gate.dispatch("p_lying", name, n), 0 if closed else 1)
        self.world.counts["dispatches"] += 1
        if closed:
            assert isinstance(outcome, EffectGateViolation), outcome
        else:
            assert isinstance(outcome, DispatchResult) and outcome.ok, outcome

    @rule(name=st.sampled_from(sorted(SHADOWS)), n=ARGS, via=st.sampled_from(VIAS))
    def call_directly(self, name: str, n: int, via: str) -> None:
        closed = self.closed(via)
        outcome = self.observe(via, lambda: self.gate.guarded(name)(n), 0 if closed else 1)
        self.world.counts["direct_calls"] += 1
        assert isinstance(outcome, EffectGateViolation) == closed, outcome

    @rule(n=ARGS, via=st.sampled_from(VIAS))
    def dispatch_pure(self, n: int, via: str) -> None:
        result = self.observe(via, lambda: self.gate.dispatch("p_compute", n), 0)
        self.world.counts["dispatches"] += 1
        assert isinstance(result, DispatchResult) and result.value == 2 * n

    @precondition(lambda self: self.depth < MAX_NESTING)
    @rule()
    def fall_asleep(self) -> None:
        self.cycles += 1
        dream = self.gate.dreaming(f"c{self.cycles}")
        dream.__enter__()
        self.dreams.append(dream)

    @precondition(lambda self: self.depth > 0)
    @rule()
    def wake_up(self) -> None:
        self.dreams.pop().__exit__(None, None, None)

    @invariant()
    def modes_agree(self) -> None:
        expected = Mode.DREAM if self.depth else Mode.AWAKE
        assert current_mode() is expected
        assert self.gate.mode() is expected
        assert self.gate.store_mode() is expected


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("gate-properties")
    with CountingServer() as server:
        stores = {policy: SQLiteStore(root / f"{policy}.db") for policy in ("concurrent", "exclusive")}
        gates = {policy: build_gate(store, policy, server.url) for policy, store in stores.items()}
        yield World(server, gates)
        for store in stores.values():
            store.close()


@pytest.mark.parametrize("policy", ["concurrent", "exclusive"])
def test_no_effect_leaves_a_dreaming_context(world: World, policy: str) -> None:
    machine = type(f"GateMachine_{policy}", (GateMachine,), {"world": world, "policy": policy})
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=SEQUENCES_PER_POLICY,
            stateful_step_count=STEPS_PER_SEQUENCE,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
    assert world.counts["dream_requests"] == 0
    assert world.counts["dreaming_steps"] > 0 and world.counts["requests"] > 0
    out = os.environ.get("GATE_PROPERTIES_OUT")
    if out and policy == "exclusive":
        Path(out).write_text(json.dumps(world.counts, indent=2) + "\n", encoding="utf-8")
    print(policy, json.dumps(world.counts))
