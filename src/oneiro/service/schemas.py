"""Request bodies and the HTTP-shaped answers of the service, built from :mod:`oneiro.dto`.

Like the DTOs they forbid unknown fields (a typo is an error) and cap what a client may ask for,
so a request cannot make the server do unbounded work.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from oneiro.dto import (
    ConstraintOut,
    CycleOut,
    EntryOut,
    EpisodeIn,
    EpisodeOut,
    ErrorOut,
    EvidenceOut,
    HypothesisOut,
    ItemOut,
    RevisionOut,
)

JSON = dict[str, Any]
#: Most results one search may ask for; deeper pages are not what recall is for.
MAX_LIMIT = 1000
#: Longest ``by``/``reason`` kept with a decision.
MAX_NOTE = 500


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RecordBatchIn(_Model):
    """A batch recorded all or nothing (the capture limit caps its length)."""

    episodes: list[EpisodeIn] = Field(min_length=1)


class RecordedOut(_Model):
    episodes: list[EpisodeOut]
    new: list[bool]


Scope = str | list[str] | None


class SearchFilters(_Model):
    """Which memories a search looks at: by actor (an agent or a user), session and kind, and
    a time window (epoch seconds or an ISO date)."""

    actor: Scope = None
    session: Scope = None
    kind: Scope = None
    since: float | str | None = None
    until: float | str | None = None


class SearchIn(_Model):
    query: str = Field(min_length=1)
    filters: SearchFilters = SearchFilters()
    limit: int = Field(default=10, ge=1, le=MAX_LIMIT)
    include_entries: bool = True


class EntryDetailOut(_Model):
    entry: EntryOut
    sources: list[EpisodeOut]


class JudgementOut(_Model):
    """One piece of an entry's history: the judgement and the episode that made it."""

    evidence: EvidenceOut
    episode: EpisodeOut | None


class HistoryOut(_Model):
    entry: EntryOut
    history: list[JudgementOut]


class HypothesisDetailOut(_Model):
    hypothesis: HypothesisOut
    sources: list[EpisodeOut]
    evidence: list[JudgementOut]


class DreamIn(_Model):
    reason: str = Field(default="http", min_length=1, max_length=MAX_NOTE)
    wait: bool = False


class DreamStateOut(_Model):
    running: bool
    cycle_id: str | None
    reason: str | None
    progress: JSON
    last: CycleOut | None
    error: ErrorOut | None


class PlanOut(_Model):
    """A dry run: the cycle as a real run now would go, what each phase proposed, the outcome."""

    cycle: CycleOut
    proposed: list[JSON]
    outcome: list[EntryOut]


class WakeOut(_Model):
    woken: bool


class RevertOut(_Model):
    cycle_id: str
    undone: int


class PlaybookOut(_Model):
    policy: str
    markdown: str
    items: list[ItemOut]
    pending: list[RevisionOut]
    constraints: list[ConstraintOut]


class DecideIn(_Model):
    by: str = Field(default="user", min_length=1, max_length=MAX_NOTE)


class RejectIn(_Model):
    by: str = Field(default="user", min_length=1, max_length=MAX_NOTE)
    reason: str = Field(default="rejected", min_length=1, max_length=MAX_NOTE)


class ConstraintIn(_Model):
    """A constraint as in a ``[[constraint]]`` table: ``name``, ``kind`` and its fields."""

    constraint: JSON
    replace: bool = False
