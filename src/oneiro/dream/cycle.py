"""The cycle orchestrator: the only part of oneiro that writes dream output.

ONSET -> NREM -> REM -> EVOLUTION -> INTEGRATION -> RETURN, in dream mode. Each phase runs its
operations (pure) over a fresh snapshot; the orchestrator applies the phase's proposed writes,
journals them and records a checkpoint, all in one transaction. Hence:

- a crash (even kill -9) loses at most the phase in progress; the next run resumes after the last
  checkpoint, and because operations are deterministic (the RNG is seeded from the cycle id and
  phase) the rerun proposes the same writes;
- ``wake()`` stops the cycle at the next step boundary (between operations), discards the unfinished
  phase and leaves it ``interrupted`` and resumable;
- ``revert()`` undoes every write of a cycle (through the undo log) and keeps its journal and every
  episode;
- a dry run executes the phases and applies nothing.

A second cycle on a store where one is running is refused, naming the running one.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import importlib
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

import numpy as np

from oneiro.backends.embedder import Embedder
from oneiro.config import Config
from oneiro.dream.budget import CycleBudget, PhaseBudget, phase_split
from oneiro.dream.phase import PHASE_ORDER, Context, Operation, Outcome, PhaseName
from oneiro.dream.report import CycleReport, PhaseReport
from oneiro.dream.snapshot import StoreSnapshot, load_new_episodes
from oneiro.dream.writes import Writes
from oneiro.errors import CycleRunning, CycleStateError, UnknownCycle
from oneiro.events import EventBus
from oneiro.gate import DRY_RUN_CYCLE, adopt_mode
from oneiro.index import VectorIndex
from oneiro.model import Mode, Tier
from oneiro.store.cycles import CycleRow
from oneiro.store.protocol import Store

Phases = Mapping[PhaseName, Sequence[Operation]]
ModeScope = Callable[[str], AbstractContextManager[None]]

#: Cycles running in this process (by :func:`_store_key`), so a second one here is refused even
#: though its pid is alive for the same reason ours is.
_ACTIVE: dict[str, str] = {}
_ACTIVE_LOCK = threading.Lock()


class Woken(Exception):
    """Raised inside the orchestrator when a wake-up arrives; never escapes it."""


def _pid_alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _store_key(store: Store) -> str:
    """One key per database: the resolved file path (two spellings of one file are one store), or
    the object itself for an in-memory store (two of those never share anything)."""
    if store.path == ":memory:":
        return f":memory:{id(store)}"
    return os.path.realpath(store.path)


def _seed(cycle_id: str, phase: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{cycle_id}:{phase}".encode()).digest()[:8], "little")


def new_cycle_id(now: float, ordinal: int, from_rowid: int, to_rowid: int) -> str:
    """A cycle id that reads as a time and is reproducible: the same store history dreamed at the
    same (simulated) time gives the same id, so a seeded run's dreams repeat exactly (the cycle's
    RNG is seeded from its id)."""
    digest = hashlib.sha256(f"{now!r}:{ordinal}:{from_rowid}:{to_rowid}".encode()).hexdigest()[:6]
    return f"c-{time.strftime('%Y%m%d-%H%M%S', time.gmtime(now))}-{digest}"


def consolidated_rowid(store: Store) -> int:
    """Highest episode rowid a completed, unreverted cycle has consolidated (derived, not stored)."""
    done = store.cycles_with_status("completed")
    return max((int(c.checkpoint.get("to_rowid", 0)) for c in done), default=0)


class DreamEngine:
    """Runs, resumes, interrupts and reverts cycles on one store."""

    def __init__(
        self,
        store: Store,
        embedder: Embedder,
        config: Config,
        phases: Phases,
        *,
        clock: Callable[[], float] = time.time,
        mode_scope: ModeScope | None = None,
        index: Callable[[], VectorIndex] | None = None,
        bus: EventBus | None = None,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.config = config
        self.phases = phases
        self.clock = clock
        self.mode_scope: ModeScope = mode_scope or (lambda _cycle: contextlib.nullcontext())
        self.index = index
        self.bus = bus or EventBus()
        self._wake = threading.Event()

    # -- public -----------------------------------------------------------------------------
    def wake(self) -> None:
        """Ask the running cycle to stop at the next step boundary."""
        self._wake.set()

    def default_budget(self) -> CycleBudget:
        b = self.config.budget
        return CycleBudget(b.wall_seconds, b.tokens, Tier(b.tier), b.vitality)

    def run(
        self, *, reason: str = "manual", budget: CycleBudget | None = None, resume: bool = True
    ) -> CycleReport:
        """Run a cycle (resuming an interrupted or crashed one first when ``resume``)."""
        budget = budget or self.default_budget()
        row, resumed = self._begin(reason, budget, resume)
        started = time.monotonic()
        report = CycleReport(row.id, "running", row.reason, row.budget, resumed=resumed)
        try:
            with self.mode_scope(row.id):
                self.bus.publish("mode_change", mode="dream", cycle_id=row.id)
                try:
                    self._run_phases(row, report)
                finally:
                    self.bus.publish("mode_change", mode="awake", cycle_id=row.id)
        except Woken:
            report.status = "interrupted"
        except KeyboardInterrupt:
            # Ctrl-C in a library caller: the unfinished phase never committed, so the cycle is
            # left resumable exactly as a wake-up leaves it.
            self._finish(row.id, "interrupted", {"why": "KeyboardInterrupt"})
            raise
        except BaseException as exc:
            self._fail(row.id, f"{type(exc).__name__}: {exc}")
            raise
        finally:
            with _ACTIVE_LOCK:
                _ACTIVE.pop(_store_key(self.store), None)
            report.seconds = time.monotonic() - started
        return report

    def plan(self, *, budget: CycleBudget | None = None) -> CycleReport:
        """A dry run: execute every phase over the current store and apply nothing.

        The operations run in dream mode, as in a real cycle (the gate shadows or skips effectful
        dispatches), but in a copy of the caller's context, so the mode never leaks out and the
        store's persisted mode (a write) is left alone.
        """
        return contextvars.copy_context().run(self._plan, budget or self.default_budget())

    def _plan(self, budget: CycleBudget) -> CycleReport:
        cycle_id = DRY_RUN_CYCLE
        adopt_mode(Mode.DREAM, cycle_id)
        to_rowid = self.store.episode_max_rowid()
        new = load_new_episodes(self.store, consolidated_rowid(self.store), to_rowid)
        report = CycleReport(
            cycle_id, "planned", "dry-run", budget.to_dict(), new_episodes=len(new), dry_run=True
        )
        carry: dict[str, Any] = {}
        split = phase_split(budget.vitality)
        for phase in PHASE_ORDER:
            snap = StoreSnapshot(self.store, cycle_id, new, to_rowid, self.embedder.name, self.index)
            outcome, phase_report = self._run_operations(phase, snap, carry, budget, split, cycle_id)
            carry.update(outcome.carry)
            report.phases.append(phase_report)
        return report

    def revert(self, cycle_id: str) -> int:
        """Undo everything ``cycle_id`` wrote; keep its journal and every episode."""
        row = self.store.cycle(cycle_id)
        if row is None:
            raise UnknownCycle(f"no cycle {cycle_id!r} in this store; `oneiro journal` lists them")
        if row.status == "reverted":
            raise CycleStateError(f"cycle {cycle_id} was already reverted")
        if row.status == "running" and _pid_alive(row.pid):
            raise CycleRunning(f"cycle {cycle_id} is running (pid {row.pid}); wake it before reverting")
        with self.store.transaction():
            undone = self.store.revert_writes(cycle_id)
            self.store.update_cycle(cycle_id, status="reverted", ended_at=self.clock())
            self.store.journal_append(
                self.clock(), "revert", {"undone_writes": undone, "was": row.status}, cycle_id=cycle_id
            )
        return undone

    # -- begin / finish ---------------------------------------------------------------------
    def _begin(self, reason: str, budget: CycleBudget, resume: bool) -> tuple[CycleRow, bool]:
        now = self.clock()
        key = _store_key(self.store)
        with _ACTIVE_LOCK:
            if key in _ACTIVE:
                raise CycleRunning(f"cycle {_ACTIVE[key]} is running on this store")
            # Cleared only once this run owns the store: a refused second run must not swallow a
            # wake-up meant for the running one.
            self._wake.clear()
            with self.store.transaction():
                for row in self.store.cycles_with_status("running"):
                    if _pid_alive(row.pid) and row.pid != os.getpid():
                        raise CycleRunning(
                            f"cycle {row.id} is running on this store (pid {row.pid}); "
                            "wait for it, or wake it"
                        )
                    if row.pid == os.getpid() and row.id in _ACTIVE.values():
                        raise CycleRunning(f"cycle {row.id} is running on this store")
                candidates = self.store.cycles_with_status("running", "interrupted") if resume else []
                if candidates:
                    row = candidates[-1]
                    self.store.update_cycle(row.id, status="running", pid=os.getpid(), heartbeat=now)
                    self.store.journal_append(
                        now, "cycle_resume", {"from_phase": row.phase, "was": row.status}, cycle_id=row.id
                    )
                    resumed = self.store.cycle(row.id)
                    assert resumed is not None
                    _ACTIVE[key] = row.id
                    return resumed, True
                for stale in self.store.cycles_with_status("running", "interrupted"):
                    self._fail(stale.id, "abandoned: a new cycle started without resuming it")
                from_rowid = consolidated_rowid(self.store)
                to_rowid = self.store.episode_max_rowid()
                cycle_id = new_cycle_id(now, len(self.store.recent_cycles(1_000_000)), from_rowid, to_rowid)
                checkpoint = {"done": [], "carry": {}, "from_rowid": from_rowid, "to_rowid": to_rowid}
                self.store.create_cycle(cycle_id, now, budget.to_dict(), reason, os.getpid(), checkpoint)
                self.store.journal_append(
                    now,
                    "cycle_start",
                    {
                        "reason": reason,
                        "budget": budget.to_dict(),
                        "from_rowid": from_rowid,
                        "to_rowid": to_rowid,
                    },
                    cycle_id=cycle_id,
                )
            _ACTIVE[key] = cycle_id
        row_now = self.store.cycle(cycle_id)
        assert row_now is not None
        return row_now, False

    def _finish(self, cycle_id: str, status: str, payload: dict[str, Any]) -> None:
        now = self.clock()
        with self.store.transaction():
            self.store.update_cycle(cycle_id, status=status, ended_at=now)
            self.store.journal_append(now, f"cycle_{status}", payload, cycle_id=cycle_id)

    def _fail(self, cycle_id: str, error: str) -> None:
        """A cycle that cannot go on undoes what its finished phases wrote, in one transaction.

        Its entries would otherwise stay behind, tagged with a cycle that never completes, so
        invisible to recall; and since entry ids are content addresses, the next cycle's identical
        entries would be ignored as already stored and stay invisible too.
        """
        now = self.clock()
        with self.store.transaction():
            undone = self.store.revert_writes(cycle_id)
            self.store.update_cycle(cycle_id, status="failed", ended_at=now)
            self.store.journal_append(
                now, "cycle_failed", {"error": error, "undone_writes": undone}, cycle_id=cycle_id
            )

    # -- phases -----------------------------------------------------------------------------
    def _run_phases(self, row: CycleRow, report: CycleReport) -> None:
        checkpoint = dict(row.checkpoint)
        done: list[str] = list(checkpoint.get("done", []))
        carry: dict[str, Any] = dict(checkpoint.get("carry", {}))
        budget = CycleBudget.from_dict(row.budget)
        split = phase_split(budget.vitality)
        new = load_new_episodes(self.store, int(checkpoint["from_rowid"]), int(checkpoint["to_rowid"]))
        report.new_episodes = len(new)
        carried_seconds = 0.0
        for index, phase in enumerate(PHASE_ORDER):
            if phase.value in done:
                continue
            if self._wake.is_set():
                self._interrupt(row.id, phase, "wake")
            self._progress(row.id, index, phase, "start")
            snap = StoreSnapshot(
                self.store, row.id, new, int(checkpoint["to_rowid"]), self.embedder.name, self.index
            )
            outcome, phase_report = self._run_operations(
                phase, snap, carry, budget, split, row.id, extra_seconds=carried_seconds
            )
            carried_seconds = max(
                0.0, split[phase] * budget.wall_seconds + carried_seconds - phase_report.seconds
            )
            carry.update(outcome.carry)
            done.append(phase.value)
            checkpoint = {**checkpoint, "done": done, "carry": carry}
            last = phase == PHASE_ORDER[-1]
            self._apply(row.id, phase, outcome, phase_report, checkpoint, complete=last)
            if last and "brief" in outcome.carry:
                report.brief = outcome.carry["brief"]
            report.phases.append(phase_report)
            self._progress(row.id, index, phase, "done", did=phase_report.did, writes=phase_report.writes)
        report.status = "completed"

    def _progress(self, cycle_id: str, index: int, phase: PhaseName, state: str, **extra: Any) -> None:
        self.bus.publish(
            "dream_progress",
            cycle_id=cycle_id,
            phase=phase.value,
            step=index + 1,
            of=len(PHASE_ORDER),
            state=state,
            **extra,
        )

    def _interrupt(self, cycle_id: str, phase: PhaseName, why: str) -> None:
        self._finish(cycle_id, "interrupted", {"at_phase": phase.value, "why": why})
        raise Woken()

    def _run_operations(
        self,
        phase: PhaseName,
        snap: StoreSnapshot,
        carry: dict[str, Any],
        budget: CycleBudget,
        split: dict[PhaseName, float],
        cycle_id: str,
        extra_seconds: float = 0.0,
    ) -> tuple[Outcome, PhaseReport]:
        operations = list(self.phases.get(phase, ()))
        seconds = split[phase] * budget.wall_seconds + extra_seconds
        phase_budget = PhaseBudget(seconds, int(split[phase] * budget.tokens), limit_tokens=budget.tokens > 0)
        ctx = Context(
            cycle_id,
            self.clock(),
            np.random.default_rng(_seed(cycle_id, phase.value)),
            self.embedder,
            self.config,
            phase_budget,
            budget.tier,
        )
        total = Outcome(carry={})
        report = PhaseReport(phase.value, [op.name for op in operations])
        if not operations:
            report.note = (
                f"no {phase.value.upper()} operations in this version: the phase ran and did nothing"
            )
        for i, op in enumerate(operations):
            if self._wake.is_set() and cycle_id != DRY_RUN_CYCLE:
                self._interrupt(cycle_id, phase, "wake")
            if phase_budget.exhausted():
                report.left[f"operations.{op.name}"] = 1
                report.note = f"budget share used up after {i} of {len(operations)} operations"
                continue
            with self.store.snapshot():
                outcome = op.run(snap, ctx, {**carry, **total.carry})
            total.writes.extend(outcome.writes)
            total.carry.update(outcome.carry)
            for key, value in outcome.did.items():
                report.did[f"{op.name}.{key}"] = value
            for key, value in outcome.left.items():
                report.left[f"{op.name}.{key}"] = value
        report.writes = total.writes.summary()
        report.seconds = phase_budget.elapsed()
        return total, report

    # -- applying ---------------------------------------------------------------------------
    def _vectors(self, writes: Writes) -> np.ndarray | None:
        if not writes.entries:
            return None
        missing = [e for e in writes.entries if e.id not in writes.vectors]
        embedded = dict(
            zip((e.id for e in missing), self.embedder.embed([e.text for e in missing]), strict=True)
        )
        rows = [writes.vectors.get(e.id, embedded.get(e.id)) for e in writes.entries]
        return np.vstack([np.asarray(r, dtype=np.float32) for r in rows])

    def _apply(
        self,
        cycle_id: str,
        phase: PhaseName,
        outcome: Outcome,
        report: PhaseReport,
        checkpoint: dict[str, Any],
        *,
        complete: bool,
    ) -> None:
        """One transaction: the phase's writes, its journal records, the checkpoint."""
        writes = outcome.writes
        matrix = self._vectors(writes)
        now = self.clock()
        with self.store.transaction() as conn:
            if writes.entries:
                self.store.add_entries(writes.entries, matrix, self.embedder.name, cycle_id)
            for update in writes.updates:
                self.store.update_entry(update.entry_id, update.changes, cycle_id)
            if writes.predictions:
                importlib.import_module("oneiro.store.predictions").insert(conn, writes.predictions, cycle_id)
            playbook_rows = importlib.import_module("oneiro.store.playbook")
            for proposal in writes.revisions:
                playbook_rows.propose(conn, proposal, cycle_id, now)
            for credit in writes.credits:
                playbook_rows.credit(conn, credit.item_id, credit.helpful, credit.harmful, cycle_id)
            for note in writes.notes:
                self.store.journal_append(now, note.kind, note.payload, cycle_id=cycle_id, phase=phase.value)
            payload = {
                "operations": report.operations,
                "did": report.did,
                "left": report.left,
                "writes": report.writes,
                "seconds": round(report.seconds, 4),
                "note": report.note,
            }
            self.store.journal_append(now, "phase", payload, cycle_id=cycle_id, phase=phase.value)
            if complete and "brief" in outcome.carry:
                self.store.journal_append(
                    now, "brief", outcome.carry["brief"], cycle_id=cycle_id, phase=phase.value
                )
            self.store.update_cycle(cycle_id, checkpoint=checkpoint, phase=phase.value, heartbeat=now)
            if complete:
                self.store.update_cycle(cycle_id, status="completed", ended_at=now)
                self.store.journal_append(
                    now, "cycle_completed", {"phases": checkpoint["done"]}, cycle_id=cycle_id
                )
