"""The weight tier over one memory: its training set, its probes, a dream run, a served answer.

Opt-in: a memory whose config has ``[weights] enabled = false`` (the default) refuses it
(ConfigError), because training changes how the agent answers. A run only stages a candidate;
the active adapter changes only by promotion. An answer names the adapter that produced it.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from oneiro.errors import ConfigError
from oneiro.model import EntryStatus, Provenance
from oneiro.store.query import EntryQuery
from oneiro.train.adapters import AdapterStore, for_memory
from oneiro.train.consolidate import Outcome, consolidate
from oneiro.train.examples import QA, Example, TrainingSet, build, from_entry, from_episode, question_prompt
from oneiro.train.lora import LoraSettings, LoraTrainer, Tokenize, applied
from oneiro.train.trainer import StepBudget

#: At most this many held-back probes per run: enough for a stable mean NLL, cheap to score.
MAX_PROBES = 32
#: Tokens an answer may run to (a fact, not an essay).
ANSWER_TOKENS = 32


@dataclass(frozen=True)
class Generation:
    text: str
    adapter: str | None


class WeightTier:
    def __init__(
        self,
        memory: Any,
        model: Any,
        tokenize: Tokenize,
        *,
        base: str = "base",
        detokenize: Callable[[list[int]], str] | None = None,
    ) -> None:
        settings = memory.config.weights
        if not settings.enabled:
            raise ConfigError("the weight tier is off: set enabled = true under [weights] in oneiro.toml")
        self.memory = memory
        self.settings = settings
        self.adapters: AdapterStore = for_memory(memory)
        lora = LoraSettings(settings.rank, settings.alpha, settings.learning_rate)
        self.trainer = LoraTrainer(model, tokenize, lora, base=base)
        self.detokenize = detokenize

    def training_set(self, since: float, seed: int = 0) -> TrainingSet:
        store = self.memory.store
        entries = store.entries_matching(EntryQuery(statuses=(EntryStatus.VALIDATED.value,)))
        episodes = [e for _, e in store.episodes_since(0)]
        return build(
            entries,
            episodes,
            since=since,
            min_importance=self.settings.min_importance,
            replay_ratio=self.settings.replay_ratio,
            rng=random.Random(seed),
        )

    def probes(self, training: TrainingSet, since: float) -> list[Example]:
        """Held back: older validated QA and important awake episodes that are not in this run's
        replay, so a probe measures what the model keeps without being retrained on it."""
        used = {x.source for x in training.examples}
        store = self.memory.store
        old = [
            x
            for e in store.entries_matching(EntryQuery(statuses=(EntryStatus.VALIDATED.value,)))
            if e.created_at < since
            for x in from_entry(e)
            if x.kind == QA
        ]
        old += [
            from_episode(e)
            for _, e in store.episodes_since(0)
            if e.ts < since
            and e.provenance is Provenance.AWAKE
            and e.importance >= self.settings.min_importance
        ]
        return [x for x in old if x.source not in used][:MAX_PROBES]

    def dream(
        self,
        *,
        since: float,
        wall_seconds: float,
        stop: Callable[[], bool] = lambda: False,
        clock: Callable[[], float] = time.monotonic,
        cycle_id: str | None = None,
    ) -> Outcome:
        training = self.training_set(since)
        budget = StepBudget(self.settings.max_steps, wall_seconds * self.settings.wall_fraction)
        return consolidate(
            self.adapters,
            self.trainer,
            training,
            self.probes(training, since),
            budget,
            prune_fraction=self.settings.prune_fraction,
            margin=self.settings.probe_margin,
            min_gain=self.settings.min_gain,
            stop=stop,
            clock=clock,
            cycle_id=cycle_id,
        )

    def answer(self, question: str, max_new_tokens: int = ANSWER_TOKENS) -> Generation:
        """Greedy answer from the weights alone (no retrieved context), with the active adapter."""
        import torch

        name = self.adapters.active()
        adapter = None if name is None else self.adapters.load(name)
        ids = self.trainer.tokenize(question_prompt(question))
        with applied(self.trainer.model, adapter) as m, torch.no_grad():
            out = m.generate(input_ids=torch.tensor([ids]), max_new_tokens=max_new_tokens, do_sample=False)
        new = [int(t) for t in out[0][len(ids) :]]
        text = self.detokenize(new) if self.detokenize else " ".join(map(str, new))
        return Generation(text.split("\n")[0].strip(), name)
