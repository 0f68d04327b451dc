"""Awake routes: record, search, entries and their history, hypotheses, brief, status.

Memories are addressed as their users know them: an episode names its ``actor`` (the agent or
the user who spoke or acted) and its ``session``; a search takes a query, filters on those and a
limit; an entry has its sources and a history (the awake judgements that confirmed or refuted it).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from oneiro.dto import (
    BriefOut,
    EntryOut,
    EpisodeIn,
    EpisodeOut,
    EvidenceOut,
    HitOut,
    HypothesisOut,
    StatusOut,
)
from oneiro.errors import UnknownEntry
from oneiro.memory import HYPOTHESIS_STATUSES, Memory
from oneiro.service.auth import Writer
from oneiro.service.errors import ERROR_RESPONSES, WRITE_RESPONSES
from oneiro.service.schemas import (
    EntryDetailOut,
    HistoryOut,
    HypothesisDetailOut,
    JudgementOut,
    RecordBatchIn,
    RecordedOut,
    SearchIn,
)
from oneiro.service.state import Service, Svc

router = APIRouter(prefix="/v1", responses=ERROR_RESPONSES)
#: Longest id a path accepts (ids are 64 hex characters; cycle ids are shorter).
MAX_ID = 200
Id = Annotated[str, Path(min_length=1, max_length=MAX_ID)]


def _record(svc: Service, episodes: list[EpisodeIn]) -> RecordedOut:
    result = svc.memory.record_batch([e.to_record() for e in episodes])
    svc.watch.check()
    return RecordedOut(episodes=[EpisodeOut.from_domain(e) for e in result.episodes], new=list(result.new))


@router.post(
    "/memories",
    status_code=status.HTTP_201_CREATED,
    dependencies=[Writer],
    responses=WRITE_RESPONSES,
    tags=["memories"],
)
def record_one(svc: Svc, episode: EpisodeIn) -> RecordedOut:
    """Record one episode (``Memory.record``)."""
    return _record(svc, [episode])


@router.post(
    "/memories/batch",
    status_code=status.HTTP_201_CREATED,
    dependencies=[Writer],
    responses=WRITE_RESPONSES,
    tags=["memories"],
)
def record_batch(svc: Svc, body: RecordBatchIn) -> RecordedOut:
    """Record a batch, all of it or none of it (``Memory.record_batch``)."""
    return _record(svc, list(body.episodes))


@router.post("/memories/search", tags=["memories"])
def search(svc: Svc, body: SearchIn) -> list[HitOut]:
    """Hybrid recall of episodes and visible entries, best first (``Memory.recall``)."""
    f = body.filters
    hits = svc.memory.recall(
        body.query,
        body.limit,
        actor=f.actor,
        session=f.session,
        kind=f.kind,
        since=f.since,
        until=f.until,
        include_entries=body.include_entries,
    )
    return [HitOut.from_domain(h) for h in hits]


@router.get("/memories/{episode_id}", tags=["memories"])
def episode(svc: Svc, episode_id: Id) -> EpisodeOut:
    """One recorded episode."""
    found = svc.memory.episodes([episode_id])
    if not found:
        raise UnknownEntry(f"no episode {episode_id!r}", field="episode")
    return EpisodeOut.from_domain(found[0])


@router.get("/entries/{entry_id}", tags=["entries"])
def entry(svc: Svc, entry_id: Id) -> EntryDetailOut:
    """An entry (knowledge the dream derived) with the episodes it rests on."""
    found = svc.memory.entry(entry_id)
    sources = svc.memory.sources(found)
    return EntryDetailOut(
        entry=EntryOut.from_domain(found), sources=[EpisodeOut.from_domain(e) for e in sources]
    )


@router.get("/entries/{entry_id}/sources", tags=["entries"])
def sources(svc: Svc, entry_id: Id) -> list[EpisodeOut]:
    """The episodes an entry rests on, in its order (``Memory.sources``)."""
    return [EpisodeOut.from_domain(e) for e in svc.memory.sources(entry_id)]


@router.get("/entries/{entry_id}/history", tags=["entries"])
def history(svc: Svc, entry_id: Id) -> HistoryOut:
    """The entry now, and every awake judgement of it, oldest first (``Memory.evidence``)."""
    found = svc.memory.entry(entry_id)
    return HistoryOut(entry=EntryOut.from_domain(found), history=_judgements(svc.memory, entry_id))


def _judgements(memory: Memory, entry_id: str) -> list[JudgementOut]:
    rows = memory.evidence(entry_id)
    episodes = {e.id: e for e in memory.episodes([r.episode_id for r in rows])}
    return [
        JudgementOut(
            evidence=EvidenceOut.from_domain(r),
            episode=EpisodeOut.from_domain(episodes[r.episode_id]) if r.episode_id in episodes else None,
        )
        for r in rows
    ]


@router.get("/hypotheses", tags=["hypotheses"])
def hypotheses(
    svc: Svc,
    status: Annotated[list[str] | None, Query(description=", ".join(HYPOTHESIS_STATUSES))] = None,
) -> list[HypothesisOut]:
    """Dream-made hypotheses in the given statuses (all four by default)."""
    wanted = status if status else HYPOTHESIS_STATUSES
    return [HypothesisOut.from_domain(e) for e in svc.memory.hypotheses(wanted)]


@router.get("/hypotheses/{entry_id}", tags=["hypotheses"])
def hypothesis(svc: Svc, entry_id: Id) -> HypothesisDetailOut:
    """A hypothesis with its sources and the evidence episodes that judged it."""
    found = svc.memory.entry(entry_id)
    return HypothesisDetailOut(
        hypothesis=HypothesisOut.from_domain(found),
        sources=[EpisodeOut.from_domain(e) for e in svc.memory.sources(found)],
        evidence=_judgements(svc.memory, entry_id),
    )


@router.get("/brief", tags=["dreams"])
def brief(svc: Svc) -> BriefOut | None:
    """The latest waking brief; null before any cycle returned."""
    latest = svc.memory.brief()
    return None if latest is None else BriefOut.from_domain(latest)


@router.get("/status", tags=["status"])
def get_status(svc: Svc) -> StatusOut:
    """What the store holds (``Memory.status``)."""
    return StatusOut.from_domain(svc.memory.status())
