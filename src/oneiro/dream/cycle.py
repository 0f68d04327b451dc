"""The cycle orchestrator: the only part of oneiro that writes dream output.

ONSET -> NREM -> REM -> EVOLUTION -> INTEGRATION -> RETURN, in dream mode. Each phase runs its
operations (pure) over a fresh snapshot; the orchestrator applies the phase's proposed writes,
journals them and records a checkpoint, all in one transaction. Hence:

- a crash (even kill -9) loses at most the phase (or NREM chunk) in progress; the next run resumes
  after the last checkpoint, and because operations are deterministic (the RNG is seeded from the cycle id and
  phase) the rerun proposes the same writes;
- ``wake()`` stops the cycle at the next step boundary (between operations), discards the unfinished
  phase and leaves it ``interrupted`` and resumable;
- ``revert()`` undoes every write of a cycle (through the undo log) and keeps its journal and every
  episode;
- a dry run executes the phases and applies nothing: each phase's writes are laid over the store in
  memory instead (:class:`oneiro.dream.snapshot.Overlay`), so later phases see them as in a real run;
- NREM consumes the intake chunk by chunk; a cycle whose budget runs out ends ``partial`` and the
  episodes it did not reach stay in the backlog (:mod:`oneiro.dream.backlog`) for the next cycle;
- every operation runs behind :mod:`oneiro.dream.boundary`: an episode it cannot process is left
  out of it and journaled, never fatal.

Which cycle holds a store is the dream lease, a row in the store (:mod:`oneiro.dream.lease`):
taken in the transaction that creates or resumes the cycle, renewed at its step boundaries and
given back when it ends. A second cycle on a store whose lease is held, from this process or any
other, is refused naming the holder; a crashed holder's lease lapses (at once on its own host,
where its pid is gone) and the next cycle resumes or reverts its cycle.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import replace
from typing import Any, Protocol

import numpy as np

from oneiro.backends.embedder import Embedder
from oneiro.config import Config
from oneiro.dream import backlog
from oneiro.dream import checkpoint as checkpoints
from oneiro.dream.boundary import MESSAGE_LIMIT, Skipped, run_guarded
from oneiro.dream.budget import CycleBudget, PhaseBudget, phase_split
from oneiro.dream.lease import CycleLease, binding
from oneiro.dream.phase import PHASE_ORDER, Carry, Context, Operation, Outcome, PhaseName, Snapshot
from oneiro.dream.plan import DreamPlan
from oneiro.dream.report import CycleReport, PhaseReport
from oneiro.dream.snapshot import Overlay, OverlaySnapshot, ReadView, StoreSnapshot, reading
from oneiro.dream.writes import Note, Writes
from oneiro.errors import CycleRunning, CycleStateError, LeaseLost, UnknownCycle
from oneiro.events import EventBus
from oneiro.gate import DRY_RUN_CYCLE, adopt_mode
from oneiro.index import VectorIndex
from oneiro.model import Episode, Mode, Tier
from oneiro.playbook import propose_from_dream
from oneiro.plugins import PluginError
from oneiro.scoring import ScoringRegistry
from oneiro.store.cycles import RETURNED_STATUSES, CycleRow
from oneiro.store.protocol import Store
from oneiro.store.query import EntryQuery

Phases = Mapping[PhaseName, Sequence[Operation]]
ModeScope = Callable[[str], AbstractContextManager[None]]


class Woken(Exception):
    """Raised inside the orchestrator when a wake-up arrives; never escapes it. It carries what
    the journal records, written once the phase's read transaction has ended."""

    def __init__(self, payload: dict[str, Any]) -> None:
        super().__init__(payload)
        self.payload = payload


