"""EVOLUTION's built-in operations, in order (seed 004): strategy evolution on REM's imagined
returns. Memetic selection, contradiction detection and recombination are not yet operations."""

from __future__ import annotations

from oneiro.dream.ops.evolution.strategy import StrategyEvolution
from oneiro.dream.phase import Operation

OPERATIONS: tuple[Operation, ...] = (StrategyEvolution(),)
