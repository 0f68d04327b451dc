"""One weight-tier consolidation: train a candidate, prune it, probe it, stage it.

Invariant: this never changes the active adapter; the candidate reaches awake use only through
:meth:`AdapterStore.promote`. Every outcome (no-op, discarded, staged with its verdict) is journaled,
so the journal explains a cycle that trained nothing as well as one that did.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from oneiro.train.adapters import AdapterStore, Version, nonzero, prune
from oneiro.train.examples import Example, TrainingSet
from oneiro.train.lora import LoraTrainer
from oneiro.train.probes import MIN_GAIN, PROBE_MARGIN, Verdict, judge
from oneiro.train.trainer import StepBudget, TrainResult

#: Fraction of each adapter tensor zeroed by magnitude pruning before probing (the probe judges
#: the pruned adapter, the one that would serve). Half: LoRA updates are low-rank and small.
PRUNE_FRACTION = 0.5


@dataclass(frozen=True)
class Outcome:
    result: TrainResult
    verdict: Verdict | None = None
    version: Version | None = None
    size_before: int = 0
    size_after: int = 0


def consolidate(
    adapters: AdapterStore,
    trainer: LoraTrainer,
    training: TrainingSet,
    probes: Sequence[Example],
    budget: StepBudget,
    *,
    prune_fraction: float = PRUNE_FRACTION,
    margin: float = PROBE_MARGIN,
    min_gain: float = MIN_GAIN,
    stop: Callable[[], bool] = lambda: False,
    clock: Callable[[], float] = time.monotonic,
    cycle_id: str | None = None,
) -> Outcome:
    result = trainer.train(training.examples, budget, stop=stop, clock=clock)
    if result.adapter is None:
        kind = "weights_noop" if result.examples == 0 else "weights_discarded"
        adapters.journal(kind, _cost(result))
        return Outcome(result)
    size_before = nonzero(result.adapter.weights)
    pruned = replace(result.adapter, weights=prune(result.adapter.weights, prune_fraction))
    active = adapters.active_adapter()
    verdict = judge(
        trainer.model,
        trainer.tokenize,
        active=active,
        candidate=pruned,
        probes=probes,
        new=training.new,
        margin=margin,
        min_gain=min_gain,
    )
    version = adapters.stage(pruned, verdict.as_dict(), cycle_id=cycle_id)
    adapters.journal(
        "weights_trained",
        {
            **_cost(result),
            "version": version.name,
            "nonzero_before": size_before,
            "nonzero_after": nonzero(pruned.weights),
            "replay": len(training.replay),
            "new": len(training.new),
        },
    )
    return Outcome(result, verdict, version, size_before, nonzero(pruned.weights))


def _cost(result: TrainResult) -> dict[str, Any]:
    return {
        "reason": result.reason,
        "steps": result.steps,
        "seconds": round(result.seconds, 3),
        "examples": result.examples,
    }
