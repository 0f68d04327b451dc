"""Dream routes: start (in the background, or waiting), dry run, wake, the cycles, the journal,
revert. A dream started here runs in the server's :class:`~oneiro.service.dreams.DreamRunner`;
its progress arrives as ``dream_progress`` events on ``/v1/events``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from oneiro.dream.plan import DreamPlan
from oneiro.dto import CycleOut, EntryOut, JournalOut
from oneiro.service.auth import Writer
from oneiro.service.errors import ERROR_RESPONSES, WRITE_RESPONSES
from oneiro.service.routes_memory import Id
from oneiro.service.schemas import DreamIn, DreamStateOut, PlanOut, RevertOut, WakeOut
from oneiro.service.state import Svc
from oneiro.service.views import dream_view

router = APIRouter(prefix="/v1", responses=ERROR_RESPONSES)
#: Most cycles one listing returns.
MAX_CYCLES = 500
#: Most journal records one read returns (the newest are kept); a cycle writes a few dozen.
MAX_JOURNAL = 5000


@router.post(
    "/dreams",
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[Writer],
    responses={**WRITE_RESPONSES, 200: {"model": DreamStateOut, "description": "the cycle ran (wait)"}},
    tags=["dreams"],
)
def start_dream(svc: Svc, response: Response, body: DreamIn | None = None) -> DreamStateOut:
    """Start a dream cycle now. It runs in the background (202) unless ``wait`` is set, when
    the answer (200) comes once the cycle has returned. 409 while one runs."""
    ask = body or DreamIn()
    if ask.wait:
        svc.runner.run_now(ask.reason)
        response.status_code = status.HTTP_200_OK
        return dream_view(svc.runner.state())
    return dream_view(svc.runner.start(ask.reason))


@router.post("/dreams/plan", tags=["dreams"])
def plan_dream(svc: Svc) -> PlanOut:
    """A dry run: what a cycle starting now would propose, phase by phase; nothing is written."""
    report = svc.memory.dream(dry_run=True)
    assert isinstance(report, DreamPlan)
    return PlanOut(
        cycle=CycleOut.from_domain(report),
        proposed=[p.to_dict() for p in report.proposed],
        outcome=[EntryOut.from_domain(e) for e in report.outcome],
    )


@router.post("/dreams/wake", dependencies=[Writer], responses=WRITE_RESPONSES, tags=["dreams"])
def wake(svc: Svc) -> WakeOut:
    """Wake the running dream at its next step boundary (it stays resumable)."""
    return WakeOut(woken=svc.runner.wake())


@router.get("/dreams/current", tags=["dreams"])
def current(svc: Svc) -> DreamStateOut:
    """Whether a dream runs, its last progress event, and the last outcome (report or error)."""
    return dream_view(svc.runner.state())


@router.get("/cycles", tags=["cycles"])
def cycles(svc: Svc, limit: Annotated[int, Query(ge=1, le=MAX_CYCLES)] = 20) -> list[CycleOut]:
    """The latest cycles, newest first."""
    return [CycleOut.from_domain(c) for c in svc.memory.cycles(limit)]


@router.get("/cycles/{cycle_id}", tags=["cycles"])
def cycle(svc: Svc, cycle_id: Id) -> CycleOut:
    """One cycle (404 for an unknown id)."""
    return CycleOut.from_domain(svc.memory.cycle(cycle_id))


@router.get("/cycles/{cycle_id}/journal", tags=["cycles"])
def cycle_journal(svc: Svc, cycle_id: Id) -> list[JournalOut]:
    """What the cycle did, phase by phase: its journal records, oldest first."""
    svc.memory.cycle(cycle_id)
    return [JournalOut.from_domain(r) for r in svc.memory.journal(cycle_id)]


@router.get("/journal", tags=["cycles"])
def journal(
    svc: Svc,
    kind: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_JOURNAL)] = 1000,
) -> list[JournalOut]:
    """The newest journal records (of one kind, if given), oldest first."""
    records = svc.memory.journal(kind=kind)[-limit:]
    return [JournalOut.from_domain(r) for r in records]


@router.post("/cycles/{cycle_id}/revert", dependencies=[Writer], responses=WRITE_RESPONSES, tags=["cycles"])
def revert(svc: Svc, cycle_id: Id) -> RevertOut:
    """Undo everything a cycle wrote; its journal and every episode stay."""
    svc.memory.cycle(cycle_id)
    undone = svc.memory.revert(cycle_id)
    svc.watch.check()
    return RevertOut(cycle_id=cycle_id, undone=undone)
