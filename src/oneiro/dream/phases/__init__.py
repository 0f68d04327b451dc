"""oneiro's own operations, by phase, in their order: what the registration door
(:mod:`oneiro.plugins`) registers for the built-ins.

A phase whose operations all find nothing to do (REM and EVOLUTION on a store with no recorded
decisions) journals what each did, so operations a plugin registers there plug in without touching
the cycle.
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
    from oneiro.dream.phases import evolution, integration, return_
    from oneiro.dream.phases.nrem import nrem_operations
    from oneiro.dream.phases.rem import rem_operations

    table: dict[PhaseName, Sequence[Operation]] = {
        PhaseName.ONSET: (CollectResidue(),),
        PhaseName.NREM: nrem_operations(Config()),
        PhaseName.REM: rem_operations(Config()),
        PhaseName.EVOLUTION: evolution.OPERATIONS,
        PhaseName.INTEGRATION: integration.OPERATIONS,
        PhaseName.RETURN: return_.OPERATIONS,
    }
    return [
        (phase, (i + 1) * ORDER_STEP, op)
        for phase in PhaseName
        for i, op in enumerate(table.get(phase, ()))
    ]


def default_phases(config: Config) -> dict[PhaseName, Sequence[Operation]]:
    """The built-in operations by phase (what a memory without plugins runs; all are T0), for a
    benchmark that builds its own table around them. ``config`` is accepted for compatibility."""
    out: dict[PhaseName, Sequence[Operation]] = {p: () for p in PhaseName}
    for phase, _order, op in builtin_operations():
        out[phase] = (*out[phase], op)
    return out
