"""The phase seam: what a phase receives, what it returns, and how operations plug in.

A phase is an ordered list of operations. An operation is a pure function of a snapshot, a
context and what earlier phases carried forward; it returns proposed writes and, optionally, data
to carry to later phases. It never reads the wall clock (``ctx.now`` is the cycle's time), never
draws randomness outside ``ctx.rng``, never mutates its inputs and never opens the store. A phase with no
operation still runs and journals that it did nothing, so that operations registered later plug in
without touching the cycle.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from enum import StrEnum
from typing import Any, Protocol, TypedDict

import numpy as np

from oneiro.backends.embedder import Embedder
from oneiro.config import Config
from oneiro.dream.writes import Writes
from oneiro.errors import CycleStateError
from oneiro.model import Entry, Episode, Tier
from oneiro.scoring import ScoringRegistry
from oneiro.store.query import EntryQuery


class PhaseName(StrEnum):
    ONSET = "onset"
    NREM = "nrem"
    REM = "rem"
    EVOLUTION = "evolution"
    INTEGRATION = "integration"
    RETURN = "return"


PHASE_ORDER: tuple[PhaseName, ...] = tuple(PhaseName)


#: A JSON object (what a checkpoint can hold) for carried data whose shape its producer owns.
JsonObject = dict[str, Any]
#: One of REM's findings (a threat, a prediction, a counterfactual return): a sentence, or a JSON
#: object when it has more to say than a sentence.
Finding = str | JsonObject


class ReplayPick(TypedDict):
    """One episode prioritized replay chose, with its utility (gain x need)."""

    id: str
    kind: str
    utility: float
    gain: float
    need: float


class Residue(TypedDict):
    """ONSET's residue: the new episodes that surprised (largest residuals), failed or were charged."""

    residuals: list[str]
    failures: list[str]
    charged: list[str]


class Trajectory(TypedDict):
    """One session's decisions as replayed forward, with the credit reverse replay gave each step."""

    session: str
    ids: list[str]
    actions: list[Any]
    residuals: list[float]
    running: list[float]
    credit: list[float]


class ScorerMark(TypedDict):
    """Re-scoring's place in one scorer's history: rowids after ``after`` are still to re-score."""

    version: int
    after: int


class AdmissionSummary(TypedDict):
    """What admission judged: how many entries it checked; those it quarantined (with the
    signatures found), rejected (with why), corrected (ids) and found superseded."""

    checked: int
    quarantined: list[JsonObject]
    rejected: list[dict[str, str]]
    corrected: list[str]
    superseded: list[dict[str, str]]


class RevisionSummary(TypedDict):
    """One playbook revision INTEGRATION proposed."""

    op: str
    item: str | None
    section: str | None
    text: str | None
    reason: str


class ImaginedReturn(TypedDict):
    """REM's imagined return of one action (a strategy) over the decisions it replayed: the mean
    outcome the store's causal model imagines under do(action), its 90% interval, how many
    decisions it was imagined over and how often the action was really taken. EVOLUTION's
    replicator step reads these; they are dream output and never evidence."""

    action: str
    mean: float
    low: float
    high: float
    n: int
    observed: int


class ContradictionFinding(TypedDict):
    """One contradiction EVOLUTION found: ``entry`` (an entry id) and ``other`` (an entry or an
    episode id) state incompatible values or polarities of one subject's attribute; ``validated_other``
    says the other side is validated knowledge (what memetic selection's immune check reads)."""

    entry: str
    other: str
    subject: str
    attribute: str
    validated_other: bool


class BacklogSummary(TypedDict):
    """What the cycle set out to consolidate, what it consolidated and what it left."""

    intake: int
    consolidated: int
    left: int
    ran_out: bool


