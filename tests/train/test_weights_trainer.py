from __future__ import annotations

import random
from typing import Any

import pytest
from train_support import byte_tokenize, model  # noqa: F401

from oneiro.errors import BudgetError
from oneiro.model import Entry, EntryStatus, Episode, Provenance
from oneiro.train import StepBudget, build
from oneiro.train.examples import NEXT_TOKEN, QA, Example
from oneiro.train.lora import LoraSettings, LoraTrainer, applied, nll

FACTS = [
    Example("", "Caroline adopted a dog named Biscuit in May.", NEXT_TOKEN, "e1"),
    Example("Q: What is the dog called?\nA: ", "Biscuit", QA, "e2"),
]


def _entry(i: str, status: EntryStatus, created: float, **data: Any) -> Entry:
    return Entry(
        id=i,
        kind="fact",
        text=f"fact {i}",
        sources=("s",),
        provenance=Provenance.DREAM,
        status=status,
        created_at=created,
        data=data,
    )


def _episode(i: str, ts: float, importance: float, provenance: Provenance = Provenance.AWAKE) -> Episode:
    return Episode(id=i, ts=ts, text=f"said {i}", actor="mel", importance=importance, provenance=provenance)


def test_only_validated_entries_and_important_awake_episodes_become_new_material() -> None:
    entries = [
        _entry("v", EntryStatus.VALIDATED, 100, question="who?", answer="mel"),
        _entry("s", EntryStatus.STAGED, 100),
        _entry("old", EntryStatus.VALIDATED, 10),
    ]
    episodes = [_episode("a", 100, 0.9), _episode("b", 100, 0.1), _episode("d", 100, 0.9, Provenance.DREAM)]
    ts = build(entries, episodes, since=50, min_importance=0.7, replay_ratio=0.5, rng=random.Random(0))
    assert sorted((x.source, x.kind) for x in ts.new) == [("a", NEXT_TOKEN), ("v", NEXT_TOKEN), ("v", QA)]
    assert ts.new[1].prompt == "Q: who?\nA: " and ts.new[1].target == "mel"


def test_replay_mixes_older_important_episodes_at_the_ratio() -> None:
    entries = [_entry(f"v{i}", EntryStatus.VALIDATED, 100) for i in range(4)]
    older = [_episode(f"o{i}", 10, 0.9) for i in range(10)] + [_episode("dull", 10, 0.0)]
    ts = build(entries, older, since=50, min_importance=0.7, replay_ratio=0.5, rng=random.Random(1))
    assert len(ts.replay) == 2 and all(x.replay and x.source.startswith("o") for x in ts.replay)
    none = build(entries, older, since=50, min_importance=0.7, replay_ratio=0.0, rng=random.Random(1))
    assert none.replay == ()


def test_training_lowers_the_loss_on_what_it_learnt_and_leaves_the_base_untouched(model: Any) -> None:
    before = nll(model, byte_tokenize, FACTS)
    base_state = {k: v.clone() for k, v in model.state_dict().items()}
    trainer = LoraTrainer(model, byte_tokenize, LoraSettings(rank=4, alpha=8, learning_rate=1e-2))
    result = trainer.train(FACTS, StepBudget(max_steps=30, wall_seconds=120))
    assert result.adapter is not None and result.steps == 30
    assert nll(trainer.model, byte_tokenize, FACTS) == pytest.approx(before)
    for k, v in trainer.model.state_dict().items():
        assert (v == base_state[k]).all(), k
    with applied(trainer.model, result.adapter) as tuned:
        after = nll(tuned, byte_tokenize, FACTS)
    assert after < before - 0.5


def test_an_empty_training_set_is_a_no_op_with_a_reason(model: Any) -> None:
    result = LoraTrainer(model, byte_tokenize).train([], StepBudget(5, 10))
    assert result.adapter is None and result.steps == 0 and "empty" in result.reason


def test_training_stops_between_steps_when_the_cycle_says_so_and_discards_the_run(model: Any) -> None:
    calls = {"n": 0}

    def stop() -> bool:
        calls["n"] += 1
        return calls["n"] > 3

    result = LoraTrainer(model, byte_tokenize).train(FACTS, StepBudget(100, 600), stop=stop)
    assert result.adapter is None and result.steps == 3 and "interrupted" in result.reason


def test_the_wall_budget_bounds_the_steps(model: Any) -> None:
    ticks = iter(range(1000))
    result = LoraTrainer(model, byte_tokenize).train(
        FACTS, StepBudget(100, 5.0), clock=lambda: float(next(ticks))
    )
    assert result.adapter is not None and result.steps < 5


def test_a_zero_budget_is_refused() -> None:
    with pytest.raises(BudgetError):
        StepBudget(0, 10)
