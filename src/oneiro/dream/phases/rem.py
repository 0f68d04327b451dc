"""REM: imagination over what NREM replayed (T0), in three parts under one budget split
(:mod:`oneiro.dream.ops.rem.allocation`): counterfactual replay first (its imagined returns per
action are what EVOLUTION reads), then imagination (creative recombination, creative predictions,
depotentiation, anticipation), then threat rehearsal of the active playbook."""

from __future__ import annotations

from collections.abc import Sequence

from oneiro.config import Config
from oneiro.dream.ops.rem.allocation import Allotted
from oneiro.dream.ops.rem.anticipation import Anticipation
from oneiro.dream.ops.rem.counterfactuals import Counterfactuals
from oneiro.dream.ops.rem.depotentiation import Depotentiation
from oneiro.dream.ops.rem.predictions import CreativePredictions
from oneiro.dream.ops.rem.recombination import CreativeRecombination
from oneiro.dream.ops.rem.threats import ThreatSimulation
from oneiro.dream.phase import Operation
from oneiro.sandbox.dreaming import SandboxExperiments


def rem_operations(config: Config) -> Sequence[Operation]:
    return (
        Allotted(Counterfactuals(), reserve=2),
        Allotted(CreativeRecombination(), reserve=1),
        Allotted(CreativePredictions(), reserve=1),
        Allotted(Depotentiation(), reserve=1),
        Allotted(Anticipation(), reserve=1),
        ThreatSimulation(),
        # Opt-in ([sandbox] enabled): does nothing unless enabled; last, being the slowest.
        SandboxExperiments(),
    )
