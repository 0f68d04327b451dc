"""What a dry run returns: the cycle's report plus every write each phase proposed.

A plan is the real run's phase loop with applying redirected to an in-memory overlay
(:class:`oneiro.dream.snapshot.Overlay`), so what it lists per phase is what the real run that
followed on the same store, at the same time, would write: the same entries (content-addressed,
so the same ids), the same admission decisions, the same brief.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from oneiro.dream.report import CycleReport
from oneiro.dream.writes import Writes
from oneiro.model import Entry


@dataclass
class PhaseWrites(Writes):
    """Every write one phase proposed (all its chunks, in order): :class:`Writes` with the phase
    it came from."""

    phase: str = ""

    def add(self, writes: Writes) -> None:
        self.extend(writes)

    def counts(self) -> dict[str, int]:
        return {
            "entries": len(self.entries),
            "updates": len(self.updates),
            "predictions": len(self.predictions),
            "revisions": len(self.revisions),
            "credits": len(self.credits),
            "notes": len(self.notes),
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: counts, and each proposed write in the words a reviewer reads."""
        return {
            "phase": self.phase,
            "counts": self.counts(),
            "entries": [_entry(e) for e in self.entries],
            "updates": [
                {"entry": u.entry_id, "changes": _plain(u.changes), "reason": u.reason} for u in self.updates
            ],
            "predictions": [
                {"id": p.id, "text": p.text, "due_at": p.due_at, "entry": p.entry_id}
                for p in self.predictions
            ],
            "revisions": [
                {"op": r.op, "item": r.item_id, "section": r.section, "text": r.text, "reason": r.reason}
                for r in self.revisions
            ],
            "credits": [
                {"item": c.item_id, "helpful": c.helpful, "harmful": c.harmful} for c in self.credits
            ],
            "notes": [{"kind": n.kind, "payload": n.payload} for n in self.notes],
        }


@dataclass
class DreamPlan(CycleReport):
    """A dry run's report (``status`` ``planned``): the phases' reports and the brief, as a real
    run's, plus ``proposed``, every phase's writes, and ``outcome``, the entries once admitted.
    ``cycle_id`` is the id the real run starting now would take."""

    proposed: list[PhaseWrites] = field(default_factory=list)
    #: The cycle's entries as they would stand when it returns (every phase's updates applied).
    outcome: list[Entry] = field(default_factory=list)

    def writes_of(self, phase: str) -> PhaseWrites:
        """The writes of ``phase`` (created empty when it proposed nothing yet)."""
        for mine in self.proposed:
            if mine.phase == phase:
                return mine
        mine = PhaseWrites(phase=phase)
        self.proposed.append(mine)
        return mine

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["proposed"] = [p.to_dict() for p in self.proposed]
        out["outcome"] = [_entry(e) for e in self.outcome]
        return out


def _entry(e: Entry) -> dict[str, Any]:
    return {
        "id": e.id,
        "kind": e.kind,
        "status": e.status.value,
        "confidence": e.confidence,
        "text": e.text,
        "sources": list(e.sources),
    }


def _plain(changes: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.value if hasattr(v, "value") else v) for k, v in changes.items()}