@dataclass(frozen=True)
class Carry:
    """What one phase hands the next. Every field is optional: ``None`` means no operation has
    produced it (which a reader tells apart from an empty result, e.g. "no replay selection ran"
    from "replay selected nothing"). Values are JSON-ready so that a checkpoint can hold them
    (:meth:`to_json`, :meth:`from_json`).

    Fields: ``residue`` and ``importance`` (ONSET's: an LLM's 0-10 rating by new episode id, which
    replay prefers to capture's), ``replay`` (the selection), ``trajectories`` (forward replay),
    ``keys_entries`` (episode id -> its keys entry), ``rescoring_cursor`` (scorer -> mark),
    ``threats``, ``threat_search`` (what threat simulation looked for), ``predictions``,
    ``counterfactuals`` and ``imagined_returns`` (REM's), ``contradictions`` (EVOLUTION's),
    ``admission`` and ``revisions``
    (INTEGRATION's), ``backlog`` (the cycle's, for the brief) and ``brief`` (RETURN's)."""

    residue: Residue | None = None
    importance: dict[str, float] | None = None
    replay: list[ReplayPick] | None = None
    trajectories: list[Trajectory] | None = None
    keys_entries: dict[str, str] | None = None
    rescoring_cursor: dict[str, ScorerMark] | None = None
    threats: list[Finding] | None = None
    predictions: list[Finding] | None = None
    counterfactuals: list[Finding] | None = None
    imagined_returns: list[ImaginedReturn] | None = None
    threat_search: JsonObject | None = None
    contradictions: list[ContradictionFinding] | None = None
    admission: AdmissionSummary | None = None
    revisions: list[RevisionSummary] | None = None
    backlog: BacklogSummary | None = None
    brief: JsonObject | None = None

    def overridden(self, more: Carry) -> Carry:
        """This carry with every field ``more`` sets replacing ours (what later operations of one
        phase see of earlier ones)."""
        return replace(self, **{f.name: v for f in fields(more) if (v := getattr(more, f.name)) is not None})

    def joined(self, more: Carry) -> Carry:
        """This carry updated with ``more``; lists and mappings both hold are joined, not replaced,
        so that what successive chunks of one phase carry adds up."""
        changes: dict[str, Any] = {}
        for f in fields(more):
            value, old = getattr(more, f.name), getattr(self, f.name)
            if value is None:
                continue
            if isinstance(old, list) and isinstance(value, list):
                changes[f.name] = [*old, *value]
            elif isinstance(old, dict) and isinstance(value, dict):
                changes[f.name] = {**old, **value}  # shallow: a key both hold takes ``more``'s
            else:
                changes[f.name] = value
        return replace(self, **changes)

    def to_json(self) -> JsonObject:
        """The fields that are set, as a JSON object (the checkpoint's ``carry``)."""
        return {f.name: v for f in fields(self) if (v := getattr(self, f.name)) is not None}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Carry:
        """The carry a checkpoint holds. Keys this version does not know are left out (a newer
        version's carry stays readable); a known key holding the wrong kind of value is refused."""
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise CycleStateError(f"checkpoint carry must be a JSON object, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known and v is not None}
        for key, value in values.items():
            want = dict if key in _OBJECTS else list
            if not isinstance(value, want):
                raise CycleStateError(
                    f"checkpoint carry[{key!r}] must be a JSON {'object' if want is dict else 'array'}, "
                    f"got {type(value).__name__}"
                )
        return cls(**values)


#: Carry fields that are working state within one cycle, sized by its intake (an entry per new
#: episode): later phases of the same cycle read them, a returned cycle's checkpoint drops them.
#: Kept, every past cycle's checkpoint would grow with the experience it consolidated, and what
#: reads past checkpoints (the backlog, :meth:`Snapshot.previous_carry`) would grow with the
#: store. What outlives a cycle (re-scoring's cursor, REM's and EVOLUTION's summaries, the brief)
#: stays.
WORKING_FIELDS = frozenset({"residue", "importance", "replay", "trajectories", "keys_entries"})

#: Carry fields that are JSON objects (the rest are arrays).
_OBJECTS = frozenset(
    {
        "residue",
        "importance",
        "keys_entries",
        "rescoring_cursor",
        "admission",
        "backlog",
        "brief",
        "threat_search",
    }
)


class Snapshot(Protocol):
    """A read-only, consistent view of the store as it was when the cycle began.

    ``new_episodes`` are the awake episodes recorded since the last completed cycle (what this
    cycle must consolidate); the rest is read on demand, inside the cycle's read transaction.
    """

    @property
    def cycle_id(self) -> str: ...
    @property
    def new_episodes(self) -> Sequence[Episode]: ...
    @property
    def max_rowid(self) -> int: ...
    def episodes(self, ids: Sequence[str]) -> dict[str, Episode]: ...
    def episodes_in_sessions(self, sessions: Sequence[str]) -> list[Episode]: ...
    def episodes_around(self, session: str, ts_from: float, ts_to: float, width: int) -> list[Episode]: ...
    def vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]: ...
    def similar(self, vector: np.ndarray, n: int) -> list[tuple[str, float]]: ...
    def similar_many(self, vectors: np.ndarray, n: int) -> list[list[tuple[str, float]]]: ...
    def entries(self, ids: Sequence[str]) -> dict[str, Entry]: ...
    def entries_matching(self, query: EntryQuery) -> list[Entry]: ...
    def entries_citing(self, episode_ids: Sequence[str]) -> dict[str, list[str]]: ...


class Budget(Protocol):
    """A phase's share of the cycle's budget. ``exhausted()`` is the only clock a phase may read:
    an operation checks it between units of work and reports what it left."""

    @property
    def seconds(self) -> float: ...
    @property
    def tokens(self) -> int: ...
    def exhausted(self) -> bool: ...
    def spend_tokens(self, n: int) -> None: ...


@dataclass(frozen=True)
class Context:
    cycle_id: str
    now: float
    rng: np.random.Generator
    embedder: Embedder
    config: Config
    budget: Budget
    tier: Tier = Tier.T0
    #: The memory's scorers (registered through :mod:`oneiro.plugins`), for re-scoring.
    scorers: ScoringRegistry = field(default_factory=ScoringRegistry)


@dataclass
class Outcome:
    """What one operation returns: proposed writes, data for later phases (a :class:`Carry`), a
    count of what it did and what it left undone."""

    writes: Writes = field(default_factory=Writes)
    carry: Carry = field(default_factory=Carry)
    did: dict[str, int] = field(default_factory=dict)
    left: dict[str, int] = field(default_factory=dict)


class Operation(Protocol):
    """One pure dream operation, e.g. temporal normalisation or prioritized replay."""

    name: str
    tier: Tier

    def run(self, snap: Snapshot, ctx: Context, carry: Carry) -> Outcome: ...
