"""Answers the HTTP routes and the MCP tools both give, built the same way for both."""

from __future__ import annotations

from oneiro.dto import ConstraintOut, ItemOut, RevisionOut
from oneiro.memory import Memory
from oneiro.playbook import Playbook, Revision, RevisionStatus, render
from oneiro.service.dreams import DreamState
from oneiro.service.schemas import DreamStateOut, PlaybookOut


def revision_view(pb: Playbook, rev: Revision) -> RevisionOut:
    """The revision with its diff: for a pending one, against the playbook as it is now."""
    out = RevisionOut.from_domain(rev)
    if rev.status == RevisionStatus.PROPOSED:
        return out.model_copy(update={"diff": pb.candidate(rev.id).diff})
    return out


def playbook_view(memory: Memory) -> PlaybookOut:
    pb = memory.playbook
    items = pb.items()
    return PlaybookOut(
        policy=pb.policy,
        markdown=render(items),
        items=[ItemOut.from_domain(i) for i in items],
        pending=[revision_view(pb, r) for r in pb.revisions(RevisionStatus.PROPOSED)],
        constraints=[ConstraintOut.from_domain(c) for c in pb.constraints()],
    )


def dream_view(s: DreamState) -> DreamStateOut:
    return DreamStateOut(
        running=s.running,
        cycle_id=s.cycle_id,
        reason=s.reason,
        progress=s.progress,
        last=s.last,
        error=s.error,
    )
