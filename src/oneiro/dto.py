"""Data transfer objects: what crosses an edge (the HTTP service, the MCP server) as JSON.

They are separate from the domain types of :mod:`oneiro.model` on purpose: the domain types may
change shape with the design, while these are a published contract with a JSON schema
(``Model.model_json_schema()``). Each output model is built from a domain object with
``from_domain``; :class:`EpisodeIn` turns back into the record ``Memory.record`` takes, whose
validation (:mod:`oneiro.capture`) stays the single judge of what may be stored. Every model
forbids unknown fields, so a typo in a request is an error, not a silently ignored key.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from oneiro.constraints import Constraint
from oneiro.dream.report import CycleReport
from oneiro.errors import (
    ConfigError,
    ConstraintViolation,
    CycleError,
    CycleRunning,
    EffectGateViolation,
    GateError,
    InvalidInput,
    OneiroError,
    PlaybookError,
    RevisionError,
    StoreError,
    StoreReadOnly,
    UnknownCycle,
    UnknownEntry,
    UnknownRevision,
)
from oneiro.memory import Brief, Status
from oneiro.model import Affect, Entry, Episode, Hit
from oneiro.playbook import Item, Revision
from oneiro.plugins import PluginError
from oneiro.store.cycles import CycleRow
from oneiro.store.evidence import EvidenceRow
from oneiro.store.journal import Record

JSON = dict[str, Any]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AffectIO(_Model):
    pleasure: float = 0.0
    arousal: float = 0.0
    dominance: float = 0.0


class EpisodeIn(_Model):
    """One episode to record: ``text`` is required; everything else is optional."""

    text: str
    ts: float | str | None = None
    session: str = ""
    actor: str = ""
    kind: str = "message"
    data: JSON = Field(default_factory=dict)
    context: JSON = Field(default_factory=dict)
    affect: AffectIO | None = None
    prediction: float | None = None
    outcome: float | None = None
    feedback: float | None = None
    refs: list[str] = Field(default_factory=list)

    @classmethod
    def from_domain(cls, episode: Episode) -> EpisodeIn:
        """The input that records ``episode`` again (same content, so the same id)."""
        return cls(
            text=episode.text,
            ts=episode.ts,
            session=episode.session,
            actor=episode.actor,
            kind=episode.kind,
            data=dict(episode.data),
            context=dict(episode.context),
            affect=_affect(episode.affect),
            prediction=episode.prediction,
            outcome=episode.outcome,
            feedback=episode.feedback,
            refs=list(episode.refs),
        )

    def to_record(self) -> JSON:
        """The mapping ``Memory.record`` takes (unset optional fields left out)."""
        return self.model_dump(exclude_none=True)


class EpisodeOut(_Model):
    id: str
    ts: float
    text: str
    session: str
    actor: str
    kind: str
    data: JSON
    context: JSON
    affect: AffectIO | None
    prediction: float | None
    outcome: float | None
    feedback: float | None
    refs: list[str]
    provenance: str
    importance: float

    @classmethod
    def from_domain(cls, episode: Episode) -> EpisodeOut:
        return cls(
            **{f: getattr(episode, f) for f in _EPISODE_PLAIN},
            data=dict(episode.data),
            context=dict(episode.context),
            affect=_affect(episode.affect),
            refs=list(episode.refs),
            provenance=episode.provenance.value,
        )


_EPISODE_PLAIN = (
    "id",
    "ts",
    "text",
    "session",
    "actor",
    "kind",
    "prediction",
    "outcome",
    "feedback",
    "importance",
)


class EntryOut(_Model):
    id: str
    kind: str
    text: str
    sources: list[str]
    provenance: str
    tier: str
    cycle_id: str | None
    confidence: float
    status: str
    keys: list[str]
    data: JSON
    created_at: float
    valid_from: float | None
    valid_to: float | None
    confirmations: int
    refutations: int

    @classmethod
    def from_domain(cls, entry: Entry) -> EntryOut:
        return cls(
            **{f: getattr(entry, f) for f in _ENTRY_PLAIN},
            sources=list(entry.sources),
            provenance=entry.provenance.value,
            tier=entry.tier.value,
            status=entry.status.value,
            keys=list(entry.keys),
            data=dict(entry.data),
        )


_ENTRY_PLAIN = (
    "id",
    "kind",
    "text",
    "cycle_id",
    "confidence",
    "created_at",
    "valid_from",
    "valid_to",
    "confirmations",
    "refutations",
)


class HitOut(_Model):
    """One recall result: an episode or an entry (``type`` says which), its score and ranks."""

    type: str
    episode: EpisodeOut | None = None
    entry: EntryOut | None = None
    score: float
    relevance: float
    lexical_rank: int | None
    dense_rank: int | None
    sources: list[str]

    @classmethod
    def from_domain(cls, hit: Hit) -> HitOut:
        item = hit.item
        is_entry = isinstance(item, Entry)
        return cls(
            type="entry" if is_entry else "episode",
            episode=None if isinstance(item, Entry) else EpisodeOut.from_domain(item),
            entry=EntryOut.from_domain(item) if isinstance(item, Entry) else None,
            score=hit.score,
            relevance=hit.relevance,
            lexical_rank=hit.lexical_rank,
            dense_rank=hit.dense_rank,
            sources=list(hit.ranked_sources or (item.sources if isinstance(item, Entry) else (item.id,))),
        )


class CycleOut(_Model):
    """A cycle: from the store's row (``Memory.cycle``) or from the report of a run."""

    id: str
    status: str
    reason: str
    phase: str | None = None
    started_at: float | None = None
    ended_at: float | None = None
    budget: JSON
    new_episodes: int | None = None
    left_episodes: int | None = None
    dry_run: bool = False
    resumed: bool = False
    phases: list[JSON] = Field(default_factory=list)

    @classmethod
    def from_domain(cls, cycle: CycleRow | CycleReport) -> CycleOut:
        if isinstance(cycle, CycleReport):
            return cls(
                id=cycle.cycle_id,
                status=cycle.status,
                reason=cycle.reason,
                budget=dict(cycle.budget),
                new_episodes=cycle.new_episodes,
                left_episodes=cycle.left_episodes,
                dry_run=cycle.dry_run,
                resumed=cycle.resumed,
                phases=[dataclasses.asdict(p) for p in cycle.phases],
            )
        return cls(
            id=cycle.id,
            status=cycle.status,
            reason=cycle.reason,
            phase=cycle.phase,
            started_at=cycle.started_at,
            ended_at=cycle.ended_at,
            budget=dict(cycle.budget),
        )


