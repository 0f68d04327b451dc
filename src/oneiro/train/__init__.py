"""The weight tier (W): LoRA consolidation of validated knowledge, behind one trainer seam.

Opt-in (``[weights] enabled``), trained on a candidate in dream mode, served only after
promotion. Heavy libraries (torch, transformers, peft) are imported inside functions, so importing
this package costs nothing and a missing library surfaces as a BackendError naming the extra.
"""

from oneiro.train.adapters import AdapterCorrupt, AdapterRefused, AdapterStore, prune
from oneiro.train.consolidate import Outcome, consolidate
from oneiro.train.examples import Example, TrainingSet, build
from oneiro.train.trainer import Adapter, StepBudget, Trainer, TrainResult

__all__ = [
    "Adapter",
    "AdapterCorrupt",
    "AdapterRefused",
    "AdapterStore",
    "Example",
    "Outcome",
    "StepBudget",
    "TrainResult",
    "Trainer",
    "TrainingSet",
    "build",
    "consolidate",
    "prune",
]
