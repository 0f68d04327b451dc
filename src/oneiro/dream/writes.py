"""What a phase proposes, as data. The cycle applies it; a phase never writes.

Everything here is plain data so that a dry run can print it, a checkpoint can hold it and a test
can compare it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from oneiro.model import Entry

Vector = npt.NDArray[np.float32]


@dataclass(frozen=True)
class EntryUpdate:
    """Change mutable columns of an existing entry (status, confidence, counters, ...)."""

    entry_id: str
    changes: dict[str, Any]
    reason: str


@dataclass(frozen=True)
class Prediction:
    """What a dream expects to happen, resolved later by awake episodes at ``due_at``."""

    id: str
    text: str
    due_at: float
    entry_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RevisionProposal:
    """A proposed change to one playbook item: ``op`` is add, edit or remove. ``item_id`` is None
    for an add. ``evidence`` lists the episode and entry ids that motivate it."""

    op: str
    section: str
    text: str
    reason: str
    item_id: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    evidence: tuple[str, ...] = ()


@dataclass(frozen=True)
class ItemCredit:
    """Credit assigned to a playbook item by replay: how many times it helped or harmed."""

    item_id: str
    helpful: int = 0
    harmful: int = 0
    evidence: tuple[str, ...] = ()


@dataclass(frozen=True)
class Note:
    """A journal record a phase wants kept (a decision, a skipped item and why, a finding)."""

    kind: str
    payload: dict[str, Any]


@dataclass
class Writes:
    """A phase's proposed writes. ``vectors`` maps new entry ids to their embedding; entries
    without one are embedded by the cycle from their text."""

    entries: list[Entry] = field(default_factory=list)
    vectors: dict[str, Vector] = field(default_factory=dict)
    updates: list[EntryUpdate] = field(default_factory=list)
    predictions: list[Prediction] = field(default_factory=list)
    revisions: list[RevisionProposal] = field(default_factory=list)
    credits: list[ItemCredit] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)

    def extend(self, other: Writes) -> None:
        self.entries.extend(other.entries)
        self.vectors.update(other.vectors)
        self.updates.extend(other.updates)
        self.predictions.extend(other.predictions)
        self.revisions.extend(other.revisions)
        self.credits.extend(other.credits)
        self.notes.extend(other.notes)

    @property
    def empty(self) -> bool:
        return not (
            self.entries or self.updates or self.predictions or self.revisions or self.credits or self.notes
        )

    def summary(self) -> dict[str, int]:
        kinds: dict[str, int] = {}
        for e in self.entries:
            kinds[e.kind] = kinds.get(e.kind, 0) + 1
        return {
            "entries": len(self.entries),
            **{f"entries.{k}": v for k, v in sorted(kinds.items())},
            "updates": len(self.updates),
            "predictions": len(self.predictions),
            "revisions": len(self.revisions),
            "credits": len(self.credits),
            "notes": len(self.notes),
        }
