"""Dreams started over HTTP or MCP: one at a time, in a background thread, so the request that
starts one returns at once and the server keeps answering while it runs.

``Memory.dream`` blocks for the whole cycle; :class:`DreamRunner` runs it in a thread of its own,
refuses a second start while one runs (CycleRunning, as a second cycle on the store would be) and
keeps the last outcome (the report, or the error) for ``GET /v1/dreams/current``. A cycle another
process runs on the same store is refused by the store's dream lease, inside ``Memory.dream``, and
shows here as that run's error.

:class:`HypothesisWatch` turns changes of the hypotheses' statuses into ``hypothesis`` events on
the bus (the library publishes none): it is checked after every write this server makes (a
record can confirm or refute, a dream stages, a revert removes).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from oneiro.dream.report import CycleReport
from oneiro.dto import CycleOut, ErrorOut
from oneiro.errors import CycleRunning, OneiroError
from oneiro.events import Event
from oneiro.memory import Memory


class HypothesisWatch:
    """Publishes a ``hypothesis`` event for each hypothesis whose status changed since the last
    check (a new one counts as changed from ``None``)."""

    def __init__(self, memory: Memory) -> None:
        self.memory = memory
        self._lock = threading.Lock()
        self._known = self._statuses()

    def _statuses(self) -> dict[str, str]:
        return {e.id: e.status.value for e in self.memory.hypotheses()}

    def check(self) -> int:
        with self._lock:
            now = self._statuses()
            changed = [(i, s) for i, s in now.items() if self._known.get(i) != s]
            gone = [i for i in self._known if i not in now]
            before, self._known = self._known, now
        for entry_id, status in changed:
            self.memory.bus.publish("hypothesis", id=entry_id, status=status, previous=before.get(entry_id))
        for entry_id in gone:
            self.memory.bus.publish("hypothesis", id=entry_id, status="removed", previous=before[entry_id])
        return len(changed) + len(gone)


@dataclass
class DreamState:
    running: bool = False
    cycle_id: str | None = None
    reason: str | None = None
    progress: dict[str, Any] = field(default_factory=dict)
    last: CycleOut | None = None
    error: ErrorOut | None = None


class DreamRunner:
    """At most one dream at a time in a background thread; its state for clients to poll."""

    def __init__(self, memory: Memory, watch: HypothesisWatch) -> None:
        self.memory = memory
        self.watch = watch
        self._lock = threading.Lock()
        self._state = DreamState()
        self._thread: threading.Thread | None = None
        memory.bus.subscribe(self._on_event)

    def state(self) -> DreamState:
        with self._lock:
            s = self._state
            return DreamState(s.running, s.cycle_id, s.reason, dict(s.progress), s.last, s.error)

    def start(self, reason: str, *, isolate: bool = False) -> DreamState:
        """Start a cycle now; CycleRunning when this server already runs one."""
        self.memory.refuse_write()
        with self._lock:
            if self._state.running:
                raise CycleRunning(
                    f"a dream is running ({self._state.cycle_id or 'starting'}); wake it or wait"
                )
            self._state = DreamState(running=True, reason=reason, last=self._state.last)
            self._thread = threading.Thread(
                target=self._run, args=(reason, isolate), name="oneiro-dream", daemon=True
            )
            self._thread.start()
        return self.state()

    def run_now(self, reason: str, *, isolate: bool = False) -> CycleReport:
        """Run a cycle in the caller's thread (a client that waits for it), under the same
        one-at-a-time rule."""
        self.memory.refuse_write()
        with self._lock:
            if self._state.running:
                raise CycleRunning(
                    f"a dream is running ({self._state.cycle_id or 'starting'}); wake it or wait"
                )
            self._state = DreamState(running=True, reason=reason, last=self._state.last)
        try:
            report = self.memory.dream(reason=reason, isolate=isolate)
        except OneiroError as exc:
            self._finish(None, ErrorOut.from_domain(exc))
            raise
        except BaseException:
            self._finish(None, ErrorOut(code="internal", message="the dream failed; see the server log"))
            raise
        self._finish(report, None)
        return report

    def wake(self) -> bool:
        """Wake the running dream at its next step boundary; False when none runs."""
        running = self.state().running
        if running:
            self.memory.wake()
        return running

    def join(self, timeout: float | None = None) -> None:
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _run(self, reason: str, isolate: bool) -> None:
        try:
            report = self.memory.dream(reason=reason, isolate=isolate)
        except OneiroError as exc:
            self._finish(None, ErrorOut.from_domain(exc))
        except Exception as exc:  # the thread has no caller to raise to: keep it for the client
            self._finish(None, ErrorOut(code="internal", message=f"the dream failed ({type(exc).__name__})"))
        else:
            self._finish(report, None)

    def _finish(self, report: CycleReport | None, error: ErrorOut | None) -> None:
        last = None if report is None else CycleOut.from_domain(report)
        with self._lock:
            self._state = DreamState(
                False, self._state.cycle_id, self._state.reason, {}, last or self._state.last, error
            )
        self.watch.check()
        self.memory.bus.publish(
            "dream_done",
            cycle_id=None if report is None else report.cycle_id,
            status=None if report is None else report.status,
            error=None if error is None else error.model_dump(),
        )

    def _on_event(self, event: Event) -> None:
        with self._lock:
            if not self._state.running:
                return
            cycle_id = event.payload.get("cycle_id")
            if isinstance(cycle_id, str):
                self._state.cycle_id = cycle_id
            if event.kind == "dream_progress":
                self._state.progress = dict(event.payload)
