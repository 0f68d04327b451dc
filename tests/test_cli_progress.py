"""``oneiro dream`` shows progress as the cycle advances, from the bus's events."""

from __future__ import annotations

import io

from rich.console import Console

from oneiro.cli.dream import DreamProgress
from oneiro.events import Event
from oneiro.memory import Memory


def test_the_bar_advances_with_every_phase_of_a_real_cycle(memory: Memory) -> None:
    memory.record_many([{"text": f"note {n} about the launch", "session": "s1"} for n in range(5)])
    out = Console(file=io.StringIO(), width=120, force_terminal=False)
    seen: list[tuple[str, float]] = []
    with DreamProgress(out) as progress:
        memory.bus.subscribe(progress)

        def watch(event: Event) -> None:
            if event.kind == "dream_progress" and progress.phases is not None:
                task = progress.progress.tasks[0]
                seen.append((task.description, task.completed))

        memory.bus.subscribe(watch)
        memory.dream()
    done = [completed for _, completed in seen]
    assert done == sorted(done) and done[-1] == 6 and len(set(done)) == 7
    assert seen[0] == ("ONSET", 0) and ("NREM", 1) in seen
    text = out.file.getvalue()  # type: ignore[attr-defined]
    assert "[1/6] ONSET" in text and "[6/6] RETURN" in text and "mode -> dream" in text


def test_steps_inside_a_phase_get_their_own_bar() -> None:
    out = Console(file=io.StringIO(), width=120, force_terminal=False)
    with DreamProgress(out) as progress:
        progress(Event("dream_progress", {"phase": "nrem", "step": 2, "of": 6, "state": "start"}))
        progress(Event("dream_progress", {"phase": "nrem", "state": "step", "done": 3, "total": 10}))
        steps = progress.progress.tasks[1]
        assert (steps.completed, steps.total, steps.visible) == (3, 10, True)
        progress(Event("dream_progress", {"phase": "nrem", "step": 2, "of": 6, "state": "done"}))
        progress(Event("dream_progress", {"phase": "rem", "step": 3, "of": 6, "state": "start"}))
        assert progress.progress.tasks[1].visible is False
        progress(Event("dream_progress", {"phase": "rem", "state": "odd", "done": "x", "total": None}))


def test_the_cycles_own_operation_events_drive_the_step_bar(memory: Memory) -> None:
    memory.record_many([{"text": f"note {n} about the launch", "session": "s1"} for n in range(5)])
    out = Console(file=io.StringIO(), width=120, force_terminal=False)
    inner: list[tuple[str, float, float | None]] = []
    with DreamProgress(out) as progress:
        memory.bus.subscribe(progress)

        def watch(event: Event) -> None:
            if event.payload.get("state") == "operation" and progress.steps is not None:
                task = progress.progress.tasks[1]
                inner.append((task.description, task.completed, task.total))

        memory.bus.subscribe(watch)
        memory.dream()
    assert any("NREM" in d and total and total > 1 for d, _done, total in inner)
