"""Playbook routes: show, revisions with their diffs, approve, reject, rollback, constraints.

Approval is the playbook's own ``approve`` (probe, then promote under a hash check, each in a
store transaction), so two approvals of one revision racing end with one active revision and a
409 for the other, never a half-applied playbook.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from oneiro.dto import ConstraintOut, RevisionOut
from oneiro.errors import ConfigError, InvalidInput
from oneiro.playbook import Revision, RevisionStatus
from oneiro.service.auth import Writer
from oneiro.service.errors import ERROR_RESPONSES, WRITE_RESPONSES
from oneiro.service.routes_memory import Id
from oneiro.service.schemas import ConstraintIn, DecideIn, PlaybookOut, RejectIn
from oneiro.service.state import Service, Svc
from oneiro.service.views import playbook_view, revision_view

router = APIRouter(prefix="/v1/playbook", responses=ERROR_RESPONSES, tags=["playbook"])
STATUSES = tuple(s.value for s in RevisionStatus)


def _published(svc: Service, rev: Revision) -> RevisionOut:
    svc.memory.bus.publish("playbook", revision=rev.id, status=rev.status.value)
    return RevisionOut.from_domain(rev)


@router.get("")
def show(svc: Svc) -> PlaybookOut:
    """The active playbook (markdown and items), its policy, the pending revisions, the constraints."""
    return playbook_view(svc.memory)


@router.get("/revisions")
def revisions(
    svc: Svc, status: Annotated[list[str] | None, Query(description=", ".join(STATUSES))] = None
) -> list[RevisionOut]:
    """Revisions in the given statuses (all by default), with their diffs."""
    wanted = status or list(STATUSES)
    unknown = [s for s in wanted if s not in STATUSES]
    if unknown:
        raise InvalidInput(f"must be among {', '.join(STATUSES)}", field="status")
    pb = svc.memory.playbook
    return [revision_view(pb, r) for r in pb.revisions(*(RevisionStatus(s) for s in wanted))]


@router.get("/revisions/{revision_id}")
def revision(svc: Svc, revision_id: Id) -> RevisionOut:
    """One revision and its diff (404 for an unknown id)."""
    pb = svc.memory.playbook
    return revision_view(pb, pb.revision(revision_id))


@router.post("/revisions/{revision_id}/approve", dependencies=[Writer], responses=WRITE_RESPONSES)
def approve(svc: Svc, revision_id: Id, body: DecideIn | None = None) -> RevisionOut:
    """Probe the revision's candidate and make it active (409 if already decided or a probe fails)."""
    by = (body or DecideIn()).by
    return _published(svc, svc.memory.playbook.approve(revision_id, by=by))


@router.post("/revisions/{revision_id}/reject", dependencies=[Writer], responses=WRITE_RESPONSES)
def reject(svc: Svc, revision_id: Id, body: RejectIn | None = None) -> RevisionOut:
    """Reject a pending revision (409 if already decided)."""
    ask = body or RejectIn()
    return _published(svc, svc.memory.playbook.reject(revision_id, by=ask.by, reason=ask.reason))


@router.post("/rollback", dependencies=[Writer], responses=WRITE_RESPONSES)
def rollback(svc: Svc, body: DecideIn | None = None) -> RevisionOut:
    """Restore the playbook the last activated revision replaced (409 if none was)."""
    by = (body or DecideIn()).by
    return _published(svc, svc.memory.playbook.rollback(by=by))


@router.get("/constraints")
def constraints(svc: Svc) -> list[ConstraintOut]:
    """The constraints no revision may break."""
    return [ConstraintOut.from_domain(c) for c in svc.memory.playbook.constraints()]


@router.post("/constraints", dependencies=[Writer], responses=WRITE_RESPONSES, status_code=201)
def add_constraint(svc: Svc, body: ConstraintIn) -> ConstraintOut:
    """Add a constraint (``replace`` lets it loosen one of the same name; journaled)."""
    try:
        added = svc.memory.playbook.add_constraint(body.constraint, replace=body.replace)
    except ConfigError as exc:  # a constraint table's error; here it is the request's
        raise InvalidInput(str(exc), field="constraint") from exc
    return ConstraintOut.from_domain(added)
