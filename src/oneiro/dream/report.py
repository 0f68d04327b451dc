"""What a cycle tells its caller: per phase, what it did, what it left, what it proposed."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class PhaseReport:
    phase: str
    operations: list[str]
    did: dict[str, int] = field(default_factory=dict)
    left: dict[str, int] = field(default_factory=dict)
    writes: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    note: str = ""


@dataclass
class CycleReport:
    """A cycle's outcome. ``status`` is ``completed``, ``partial`` (the budget ran out: see
    ``left_episodes`` and each phase's ``left``), ``interrupted``, or ``planned`` for a dry run."""

    cycle_id: str
    status: str
    reason: str
    budget: dict[str, Any]
    phases: list[PhaseReport] = field(default_factory=list)
    new_episodes: int = 0
    dry_run: bool = False
    resumed: bool = False
    brief: dict[str, Any] | None = None
    seconds: float = 0.0
    #: New episodes the cycle did not reach (budget): still unconsolidated, the next cycle's first.
    left_episodes: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def entries_written(self) -> int:
        return sum(p.writes.get("entries", 0) for p in self.phases)
