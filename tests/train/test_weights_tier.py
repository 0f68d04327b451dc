from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from train_support import byte_tokenize, model  # noqa: F401

from oneiro.errors import ConfigError
from oneiro.memory import open_memory
from oneiro.model import Entry, EntryStatus, Provenance
from oneiro.train.examples import QA
from oneiro.train.tier import WeightTier

ON = {
    "weights": {
        "enabled": True,
        "min_importance": 0.0,
        "replay_ratio": 1.0,
        "max_steps": 20,
        "learning_rate": 1e-2,
        "rank": 4,
        "alpha": 8,
        "probe_margin": 10.0,
    }
}


def _detok(ids: list[int]) -> str:
    return bytes(i for i in ids if i < 256).decode("utf-8", "replace")


def _fill(memory: Any) -> None:
    memory.record_many(
        [
            {"text": "Melanie ran a charity race for mental health.", "ts": 1_000.0, "actor": "melanie"},
            {"text": "Caroline went to an LGBTQ support group.", "ts": 1_100.0, "actor": "caroline"},
            {"text": "Caroline is researching adoption agencies.", "ts": 9_000.0, "actor": "caroline"},
        ]
    )
    fact = Entry(
        id="f1",
        kind="fact",
        text="Caroline is researching adoption agencies.",
        sources=(),
        provenance=Provenance.AWAKE,
        status=EntryStatus.VALIDATED,
        created_at=9_500.0,
        data={"question": "What is Caroline researching?", "answer": "adoption agencies"},
    )
    memory.store.add_entries(
        [fact], np.zeros((1, memory.embedder.dim), dtype=np.float32), memory.embedder.name
    )


def test_the_tier_is_off_unless_the_config_turns_it_on(home: Path, model: Any) -> None:
    with open_memory(home) as memory, pytest.raises(ConfigError, match=r"\[weights\]"):
        WeightTier(memory, model, byte_tokenize)


def test_a_dream_run_trains_on_new_material_replays_the_old_and_probes_what_it_held_back(
    home: Path, model: Any
) -> None:
    with open_memory(home, overrides=ON) as memory:
        _fill(memory)
        tier = WeightTier(memory, model, byte_tokenize, detokenize=_detok)
        training = tier.training_set(since=5_000.0)
        assert {x.source for x in training.new} >= {"f1"} and any(x.kind == QA for x in training.new)
        assert len(training.new) == 3 and len(training.replay) == 2, "both older episodes replayed"
        assert all(x.replay for x in training.replay) and tier.probes(training, 5_000.0) == []
        before = tier.answer("What is Caroline researching?")
        assert before.adapter is None
        outcome = tier.dream(since=5_000.0, wall_seconds=600.0)
        assert outcome.version is not None and outcome.verdict is not None and outcome.verdict.gain > 0
        assert tier.adapters.active() is None, "a dream only stages a candidate"
        tier.adapters.promote()
        after = tier.answer("What is Caroline researching?")
        assert after.adapter == outcome.version.name
        kinds = [r.kind for r in memory.journal()]
        assert "weights_trained" in kinds and "adapter_promoted" in kinds
