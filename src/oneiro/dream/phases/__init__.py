"""The default phase table: which operations each phase runs, in order.

REM and EVOLUTION have no operations in this version; the cycle still runs them and journals that
they did nothing, so operations added later plug in here without touching the cycle.
"""

from __future__ import annotations

from collections.abc import Sequence

from oneiro.config import Config
from oneiro.dream.ops.residue import CollectResidue
from oneiro.dream.phase import Operation, PhaseName

#: Positions of the built-in operations within their phase, spaced so a plugin can slot between.
ORDER_STEP = 10


def builtin_operations() -> list[tuple[PhaseName, int, Operation]]:
    """oneiro's own operations as (phase, order, operation), for the registration door."""
    from oneiro.config import Config

    table = default_phases(Config())
    return [
        (phase, (i + 1) * ORDER_STEP, op) for phase in PhaseName for i, op in enumerate(table[phase])
    ]


def default_phases(config: Config) -> dict[PhaseName, Sequence[Operation]]:
    from oneiro.dream.phases import integration, return_
    from oneiro.dream.phases.nrem import nrem_operations

    return {
        PhaseName.ONSET: (CollectResidue(),),
        PhaseName.NREM: nrem_operations(config),
        PhaseName.REM: (),
        PhaseName.EVOLUTION: (),
        PhaseName.INTEGRATION: integration.OPERATIONS,
        PhaseName.RETURN: return_.OPERATIONS,
    }
