"""The trainer seam: examples in, an adapter out.

A backend implements one method, :meth:`Trainer._fit`; :meth:`Trainer.train` owns what every
backend shares: an empty set is a no-op (no adapter, a reason the journal can carry), the step
and wall budget, and interruption between steps. An interrupted run returns no adapter, so a
half-trained candidate can never be staged or promoted (it is discarded; the active one stays).
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from oneiro.errors import BudgetError
from oneiro.train.examples import Example


@dataclass(frozen=True)
class StepBudget:
    """What one training run may spend: optimiser steps and wall seconds (charged to the cycle)."""

    max_steps: int
    wall_seconds: float

    def __post_init__(self) -> None:
        if self.max_steps < 1 or not self.wall_seconds > 0:
            raise BudgetError(f"a training budget needs steps >= 1 and seconds > 0, got {self}")


@dataclass
class Meter:
    """Counts steps and seconds of a run; ``stop`` is the cycle's own check (its budget, a signal)."""

    budget: StepBudget
    clock: Callable[[], float] = time.monotonic
    stop: Callable[[], bool] = lambda: False
    steps: int = 0
    started: float = field(default=0.0)
    interrupted: bool = False

    def begin(self) -> None:
        self.started = self.clock()

    def elapsed(self) -> float:
        return self.clock() - self.started

    def may_step(self) -> bool:
        """Checked between steps, never inside one: a step either happens whole or not at all."""
        if self.stop():
            self.interrupted = True
            return False
        return self.steps < self.budget.max_steps and self.elapsed() < self.budget.wall_seconds


@dataclass(frozen=True)
class Adapter:
    """Trained low-rank weights (tensor name -> tensor) and what the run cost."""

    weights: Mapping[str, Any]
    steps: int
    seconds: float
    base: str
    settings: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TrainResult:
    """An adapter, or None with the reason (empty set, interrupted) for the journal."""

    adapter: Adapter | None
    reason: str
    steps: int
    seconds: float
    examples: int


class Trainer(ABC):
    """Turns examples into an adapter over one base model."""

    #: Names the base model an adapter belongs to; an adapter never loads over another base.
    base: str = "base"

    def train(
        self,
        examples: Sequence[Example],
        budget: StepBudget,
        *,
        stop: Callable[[], bool] = lambda: False,
        clock: Callable[[], float] = time.monotonic,
    ) -> TrainResult:
        if not examples:
            return TrainResult(
                None, "empty training set: no validated entries or important episodes", 0, 0.0, 0
            )
        meter = Meter(budget, clock=clock, stop=stop)
        meter.begin()
        adapter = self._fit(examples, meter)
        seconds = meter.elapsed()
        if meter.interrupted:
            return TrainResult(
                None, f"interrupted after {meter.steps} steps; discarded", meter.steps, seconds, len(examples)
            )
        return TrainResult(adapter, "trained", meter.steps, seconds, len(examples))

    @abstractmethod
    def _fit(self, examples: Sequence[Example], meter: Meter) -> Adapter:
        """Train while ``meter.may_step()``; increment ``meter.steps`` once per optimiser step."""