class _Checked:
    """An operation whose result is checked to be an :class:`Outcome` before the boundary reads
    it, so a plugin returning the wrong type fails with a message saying so."""

    def __init__(self, op: Operation) -> None:
        self.op, self.name, self.tier = op, op.name, op.tier

    def run(self, snap: Snapshot, ctx: Context, carry: Carry) -> Outcome:
        outcome = self.op.run(snap, ctx, carry)
        if not isinstance(outcome, Outcome):
            raise TypeError(f"run() returned {type(outcome).__name__}, not an Outcome")
        return outcome


def _seed(cycle_id: str, phase: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{cycle_id}:{phase}".encode()).digest()[:8], "little")


def new_cycle_id(now: float, ordinal: int, from_rowid: int, to_rowid: int) -> str:
    """A cycle id that reads as a time and is reproducible: the same store history dreamed at the
    same (simulated) time gives the same id, so a seeded run's dreams repeat exactly (the cycle's
    RNG is seeded from its id)."""
    digest = hashlib.sha256(f"{now!r}:{ordinal}:{from_rowid}:{to_rowid}".encode()).hexdigest()[:6]
    return f"c-{time.strftime('%Y%m%d-%H%M%S', time.gmtime(now))}-{digest}"


class PhaseSource(Protocol):
    """Where a cycle gets its operations: each phase's, in order, of the tiers it may spend on, and
    which plugin registered each (:class:`oneiro.plugins.Registry` is one)."""

    def phases(self, tiers: frozenset[Tier]) -> Phases: ...
    def plugin_of(self, operation: Operation) -> str: ...


class FixedPhases:
    """A fixed table, whatever the tier: for a caller that replaces the operations outright (a
    benchmark timing one operation, a test driving the orchestrator with fakes)."""

    def __init__(self, table: Phases) -> None:
        self.table = table

    def phases(self, tiers: frozenset[Tier]) -> Phases:
        return self.table

    def plugin_of(self, operation: Operation) -> str:
        return type(operation).__module__


def tiers_allowed(tier: Tier) -> frozenset[Tier]:
    """The operation tiers a cycle of budget tier ``tier`` runs: T0 always, T1 under a T1 or T2
    budget, T2 under a T2 budget (an LLM tier runs only when its tokens are budgeted), W under W."""
    ladder = {Tier.T0: {Tier.T0}, Tier.T1: {Tier.T0, Tier.T1}, Tier.T2: {Tier.T0, Tier.T1, Tier.T2}}
    return frozenset(ladder.get(tier, {Tier.T0, tier}))


class DreamEngine:
    """Runs, resumes, interrupts and reverts cycles on one store.

    ``phases`` is a :class:`PhaseSource` (the memory's plugin registry) or a fixed table; the
    operations a cycle runs are the source's for the tiers the cycle's budget allows
    (:func:`tiers_allowed`). An operation that raises or returns something other than an
    :class:`Outcome` fails by ``config.on_operation_error``: ``stop`` fails the cycle (every write
    of it undone), ``skip`` journals the failure and goes on without that operation's writes.
    """

    def __init__(
        self,
        store: Store,
        embedder: Embedder,
        config: Config,
        phases: Phases | PhaseSource,
        *,
        clock: Callable[[], float] = time.time,
        mode_scope: ModeScope | None = None,
        index: Callable[[], VectorIndex] | None = None,
        bus: EventBus | None = None,
        scorers: ScoringRegistry | None = None,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.config = config
        self.source: PhaseSource = FixedPhases(phases) if isinstance(phases, Mapping) else phases
        self.scorers = scorers if scorers is not None else ScoringRegistry()
        self.clock = clock
        self.mode_scope: ModeScope = mode_scope or (lambda _cycle: contextlib.nullcontext())
        self.index = index
        self.bus = bus or EventBus()
        self._wake = threading.Event()
        self.lease = CycleLease(store, config.cycle.lease_seconds, config.cycle.heartbeat_seconds)

    @property
    def phases(self) -> Phases:
        """The operations a cycle of the configured budget tier runs, by phase."""
        return self.source.phases(tiers_allowed(Tier(self.config.budget.tier)))

    @phases.setter
    def phases(self, table: Phases) -> None:
        """Replace every operation with a fixed table (see :class:`FixedPhases`)."""
        self.source = FixedPhases(table)

    def _operations(self, phase: PhaseName, tier: Tier) -> list[Operation]:
        return list(self.source.phases(tiers_allowed(tier)).get(phase, ()))

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
        with self._holding(row.id):
            try:
                with self.mode_scope(row.id):
                    self.bus.publish("mode_change", mode="dream", cycle_id=row.id)
                    try:
                        self._run_phases(row, report)
                    finally:
                        self.bus.publish("mode_change", mode="awake", cycle_id=row.id)
            except Woken as woken:
                # Recorded here, once the phase's read transaction has ended.
                self._finish(row.id, "interrupted", woken.payload)
                report.status = "interrupted"
            except LeaseLost:
                # The store is another cycle's now: this one writes nothing more, not even its end.
                raise
            except KeyboardInterrupt:
                # Ctrl-C in a library caller: the unfinished phase never committed, so the cycle is
                # left resumable exactly as a wake-up leaves it.
                self._finish(row.id, "interrupted", {"why": "KeyboardInterrupt"})
                raise
            except BaseException as exc:
                self._fail(row.id, f"{type(exc).__name__}: {exc}")
                raise
            finally:
                report.seconds = time.monotonic() - started
        return report

    @contextlib.contextmanager
    def _holding(self, cycle_id: str) -> Iterator[None]:
        """Give the lease of ``cycle_id`` back when the run ends, however it ends. A release that
        fails while another error is on its way out does not hide that error (the lease then
        lapses by itself, at once for this host once the process is gone)."""
        try:
            yield
        except BaseException:
            with contextlib.suppress(Exception):
                self.lease.release(cycle_id)
            raise
        self.lease.release(cycle_id)

    def plan(self, *, budget: CycleBudget | None = None) -> DreamPlan:
        """A dry run: every phase's proposed writes, and nothing applied.

        The plan runs the real cycle's phase loop (the same chunking of NREM, the same budget
        shares, the seeds of the id the real run starting now would take) with each phase's
        writes laid over the store in memory (:class:`oneiro.dream.snapshot.Overlay`) instead of
        applied, so later phases see earlier ones' writes: its INTEGRATION admits and its RETURN
        briefs what the real run would. It plans a new cycle (a real run would first resume an
        interrupted one). The operations run in dream mode, as in a real cycle (the gate shadows
        or skips effectful dispatches, and records none of them), but in a copy of the caller's
        context, so the mode never leaks out and the store's persisted mode (a write) is left alone.
        """
        return contextvars.copy_context().run(self._plan, budget or self.default_budget())

    def _plan(self, budget: CycleBudget) -> DreamPlan:
        adopt_mode(Mode.DREAM, DRY_RUN_CYCLE)
        row = self._planned_row(budget)
        report = DreamPlan(row.id, "planned", "dry-run", row.budget, dry_run=True)
        planner = _Planner(self, Overlay(self.store, self.embedder), report)
        planner._run_phases(row, report)
        report.status = "planned"
        report.outcome = planner.overlay.entries_matching(EntryQuery(cycle=row.id))
        return report

    def _new_cycle(self, now: float) -> tuple[str, dict[str, Any]]:
        """The id and first checkpoint of a cycle starting now: its intake is every unconsolidated
        awake episode up to the current high-water mark. A real start and a plan share it, so a
        dry run plans exactly the cycle a real run would begin."""
        to_rowid = self.store.episode_max_rowid()
        intake = backlog.unconsolidated(self.store, to_rowid)
        from_rowid = intake[0][0] - 1 if intake else to_rowid
        cycle_id = new_cycle_id(now, self.store.cycle_count(), from_rowid, to_rowid)
        return cycle_id, {
            "done": [],
            "carry": {},
            "from_rowid": from_rowid,
            "to_rowid": to_rowid,
            "intake": [list(i) for i in intake],
            "consolidated": [],
            "through": 0,
            "chunk_size": self._chunk_size(),
        }

    def _planned_row(self, budget: CycleBudget) -> CycleRow:
        """The row :meth:`_begin` would create for a new cycle now (its id, intake, checkpoint),
        not stored."""
        now = self.clock()
        cycle_id, checkpoint = self._new_cycle(now)
        return CycleRow(
            cycle_id, now, None, "planned", None, checkpoint, budget.to_dict(), "dry-run", None, None
        )

    def revert(self, cycle_id: str) -> int:
        """Undo everything ``cycle_id`` wrote; keep its journal and every episode."""
        with self.store.transaction():
            row = self.store.cycle(cycle_id)
            if row is None:
                raise UnknownCycle(f"no cycle {cycle_id!r} in this store; `oneiro journal` lists them")
            if row.status == "reverted":
                raise CycleStateError(f"cycle {cycle_id} was already reverted")
            self._refuse_if_running(cycle_id)
            undone = self.store.revert_writes(cycle_id)
            self.store.update_cycle(cycle_id, status="reverted", ended_at=self.clock())
            self.store.journal_append(
                self.clock(), "revert", {"undone_writes": undone, "was": row.status}, cycle_id=cycle_id
            )
        return undone

    def _refuse_if_running(self, cycle_id: str) -> None:
        """Refuse to touch ``cycle_id`` while it holds a live lease (a running cycle, here or in
        another process); a lapsed lease it left (it crashed) is cleared."""
        lease = self.store.lease_holder()
        if lease is None or lease.holder != cycle_id:
            return
        if binding(self.store, self.lease.clock(), self.lease.host) is not None:
            raise CycleRunning(f"{lease.describe()} is running; wake it before reverting")
        self.store.lease_release(cycle_id)

    # -- begin / finish ---------------------------------------------------------------------
    def _begin(self, reason: str, budget: CycleBudget, resume: bool) -> tuple[CycleRow, bool]:
        """Create or resume the cycle and take the dream lease for it, in one write transaction:
        of several racers (threads, ``Memory`` objects, processes) exactly one finds the lease
        free; the others are refused before anything is written."""
        now = self.clock()
        with self.store.transaction():
            self.lease.refuse_if_held()
            candidates = self.store.cycles_with_status("running", "interrupted") if resume else []
            if candidates:
                row = candidates[-1]
                self._own(row.id)
                self.store.update_cycle(row.id, status="running", pid=os.getpid(), heartbeat=now)
                self.store.journal_append(
                    now, "cycle_resume", {"from_phase": row.phase, "was": row.status}, cycle_id=row.id
                )
                resumed = self.store.cycle(row.id)
                assert resumed is not None
                return resumed, True
            for stale in self.store.cycles_with_status("running", "interrupted"):
                self._fail(stale.id, "abandoned: a new cycle started without resuming it")
            cycle_id, checkpoint = self._new_cycle(now)
            self._own(cycle_id)
            self.store.create_cycle(cycle_id, now, budget.to_dict(), reason, os.getpid(), checkpoint)
            self.store.journal_append(
                now,
                "cycle_start",
                {
                    "reason": reason,
                    "budget": budget.to_dict(),
                    "from_rowid": checkpoint["from_rowid"],
                    "to_rowid": checkpoint["to_rowid"],
                    "intake": checkpoint["intake"],
                },
                cycle_id=cycle_id,
            )
        row_now = self.store.cycle(cycle_id)
        assert row_now is not None
        return row_now, False

    def _own(self, cycle_id: str) -> None:
        """Take the lease for ``cycle_id`` (inside :meth:`_begin`'s transaction), then forget older
        wake-ups: cleared only once this run owns the store, so a refused second run cannot
        swallow a wake-up meant for the running one."""
        self.lease.take(cycle_id)
        self._wake.clear()

    def _chunk_size(self) -> int:
        """What the latest returned cycle learnt its budget allows
        (:func:`oneiro.dream.checkpoint.next_chunk_size`)."""
        returned = self.store.cycles_with_status(*RETURNED_STATUSES)
        sizes = [c.checkpoint["next_chunk_size"] for c in returned if "next_chunk_size" in c.checkpoint]
        return int(sizes[-1]) if sizes else checkpoints.CHUNK_EPISODES

    def _finish(self, cycle_id: str, status: str, payload: dict[str, Any]) -> None:
        now = self.clock()
        with self.store.transaction():
            self.lease.confirm(cycle_id)
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
            self.lease.confirm(cycle_id)
            undone = self.store.revert_writes(cycle_id)
            self.store.update_cycle(cycle_id, status="failed", ended_at=now)
            self.store.journal_append(
                now, "cycle_failed", {"error": error, "undone_writes": undone}, cycle_id=cycle_id
            )

    # -- phases -----------------------------------------------------------------------------
    def _run_phases(self, row: CycleRow, report: CycleReport) -> None:
        checkpoint = dict(row.checkpoint)
        done: list[str] = list(checkpoint.get("done", []))
        carry = checkpoints.carry_of(checkpoint)
        budget = CycleBudget.from_dict(row.budget)
        split = phase_split(budget.vitality)
        rowids, new = backlog.load(self.store, checkpoints.intake_of(checkpoint))
        report.new_episodes = len(new)
        checkpoint["intake_size"] = len(new)
        carried_seconds = 0.0
        for index, phase in enumerate(PHASE_ORDER):
            if phase.value in done:
                continue
            if self._wake.is_set():
                self._interrupt(row.id, phase, "wake")
            self._progress(row.id, index, phase, "start")
            seconds = split[phase] * budget.wall_seconds + carried_seconds
            phase_budget = self._phase_budget(seconds, split[phase], budget)
            if phase in checkpoints.CHUNKED_PHASES:
                run = self._run_chunked(
                    row.id, index, phase, (rowids, new), carry, phase_budget, checkpoint, budget.tier
                )
                outcome, phase_report, checkpoint = run
                carry = checkpoints.carry_of(checkpoint)
            else:
                through = checkpoints.through(checkpoint, phase, len(new))
                if phase == PHASE_ORDER[-1]:
                    backlog_now = checkpoints.backlog_summary(checkpoint, len(new), report.phases)
                    carry = replace(carry, backlog=backlog_now)
                with reading(self.store, int(checkpoint.get("to_rowid", 0))) as view:
                    snap = self._snapshot(row.id, new[:through], checkpoint, view)
                    outcome, phase_report = self._run_operations(
                        phase,
                        snap,
                        carry,
                        phase_budget,
                        row.id,
                        index,
                        _seed(row.id, phase.value),
                        budget.tier,
                    )
            carried_seconds = max(0.0, seconds - phase_report.seconds)
            carry = carry.joined(outcome.carry)
            done.append(phase.value)
            ran_out = bool(checkpoint.get("ran_out")) or checkpoints.ran_out_of_budget(phase_report)
            checkpoint = {**checkpoint, "done": done, "carry": carry.to_json(), "ran_out": ran_out}
            last = phase == PHASE_ORDER[-1]
            status = self._status(checkpoint, len(new)) if last else None
            if last:
                checkpoint = checkpoints.settled(checkpoint)
            brief = outcome.carry.brief if last else None
            record = ("phase", checkpoints.phase_payload(phase_report))
            self._apply(row.id, phase, outcome.writes, record, checkpoint, status, brief)
            if last:
                report.brief = outcome.carry.brief
                report.status = status or "completed"
                report.left_episodes = len(new) - checkpoints.through(checkpoint, phase, len(new))
            report.phases.append(phase_report)
            self._progress(row.id, index, phase, "done", did=phase_report.did, writes=phase_report.writes)

    @staticmethod
    def _status(checkpoint: dict[str, Any], intake: int) -> str:
        """``partial`` when the budget ran out anywhere in the cycle, else ``completed``."""
        left = intake - int(checkpoint.get("through", intake))
        return "partial" if left > 0 or checkpoint.get("ran_out") else "completed"

    def _phase_budget(self, seconds: float, share: float, budget: CycleBudget) -> PhaseBudget:
        return PhaseBudget(seconds, int(share * budget.tokens), limit_tokens=budget.tokens > 0)

    def _snapshot(
        self, cycle_id: str, new: Sequence[Episode], checkpoint: dict[str, Any], view: ReadView
    ) -> StoreSnapshot:
        """The view of a phase (or chunk) inside its read transaction ``view``, bounded by the
        cycle's high-water mark (:mod:`oneiro.dream.snapshot`)."""
        upto = int(checkpoint.get("to_rowid", 0))
        return StoreSnapshot(self.store, cycle_id, new, upto, self.embedder.name, self.index, view)

    def _run_chunked(
        self,
        cycle_id: str,
        index: int,
        phase: PhaseName,
        intake: tuple[Sequence[int], Sequence[Episode]],
        carry: Carry,
        phase_budget: PhaseBudget,
        checkpoint: dict[str, Any],
        tier: Tier,
    ) -> tuple[Outcome, PhaseReport, dict[str, Any]]:
        """Run ``phase`` over the intake chunk by chunk, applying and checkpointing each chunk.

        Invariant: a chunk is consolidated whole or not at all. A chunk in which an operation ran
        out of budget (it left work, or was not reached) is discarded: its proposals are never
        applied, and its episodes stay in the backlog for the next cycle, which proposes them
        again from scratch (so nothing is half-done twice, e.g. credit from reverse replay).
        Progress under a budget too small for one chunk: see :func:`oneiro.dream.checkpoint.next_chunk_size`.
        """
        rowids, new = intake
        through = int(checkpoint.get("through", 0))
        size = int(checkpoint.get("chunk_size", checkpoints.CHUNK_EPISODES))
        report = PhaseReport(phase.value, [op.name for op in self._operations(phase, tier)])
        starts = list(range(through, len(new), size)) or [through]
        finished = 0
        for n, start in enumerate(starts):
            end = min(start + size, len(new))
            if self._wake.is_set():
                self._interrupt(cycle_id, phase, "wake")
            if phase_budget.exhausted():
                report.note = f"budget used up after {n} of {len(starts)} chunks"
                break
            self._progress(
                cycle_id, index, phase, "chunk", chunk=n + 1, chunks=len(starts), episodes=end, total=len(new)
            )
            seed = _seed(cycle_id, phase.value if start == 0 else f"{phase.value}:{start}")
            with reading(self.store, int(checkpoint.get("to_rowid", 0))) as view:
                snap = self._snapshot(cycle_id, new[start:end], checkpoint, view)
                outcome, part = self._run_operations(
                    phase, snap, carry, phase_budget, cycle_id, index, seed, tier
                )
            if checkpoints.ran_out_of_budget(part):
                why = f"{part.note}; " if part.note else ""
                report.note = f"{why}budget ran out inside chunk {n + 1} of {len(starts)}: it was discarded"
                report.left.update(part.left)
                break
            finished += 1
            through, carry = end, carry.joined(outcome.carry)
            span = [[rowids[start], rowids[end - 1]]] if end > start else []
            consolidated = backlog.merge([*checkpoint.get("consolidated", []), *span])
            checkpoint = {
                **checkpoint,
                "through": through,
                "consolidated": consolidated,
                "carry": carry.to_json(),
            }
            payload = {"chunk": n + 1, "episodes": [start, end], **checkpoints.phase_payload(part)}
            self._apply(cycle_id, phase, outcome.writes, ("phase_chunk", payload), checkpoint, None)
            checkpoints.accumulate(report, part)
        if len(new) > through:
            report.left["episodes"] = len(new) - through
        checkpoint = {
            **checkpoint,
            "next_chunk_size": checkpoints.next_chunk_size(size, finished, len(starts)),
        }
        report.seconds = phase_budget.elapsed()
        return Outcome(), report, checkpoint

    def _progress(self, cycle_id: str, index: int, phase: PhaseName, state: str, **extra: Any) -> None:
        """Publish a ``dream_progress`` event: a phase's ``start`` and ``done``, and within it each
        ``chunk`` of the intake and each ``operation`` (with ``operation``, ``op_step``, ``ops``).

        Every such step boundary is also where the cycle's lease is renewed (when its heartbeat
        interval has passed), so a long phase keeps it as long as its steps keep coming."""
        self.lease.renew(cycle_id)
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
        """Stop here; :meth:`run` records the interruption (outside any read transaction)."""
        raise Woken({"at_phase": phase.value, "why": why})

    def _run_operations(
        self,
        phase: PhaseName,
        snap: StoreSnapshot,
        carry: Carry,
        phase_budget: PhaseBudget,
        cycle_id: str,
        index: int,
        seed: int,
        tier: Tier,
    ) -> tuple[Outcome, PhaseReport]:
        """Run a phase's operations in order over ``snap``, each behind the operation boundary.

        An operation the budget no longer allows is skipped and reported as left, unless it is
        ``essential`` (admission: no entry may become visible unjudged; the waking brief: the
        agent must learn what the cycle left), which runs whatever the budget says."""
        operations = self._operations(phase, tier)
        ctx = Context(
            cycle_id,
            self.clock(),
            np.random.default_rng(seed),
            self.embedder,
            self.config,
            phase_budget,
            tier,
            scorers=self.scorers,
        )
        total = Outcome()
        report = PhaseReport(phase.value, [op.name for op in operations])
        if not operations:
            report.note = (
                f"no {phase.value.upper()} operations in this version: the phase ran and did nothing"
            )
        for i, op in enumerate(operations):
            if self._wake.is_set() and cycle_id != DRY_RUN_CYCLE:
                self._interrupt(cycle_id, phase, "wake")
            if phase_budget.exhausted() and not getattr(op, "essential", False):
                report.left[f"operations.{op.name}"] = 1
                report.note = f"budget share used up after {i} of {len(operations)} operations"
                continue
            self._progress(
                cycle_id, index, phase, "operation", operation=op.name, op_step=i + 1, ops=len(operations)
            )
            outcome, skipped = self._run_one(op, phase, snap, ctx, carry.overridden(total.carry))
            total.writes.extend(outcome.writes)
            total.carry = total.carry.overridden(outcome.carry)
            if skipped:
                report.did[f"{op.name}.skipped_bad_episodes"] = len(skipped)
            for key, value in outcome.did.items():
                report.did[f"{op.name}.{key}"] = value
            for key, value in outcome.left.items():
                report.left[f"{op.name}.{key}"] = value
        report.writes = total.writes.summary()
        report.seconds = phase_budget.elapsed()
        return total, report

    def _run_one(
        self, op: Operation, phase: PhaseName, snap: StoreSnapshot, ctx: Context, carry: Carry
    ) -> tuple[Outcome, list[Skipped]]:
        """Run one operation behind the boundary. An operation that fails on no episode in
        particular (it raises on every input, or returns something other than an Outcome) is a
        defect of its plugin: under ``on_operation_error = "stop"`` it fails the cycle (the caller
        undoes every write of it); under ``"skip"`` its writes are dropped and an
        ``operation_failed`` note, naming the plugin and the operation, is journaled instead."""
        with self.store.snapshot():
            try:
                return run_guarded(_Checked(op), snap.with_new, snap.new_episodes, ctx, carry)
            except Exception as exc:
                failure = exc
        return self._operation_failed(op, phase, failure), []

    def _operation_failed(self, op: Operation, phase: PhaseName, exc: Exception) -> Outcome:
        plugin = self.source.plugin_of(op)
        error = f"{type(exc).__name__}: {exc}"[:MESSAGE_LIMIT]
        if self.config.on_operation_error != "skip":
            raise PluginError(
                f"plugin {plugin!r}: operation {op.name!r} of {phase.value} failed: {error}"
            ) from exc
        payload = {"plugin": plugin, "operation": op.name, "phase": phase.value, "error": error}
        failed = Outcome(did={"failed": 1})
        failed.writes.notes.append(Note("operation_failed", payload))
        return failed

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
        writes: Writes,
        record: tuple[str, dict[str, Any]],
        checkpoint: dict[str, Any],
        status: str | None,
        brief: dict[str, Any] | None = None,
    ) -> None:
        """One transaction: the writes, their journal records (``record`` is the phase's or the
        chunk's own), the checkpoint, and, for the last phase, the brief and the final ``status``."""
        matrix = self._vectors(writes)
        now = self.clock()
        with self.store.transaction():
            self.lease.confirm(cycle_id)
            if writes.entries:
                self.store.add_entries(writes.entries, matrix, self.embedder.name, cycle_id)
            for update in writes.updates:
                self.store.update_entry(update.entry_id, update.changes, cycle_id)
            if writes.predictions:
                self.store.add_predictions(writes.predictions, cycle_id)
            for proposal in writes.revisions:
                propose_from_dream(self.store, proposal, cycle_id, now)
            for credit in writes.credits:
                self.store.credit_item(credit.item_id, credit.helpful, credit.harmful, cycle_id)
            for note in writes.notes:
                self.store.journal_append(now, note.kind, note.payload, cycle_id=cycle_id, phase=phase.value)
            self.store.journal_append(now, record[0], record[1], cycle_id=cycle_id, phase=phase.value)
            if brief is not None:
                self.store.journal_append(now, "brief", brief, cycle_id=cycle_id, phase=phase.value)
            self.store.update_cycle(cycle_id, checkpoint=checkpoint, phase=phase.value, heartbeat=now)
            if status is not None:
                self.store.update_cycle(cycle_id, status=status, ended_at=now)
                payload = {"phases": checkpoint["done"], "left_episodes": checkpoints.left(checkpoint)}
                self.store.journal_append(now, f"cycle_{status}", payload, cycle_id=cycle_id)


class _Planner(DreamEngine):
    """The engine's own phase loop, with applying redirected: each phase's (or chunk's) writes go
    to ``overlay`` and to the plan, and every snapshot is an :class:`OverlaySnapshot`, so a plan
    follows the real run step for step without a second copy of the loop to drift from it. It has
    its own wake-up event: waking the memory stops real cycles, not a plan (as before)."""

    def __init__(self, engine: DreamEngine, overlay: Overlay, plan: DreamPlan) -> None:
        super().__init__(
            engine.store,
            engine.embedder,
            engine.config,
            engine.source,
            clock=engine.clock,
            index=engine.index,
            bus=engine.bus,
            scorers=engine.scorers,
        )
        self.overlay = overlay
        self.plan_report = plan

    def _snapshot(
        self, cycle_id: str, new: Sequence[Episode], checkpoint: dict[str, Any], view: ReadView
    ) -> StoreSnapshot:
        return OverlaySnapshot(super()._snapshot(cycle_id, new, checkpoint, view), self.overlay)

    def _apply(
        self,
        cycle_id: str,
        phase: PhaseName,
        writes: Writes,
        record: tuple[str, dict[str, Any]],
        checkpoint: dict[str, Any],
        status: str | None,
        brief: dict[str, Any] | None = None,
    ) -> None:
        """Lay the writes over the store in memory and list them in the plan; write nothing."""
        self.overlay.apply(writes, cycle_id, self.clock())
        self.plan_report.writes_of(phase.value).add(writes)
