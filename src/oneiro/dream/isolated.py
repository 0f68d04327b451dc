"""A dream in a separate, sandboxed process: atonia at the OS level.

``Memory.dream(isolate=True)`` runs :func:`dream_in_child` through
:func:`oneiro.isolation.run_isolated`, so even a pipeline that lies about its effect class cannot
reach the network, a unix socket or a file outside the store while the cycle runs. The sandbox
holds the store's directory read-write (the database and its ``-wal`` and ``-shm``), the state
directory read-only (its ``oneiro.toml``), and Python and its code read-only; nothing else.

The child opens the same store with the parent's configuration (sent whole, so command-line
overrides hold), publishes every event of its bus to the parent, where :func:`dream_isolated`
republishes it on the parent's bus (the CLI's progress display works unchanged), and returns the
cycle's report as JSON. A wake-up in the parent (``Memory.wake()``, Ctrl-C) reaches the child's
cycle, which stops at its next step boundary and stays resumable, as a dream in-process does.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from oneiro.config import Config, load_config, to_dict
from oneiro.dream.budget import CycleBudget
from oneiro.dream.report import CycleReport, PhaseReport
from oneiro.errors import InvalidInput
from oneiro.events import Event, EventBus
from oneiro.isolation import child_send, on_parent_wake, run_isolated

#: The child's target, imported by name inside the sandbox.
CHILD_TARGET = "oneiro.dream.isolated:dream_in_child"
#: Extra wall time the child gets beyond the cycle's budget (start-up, embedding model load, the
#: last phase's commit) before it is killed.
TIMEOUT_MARGIN_S = 120.0


def dream_isolated(
    store_path: str,
    config: Config,
    reason: str,
    budget: CycleBudget | None,
    *,
    bus: EventBus,
    wake: threading.Event,
) -> CycleReport:
    """Run one cycle in the sandbox; relay its events to ``bus``; ``wake`` set wakes it."""
    if store_path == ":memory:":
        raise InvalidInput("an in-memory store cannot be shared with an isolated process", field="isolate")
    store_dir = Path(store_path).resolve().parent
    settings = {k: v for k, v in to_dict(config).items() if k != "state_dir"}
    wall = budget.wall_seconds if budget is not None else config.budget.wall_seconds
    data = run_isolated(
        CHILD_TARGET,
        store_path,
        str(config.state_dir),
        reason,
        None if budget is None else budget.to_dict(),
        settings,
        timeout=wall + TIMEOUT_MARGIN_S,
        writable=[store_dir],
        readable=[config.state_dir],
        on_message=lambda message: _republish(bus, message),
        wake=wake,
    )
    phases = [PhaseReport(**p) for p in data.pop("phases")]
    return CycleReport(**data, phases=phases)


def _republish(bus: EventBus, message: dict[str, Any]) -> None:
    kind, payload = message.get("kind"), message.get("payload")
    if isinstance(kind, str) and isinstance(payload, dict):
        bus.publish(kind, **payload)


def dream_in_child(
    store_path: str,
    state_dir: str,
    reason: str,
    budget: dict[str, Any] | None = None,
    settings: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Entry point run inside the sandbox."""
    from oneiro.memory import open_memory

    config = load_config(Path(state_dir), overrides=settings)
    woken = threading.Event()
    with open_memory(store_path, config=config) as memory:

        def wake() -> None:
            woken.set()
            memory.wake()

        def relay(event: Event) -> None:
            # A cycle clears wake-ups older than itself when it starts; one the parent sent
            # before that (a Ctrl-C during start-up) still counts, so repeat it once the cycle runs.
            if event.kind == "mode_change" and event.payload.get("mode") == "dream" and woken.is_set():
                memory.wake()
            child_send({"kind": event.kind, "payload": event.payload})

        memory.bus.subscribe(relay)
        on_parent_wake(wake)
        cycle_budget = None if budget is None else CycleBudget.from_dict(budget)
        return memory.dream(reason=reason, budget=cycle_budget).to_dict()