class EmbedderOut(_Model):
    name: str
    dim: int


class LastCycleOut(_Model):
    id: str
    status: str


class StatusOut(_Model):
    store: str
    read_only: bool
    schema_version: int
    episodes: int
    entries: dict[str, int]
    embedder: EmbedderOut
    last_cycle: LastCycleOut | None
    configured_embedder: EmbedderOut | None = None

    @classmethod
    def from_domain(cls, status: Status) -> StatusOut:
        return cls.model_validate(status.to_dict())


class HypothesisOut(_Model):
    id: str
    kind: str
    status: str
    confidence: float
    confirmations: int
    refutations: int
    created_at: float
    cycle_id: str | None
    text: str
    test: JSON

    @classmethod
    def from_domain(cls, entry: Entry) -> HypothesisOut:
        test = entry.data.get("test")
        return cls(
            id=entry.id,
            kind=entry.kind,
            status=entry.status.value,
            confidence=entry.confidence,
            confirmations=entry.confirmations,
            refutations=entry.refutations,
            created_at=entry.created_at,
            cycle_id=entry.cycle_id,
            text=entry.text,
            test=dict(test) if isinstance(test, dict) else {},
        )


class BriefOut(_Model):
    cycle_id: str | None
    ts: float
    markdown: str
    data: JSON

    @classmethod
    def from_domain(cls, brief: Brief) -> BriefOut:
        return cls(cycle_id=brief.cycle_id, ts=brief.ts, markdown=brief.markdown, data=dict(brief.data))


