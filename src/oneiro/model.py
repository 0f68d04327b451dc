"""Domain types: episodes, entries, recall hits and the enumerations they use.

These are plain frozen dataclasses; the store maps them to rows and the edges (CLI, HTTP) map them
to DTOs. An episode is immutable and content-addressed: :func:`episode_id` hashes exactly the
fields that say what happened, so the same experience recorded twice is stored once.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

JSONDict = dict[str, Any]


class Mode(StrEnum):
    AWAKE = "awake"
    DREAM = "dream"


class Provenance(StrEnum):
    AWAKE = "awake"
    SHADOW = "shadow"
    DREAM = "dream"
    RECOMBINATION = "recombination"
    LLM = "llm"


class EntryStatus(StrEnum):
    STAGED = "staged"
    ACTIVE = "active"
    VALIDATED = "validated"
    EXPIRED = "expired"
    REFUTED = "refuted"
    SUPERSEDED = "superseded"
    REVERTED = "reverted"


#: Entry kinds that are another view of exactly one episode (the episode restated with its keys,
#: or embedded in its context). Recall folds their evidence into that episode's score.
VIEW_KINDS = frozenset({"keys", "context"})

#: Statuses an entry may be recalled in (subject also to the confidence floor).
RECALLABLE_STATUSES = (EntryStatus.ACTIVE, EntryStatus.VALIDATED, EntryStatus.STAGED)


class Tier(StrEnum):
    T0 = "T0"
    T1 = "T1"
    T2 = "T2"
    W = "W"


def canonical_json(value: Any) -> str:
    """Stable JSON: sorted keys, no spaces, UTF-8 kept. Used for hashing and storage."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_hash(value: Any) -> str:
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Affect:
    """Pleasure, arousal, dominance, each in [-1, 1] (Mehrabian's PAD)."""

    pleasure: float = 0.0
    arousal: float = 0.0
    dominance: float = 0.0


@dataclass(frozen=True)
class Episode:
    """One immutable record of something that happened while awake (or answered by a shadow).

    ``ts`` is seconds since the epoch (UTC), as the writer states it; the store keeps its own
    record time beside it, and only that one measures windows and expiry. ``prediction`` and
    ``outcome`` are numbers for decision episodes; ``residual`` is ``outcome - prediction`` and is
    derived, never given. ``dispatch`` is the ``seq`` of the awake effectful dispatch whose outcome
    this episode reports (the store checks it when recording); None for anything else.
    """

    id: str
    ts: float
    text: str
    session: str = ""
    actor: str = ""
    kind: str = "message"
    data: JSONDict = field(default_factory=dict)
    context: JSONDict = field(default_factory=dict)
    affect: Affect | None = None
    prediction: float | None = None
    outcome: float | None = None
    feedback: float | None = None
    refs: tuple[str, ...] = ()
    provenance: Provenance = Provenance.AWAKE
    importance: float = 0.0
    dispatch: int | None = None

    @property
    def residual(self) -> float | None:
        if self.prediction is None or self.outcome is None:
            return None
        return self.outcome - self.prediction


def episode_id(
    *,
    ts: float,
    text: str,
    session: str,
    actor: str,
    kind: str,
    data: JSONDict,
    context: JSONDict,
    affect: Affect | None,
    prediction: float | None,
    outcome: float | None,
    feedback: float | None,
    refs: tuple[str, ...],
    provenance: str,
    dispatch: int | None = None,
) -> str:
    """The content address of an episode: what happened, not how we scored it. ``dispatch`` is
    hashed only when set, so episodes that report no dispatch keep the addresses they always had."""
    fields: JSONDict = {} if dispatch is None else {"dispatch": dispatch}
    return content_hash(
        {
            **fields,
            "ts": ts,
            "text": text,
            "session": session,
            "actor": actor,
            "kind": kind,
            "data": data,
            "context": context,
            "affect": None if affect is None else [affect.pleasure, affect.arousal, affect.dominance],
            "prediction": prediction,
            "outcome": outcome,
            "feedback": feedback,
            "refs": list(refs),
            "provenance": provenance,
        }
    )


@dataclass(frozen=True)
class Entry:
    """A unit of consolidated knowledge, with provenance, confidence and a lifecycle.

    Invariant: an entry made by a dream (provenance other than ``awake``) has non-empty
    ``sources``; the store refuses one without.
    """

    id: str
    kind: str
    text: str
    sources: tuple[str, ...]
    provenance: Provenance
    tier: Tier = Tier.T0
    cycle_id: str | None = None
    confidence: float = 0.2
    status: EntryStatus = EntryStatus.STAGED
    keys: tuple[str, ...] = ()
    data: JSONDict = field(default_factory=dict)
    created_at: float = 0.0
    valid_from: float | None = None
    valid_to: float | None = None
    superseded_by: str | None = None
    fitness: float = 0.0
    previous_fitness: float = 0.0
    generation: int = 0
    uses: int = 0
    helpful: int = 0
    harmful: int = 0
    confirmations: int = 0
    refutations: int = 0
    expires_at: float | None = None


def entry_id(kind: str, text: str, sources: tuple[str, ...], data: JSONDict | None = None) -> str:
    """Entries are addressed by what they say and what they rest on, so re-running an operation
    (after a crash, or on resume) proposes the same id instead of a duplicate."""
    return content_hash({"kind": kind, "text": text, "sources": sorted(sources), "data": data or {}})


@dataclass(frozen=True)
class Hit:
    """One recall result. ``item`` is an episode or an entry; ``sources`` are the episode ids an
    entry rests on (an episode's sources are itself)."""

    item: Episode | Entry
    score: float
    relevance: float
    lexical_rank: int | None
    dense_rank: int | None
    #: An entry's sources in order of relevance to the query that found it (set by recall).
    ranked_sources: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return self.item.id

    @property
    def is_entry(self) -> bool:
        return isinstance(self.item, Entry)

    @property
    def sources(self) -> tuple[str, ...]:
        if self.ranked_sources:
            return self.ranked_sources
        return self.item.sources if isinstance(self.item, Entry) else (self.item.id,)
