"""Fleet dreaming: many agents' cycles, one after another or as Ray tasks, then sharing.

A round (:func:`dream_fleet`): ask each agent's own scheduler, plan within the fleet's budget
(:mod:`oneiro.fleet.schedule`), run each chosen agent's cycle as one task, then share validated
entries between related agents (:mod:`oneiro.fleet.share`). A task opens its agent's store by
URL or path, so a task holds no state a worker could lose: every write is the cycle's, inside
the store's own transactions.

A worker that dies mid-cycle loses nothing: the cycle's committed phases are checkpointed, its
open transaction is rolled back by the store, and its lease names a process that no longer
exists. Ray runs the task again (:data:`TASK_RETRIES`), and the new attempt's ``dream()``
resumes the interrupted cycle from its checkpoint (or, when it cannot, the cycle reverts).

:class:`Sequential` runs the tasks in this process; :class:`RayRunner` on a Ray cluster (``pip
install 'oneiro[fleet]'``); both return the same :class:`Outcome` rows.
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from oneiro.dream.budget import CycleBudget
from oneiro.errors import BackendError, OneiroError
from oneiro.events import Event
from oneiro.fleet import share as sharing
from oneiro.fleet.schedule import Assignment, FleetBudget, Plan, plan
from oneiro.scheduler import Decision

#: How often Ray runs a task again after its worker died (Ray's own default for tasks is 3).
TASK_RETRIES = 2


@dataclass(frozen=True)
class Agent:
    """One agent of the fleet: its name and where its store is (a URL or a store file)."""

    name: str
    store: str


@dataclass(frozen=True)
class Task:
    agent: Agent
    budget: CycleBudget
    embedder: str
    reason: str
    #: Called with each event of the cycle (progress, mode changes): must be picklable for Ray.
    on_event: Callable[[Event], None] | None = None


@dataclass(frozen=True)
class Outcome:
    """What one agent's cycle did, and what its process used (``peak_rss_kb``: the task process's
    peak resident set, from ``getrusage``)."""

    agent: str
    cycle_id: str
    status: str
    resumed: bool
    seconds: float
    entries_written: int
    pid: int
    peak_rss_kb: int
    error: str | None = None


def run_task(task: Task) -> Outcome:
    """One agent's cycle, in whatever process runs it."""
    import oneiro

    began = time.perf_counter()
    try:
        with oneiro.open(task.agent.store, embedder=task.embedder) as memory:
            if task.on_event is not None:
                memory.bus.subscribe(task.on_event)
            report = memory.dream(reason=task.reason, budget=task.budget)
    except OneiroError as exc:
        return Outcome(
            task.agent.name,
            "",
            "failed",
            False,
            time.perf_counter() - began,
            0,
            os.getpid(),
            _rss(),
            str(exc),
        )
    return Outcome(
        task.agent.name,
        report.cycle_id,
        report.status,
        report.resumed,
        time.perf_counter() - began,
        report.entries_written(),
        os.getpid(),
        _rss(),
    )


def _rss() -> int:
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


class Runner(Protocol):
    def run(self, tasks: Sequence[Task]) -> list[Outcome]: ...


class Sequential:
    """Every task in this process, one after another."""

    def run(self, tasks: Sequence[Task]) -> list[Outcome]:
        return [run_task(t) for t in tasks]


class RayRunner:
    """Every task as a Ray task on the cluster ``ray.init`` connected to (the caller starts and
    stops Ray; a local one is ``ray.init(num_cpus=N)``), each retried if its worker dies."""

    def __init__(self, *, num_cpus: float = 1.0, retries: int = TASK_RETRIES):
        try:
            import ray
        except ImportError as exc:
            raise BackendError(
                f"fleet dreaming on Ray needs the fleet extra: pip install 'oneiro[fleet]' ({exc})"
            ) from exc
        if not ray.is_initialized():
            raise BackendError("Ray is not initialised: call ray.init() (or ray.init(address=...)) first")
        self._ray = ray
        self._remote = ray.remote(num_cpus=num_cpus, max_retries=retries, retry_exceptions=False)(run_task)

    def run(self, tasks: Sequence[Task]) -> list[Outcome]:
        refs = [self._remote.remote(t) for t in tasks]
        out: list[Outcome] = []
        for task, ref in zip(tasks, refs, strict=True):
            try:
                out.append(self._ray.get(ref))
            except self._ray.exceptions.RayError as exc:
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                out.append(Outcome(task.agent.name, "", "failed", False, 0.0, 0, 0, 0, first))
        return out


@dataclass(frozen=True)
class FleetReport:
    plan: Plan
    outcomes: list[Outcome]
    shared: list[sharing.Shared] = field(default_factory=list)
    seconds: float = 0.0


def decisions(agents: Sequence[Agent], embedder: str) -> dict[str, Decision]:
    """Each agent's own scheduler's answer, now."""
    import oneiro

    out: dict[str, Decision] = {}
    for agent in agents:
        with oneiro.open(agent.store, embedder=embedder) as memory:
            out[agent.name] = memory.should_dream()
    return out


def share_round(
    agents: Sequence[Agent], groups: Sequence[Sequence[str]], embedder: str, now: Callable[[], float]
) -> list[sharing.Shared]:
    """Share validated entries within each group (see :mod:`oneiro.fleet.share`)."""
    import oneiro

    by_name = {a.name: a for a in agents}
    results: list[sharing.Shared] = []
    for sender, receiver in sharing.share_within(groups):
        with (
            oneiro.open(by_name[sender].store, embedder=embedder) as source,
            oneiro.open(by_name[receiver].store, embedder=embedder) as target,
        ):
            name, embed = target.embedder.name, target.embedder.embed
            results.append(sharing.share(sender, source.store, receiver, target.store, now(), name, embed))
    return results


def dream_fleet(
    agents: Sequence[Agent],
    budget: FleetBudget,
    runner: Runner,
    *,
    embedder: str = "hashing",
    groups: Sequence[Sequence[str]] = (),
    wanted: Mapping[str, Decision] | None = None,
    on_event: Callable[[Event], None] | None = None,
    clock: Callable[[], float] = time.time,
) -> FleetReport:
    """One fleet round: decide, plan, dream (``runner``), share; ``wanted`` replaces asking each
    agent's scheduler (a caller that already asked)."""
    began = time.perf_counter()
    chosen = plan(wanted if wanted is not None else decisions(agents, embedder), budget)
    by_name = {a.name: a for a in agents}
    tasks = [_task(by_name[a.agent], a, embedder, on_event) for a in chosen.assignments]
    outcomes = runner.run(tasks)
    shared = share_round(agents, groups, embedder, clock) if groups else []
    return FleetReport(chosen, outcomes, shared, time.perf_counter() - began)


def _task(agent: Agent, assignment: Assignment, embedder: str, on_event: Any) -> Task:
    return Task(agent, assignment.budget, embedder, f"fleet: {assignment.reason}", on_event)