class RevisionOut(_Model):
    id: str
    status: str
    op: str
    item: str | None
    section: str
    text: str
    params: JSON
    reason: str
    evidence: list[str]
    diff: str
    proposed_by: str
    decided_by: str | None
    decision: str | None
    validated_sha: str | None
    cycle_id: str | None
    created_at: float

    @classmethod
    def from_domain(cls, revision: Revision) -> RevisionOut:
        return cls(
            id=revision.id,
            status=revision.status.value,
            op=revision.op,
            item=revision.item_id,
            section=revision.section,
            text=revision.text,
            params=dict(revision.params),
            reason=revision.reason,
            evidence=list(revision.evidence),
            diff=revision.diff,
            proposed_by=revision.proposed_by,
            decided_by=revision.decided_by,
            decision=revision.decision,
            validated_sha=revision.validated_sha,
            cycle_id=revision.cycle_id,
            created_at=revision.created_at,
        )


class EvidenceOut(_Model):
    """One awake judgement of an entry: the episode, +1 (confirms) or -1 (refutes), who made it."""

    episode_id: str
    polarity: int
    recorded_at: float
    party: str

    @classmethod
    def from_domain(cls, row: EvidenceRow) -> EvidenceOut:
        return cls(
            episode_id=row.episode_id, polarity=row.polarity, recorded_at=row.recorded_at, party=row.party
        )


class JournalOut(_Model):
    """One journal record (the hash chain's fields included, so a client can check it)."""

    seq: int
    ts: float
    cycle_id: str | None
    phase: str | None
    kind: str
    payload: JSON
    hash: str

    @classmethod
    def from_domain(cls, record: Record) -> JournalOut:
        return cls(
            seq=record.seq,
            ts=record.ts,
            cycle_id=record.cycle_id,
            phase=record.phase,
            kind=record.kind,
            payload=dict(record.payload),
            hash=record.hash,
        )


class ItemOut(_Model):
    id: str
    section: str
    text: str
    params: JSON
    helpful: int
    harmful: int
    version: int

    @classmethod
    def from_domain(cls, item: Item) -> ItemOut:
        return cls.model_validate(item.as_dict())


class ConstraintOut(_Model):
    name: str
    kind: str
    spec: JSON
    source: str

    @classmethod
    def from_domain(cls, c: Constraint) -> ConstraintOut:
        return cls(name=c.name, kind=c.kind, spec=dict(c.spec), source=c.source)


#: Stable error codes by the most specific class they cover, most specific first: an edge maps a
#: code to a status (``invalid_input`` to 400, ``unknown_cycle`` to 404...) and a client switches
#: on the code, never on the message.
ERROR_CODES: tuple[tuple[type[OneiroError], str], ...] = (
    (UnknownCycle, "unknown_cycle"),
    (UnknownRevision, "unknown_revision"),
    (CycleRunning, "cycle_running"),
    (StoreReadOnly, "store_read_only"),
    (ConstraintViolation, "constraint_violation"),
    (RevisionError, "revision_error"),
    (EffectGateViolation, "effect_gate_violation"),
    (UnknownEntry, "unknown_entry"),
    (InvalidInput, "invalid_input"),
    (PluginError, "plugin_error"),
    (ConfigError, "config_error"),
    (StoreError, "store_error"),
    (CycleError, "cycle_error"),
    (PlaybookError, "playbook_error"),
    (GateError, "gate_error"),
    (OneiroError, "oneiro_error"),
)


class ErrorOut(_Model):
    """An error as an edge returns it: a stable ``code``, the message, and the field it names."""

    code: str
    message: str
    field: str | None = None

    @classmethod
    def from_domain(cls, error: OneiroError) -> ErrorOut:
        code = next(c for kind, c in ERROR_CODES if isinstance(error, kind))
        field = getattr(error, "field", None)
        return cls(code=code, message=str(error), field=field if isinstance(field, str) else None)


def _affect(affect: Affect | None) -> AffectIO | None:
    return None if affect is None else AffectIO(**dataclasses.asdict(affect))


#: Every transfer object, for an edge that publishes their schemas.
MODELS: tuple[type[BaseModel], ...] = (
    EpisodeIn,
    EpisodeOut,
    EntryOut,
    HitOut,
    CycleOut,
    StatusOut,
    HypothesisOut,
    BriefOut,
    RevisionOut,
    EvidenceOut,
    JournalOut,
    ItemOut,
    ConstraintOut,
    ErrorOut,
)
