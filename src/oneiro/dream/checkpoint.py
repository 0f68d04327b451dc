"""What a cycle's checkpoint records about its progress, and how a phase's reports add up.

The checkpoint (a JSON object in the cycle's row) holds: ``intake``, the rowid intervals the cycle
set out to consolidate; ``through``, how many of those episodes NREM consolidated (whole chunks);
``consolidated``, the rowid intervals of those chunks (what :mod:`oneiro.dream.backlog` counts);
``chunk_size`` and ``next_chunk_size``; ``ran_out``, whether any phase left work for lack of
budget; and ``carry``, what phases pass on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from oneiro.dream.phase import PHASE_ORDER, WORKING_FIELDS, BacklogSummary, Carry, PhaseName
from oneiro.dream.report import PhaseReport

#: New episodes a chunked phase consolidates per chunk. Each chunk is applied and checkpointed on
#: its own, so a budget that runs out keeps every finished chunk and leaves the rest to the next
#: cycle. Measured with the hashing embedder: NREM over 4,000 chat turns takes 7.2 s, so a chunk of
#: 250 takes about half a second and a cycle of a few seconds finishes several.
CHUNK_EPISODES = 250
#: Phases that consume the intake and therefore run chunk by chunk.
CHUNKED_PHASES = frozenset({PhaseName.NREM})


def intake_of(checkpoint: dict[str, Any]) -> list[list[int]]:
    """The rowid intervals a cycle set out to consolidate (older checkpoints: its rowid range)."""
    if "intake" in checkpoint:
        return [list(i) for i in checkpoint["intake"]]
    lo, hi = int(checkpoint.get("from_rowid", 0)) + 1, int(checkpoint.get("to_rowid", 0))
    return [[lo, hi]] if lo <= hi else []


def through(checkpoint: dict[str, Any], phase: PhaseName, intake: int) -> int:
    """How many intake episodes a phase sees: all of them before NREM, the consolidated ones after."""
    if PHASE_ORDER.index(phase) < PHASE_ORDER.index(PhaseName.NREM):
        return intake
    return int(checkpoint.get("through", intake))


def left(checkpoint: dict[str, Any]) -> int:
    return int(checkpoint.get("intake_size", 0)) - int(checkpoint.get("through", 0))


def backlog_summary(
    checkpoint: dict[str, Any], intake: int, reports: Sequence[PhaseReport]
) -> BacklogSummary:
    """What the brief says about the backlog: the intake, what was consolidated, what is left."""
    through = int(checkpoint.get("through", intake))
    ran_out = bool(checkpoint.get("ran_out")) or any(ran_out_of_budget(r) for r in reports)
    return BacklogSummary(intake=intake, consolidated=through, left=intake - through, ran_out=ran_out)


def next_chunk_size(size: int, finished: int, chunks: int) -> int:
    """The chunk size the next cycle starts with: halved when not even one chunk fit the budget,
    doubled (up to :data:`CHUNK_EPISODES`) when every chunk did. Multiplicative decrease is what
    guarantees progress: a budget that fits one episode's consolidation reaches a chunk it can
    finish within log2(CHUNK_EPISODES) cycles, and the cycle never overruns its budget to do so."""
    if finished == 0:
        return max(1, size // 2)
    if finished == chunks:
        return min(CHUNK_EPISODES, size * 2)
    return size


def ran_out_of_budget(report: PhaseReport) -> bool:
    """Whether a phase left work undone (an operation not reached, or stopped early)."""
    return any(value for value in report.left.values())


def carry_of(checkpoint: dict[str, Any]) -> Carry:
    """What the checkpoint says earlier phases carried."""
    return Carry.from_json(checkpoint.get("carry"))


def settled(checkpoint: dict[str, Any]) -> dict[str, Any]:
    """The checkpoint a cycle keeps once it has returned: its carry without the working state
    (:data:`oneiro.dream.phase.WORKING_FIELDS`) that only its own later phases read, so what reads
    past checkpoints costs what the cycles were, not what they consolidated."""
    carry = {k: v for k, v in dict(checkpoint.get("carry") or {}).items() if k not in WORKING_FIELDS}
    return {**checkpoint, "carry": carry}


def phase_payload(report: PhaseReport) -> dict[str, Any]:
    return {
        "operations": report.operations,
        "did": report.did,
        "left": report.left,
        "writes": report.writes,
        "seconds": round(report.seconds, 4),
        "note": report.note,
    }


def accumulate(total: PhaseReport, part: PhaseReport) -> None:
    """Add one chunk's counts to its phase's report."""
    for mine, theirs in ((total.did, part.did), (total.writes, part.writes)):
        for key, value in theirs.items():
            mine[key] = mine.get(key, 0) + value
