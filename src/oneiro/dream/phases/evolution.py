"""EVOLUTION's built-in operations, in order (seed 004): contradiction detection first (memetic
selection's immune check reads what it finds), memetic selection, strategy evolution on REM's
imagined returns, knowledge recombination, then the dream's fingerprints."""

from __future__ import annotations

from oneiro.dream.ops.evolution.contradictions import ContradictionDetection
from oneiro.dream.ops.evolution.fingerprints import DreamFingerprints
from oneiro.dream.ops.evolution.memetic import MemeticSelection
from oneiro.dream.ops.evolution.recombination import KnowledgeRecombination
from oneiro.dream.ops.evolution.strategy import StrategyEvolution
from oneiro.dream.phase import Operation

OPERATIONS: tuple[Operation, ...] = (
    ContradictionDetection(),
    MemeticSelection(),
    StrategyEvolution(),
    KnowledgeRecombination(),
    DreamFingerprints(),
)
