"""REM: imagination over what NREM replayed (T0). Counterfactual replay first: its imagined
returns per action are what EVOLUTION reads; then threat rehearsal of the active playbook."""

from __future__ import annotations

from collections.abc import Sequence

from oneiro.config import Config
from oneiro.dream.ops.rem.counterfactuals import Counterfactuals
from oneiro.dream.ops.rem.predictions import CreativePredictions
from oneiro.dream.ops.rem.recombination import CreativeRecombination
from oneiro.dream.ops.rem.threats import ThreatSimulation
from oneiro.dream.phase import Operation


def rem_operations(config: Config) -> Sequence[Operation]:
    return (Counterfactuals(), CreativeRecombination(), CreativePredictions(), ThreatSimulation())
