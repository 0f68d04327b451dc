from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from train_support import byte_tokenize, model  # noqa: F401

from oneiro.train import AdapterCorrupt, AdapterRefused, AdapterStore, StepBudget, consolidate, prune
from oneiro.train.adapters import WEIGHTS_FILE, nonzero
from oneiro.train.examples import NEXT_TOKEN, Example, TrainingSet
from oneiro.train.lora import LoraSettings, LoraTrainer
from oneiro.train.probes import PROBE_MARGIN
from oneiro.train.trainer import Adapter

NEW = (Example("", "Melanie painted a sunrise over the lake last week.", NEXT_TOKEN, "n1"),)
PROBES = [Example("", "The store opens at nine every morning.", NEXT_TOKEN, "p1")]
FAST = LoraSettings(rank=4, alpha=8, learning_rate=1e-2)


class Journal:
    """Records what the adapter store journals (a fake of the store's journal_append)."""

    def __init__(self) -> None:
        self.records: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, kind: str, payload: dict[str, Any]) -> None:
        self.records.append((kind, payload))

    def kinds(self) -> list[str]:
        return [k for k, _ in self.records]


def _adapter(passed: bool, seed: int = 0) -> tuple[Adapter, dict[str, Any]]:
    g = torch.Generator().manual_seed(seed)
    weights = {
        "a.lora_A.weight": torch.randn(4, 8, generator=g),
        "a.lora_B.weight": torch.randn(8, 4, generator=g),
    }
    return Adapter(weights, 3, 0.1, "tiny", {"rank": 4}), {"passed": passed, "forgetting": 0.0, "gain": 0.1}


def test_promote_and_rollback_swap_in_one_step_and_are_journaled_with_hashes(tmp_path: Path) -> None:
    journal = Journal()
    store = AdapterStore(tmp_path, journal)
    v1 = store.stage(*_adapter(True, 1))
    v2 = store.stage(*_adapter(True, 2))
    assert store.active() is None, "staging never makes a candidate active"
    store.promote(v1.name)
    store.promote()
    assert store.active() == v2.name
    assert store.rollback() == v1.name and store.active() == v1.name
    assert store.rollback() is None and store.active() is None
    staged = [p for k, p in journal.records if k == "adapter_staged"]
    assert [p["sha256"] for p in staged] == [v1.sha256, v2.sha256]
    assert journal.kinds()[-2:] == ["adapter_rolled_back", "adapter_rolled_back"]


def test_a_failed_candidate_is_never_promoted(tmp_path: Path) -> None:
    store = AdapterStore(tmp_path, Journal())
    good = store.stage(*_adapter(True))
    store.promote(good.name)
    bad = store.stage(*_adapter(False, 3))
    with pytest.raises(AdapterRefused, match="did not pass"):
        store.promote(bad.name)
    with pytest.raises(AdapterRefused, match="no candidate"):
        store.promote()
    assert store.active() == good.name


def test_a_corrupted_adapter_is_refused_by_hash(tmp_path: Path) -> None:
    store = AdapterStore(tmp_path, Journal())
    version = store.stage(*_adapter(True))
    path = tmp_path / "adapters" / version.name / WEIGHTS_FILE
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(AdapterCorrupt, match="sha256"):
        store.load(version.name)
    with pytest.raises(AdapterCorrupt):
        store.promote(version.name)
    assert store.active() is None


def test_an_adapter_round_trips_through_its_file(tmp_path: Path) -> None:
    store = AdapterStore(tmp_path, Journal())
    adapter, verdict = _adapter(True)
    loaded = store.load(store.stage(adapter, verdict).name)
    assert all(torch.equal(loaded.weights[k], v) for k, v in adapter.weights.items())


@settings(max_examples=30, deadline=None)
@given(st.floats(0.0, 0.99), st.integers(0, 5))
def test_pruning_zeroes_the_smallest_magnitudes_and_keeps_the_rest(fraction: float, seed: int) -> None:
    weights = _adapter(True, seed)[0].weights
    pruned = prune(weights, fraction)
    for name, tensor in weights.items():
        kept = pruned[name] != 0
        assert int((~kept).sum()) >= int(tensor.numel() * fraction)
        assert torch.equal(pruned[name][kept], tensor[kept])
        if kept.any() and (~kept).any():
            assert tensor[kept].abs().min() > tensor[~kept].abs().max()
    assert nonzero(pruned) <= nonzero(weights)


def test_consolidation_stages_a_probed_pruned_candidate_and_leaves_the_active_one(
    tmp_path: Path, model: Any
) -> None:
    journal = Journal()
    store = AdapterStore(tmp_path, journal)
    trainer = LoraTrainer(model, byte_tokenize, FAST)
    outcome = consolidate(store, trainer, TrainingSet(NEW, ()), PROBES, StepBudget(25, 300), margin=10.0)
    assert outcome.version is not None and outcome.verdict is not None
    assert outcome.verdict.gain > 0.1 and outcome.verdict.passed
    assert outcome.size_after < outcome.size_before
    assert store.active() is None and "weights_trained" in journal.kinds()


def test_a_candidate_that_forgets_what_the_active_one_knew_fails_and_replay_limits_forgetting(
    tmp_path: Path, model: Any
) -> None:
    store = AdapterStore(tmp_path, Journal())
    trainer = LoraTrainer(model, byte_tokenize, FAST)
    first = consolidate(
        store, trainer, TrainingSet(tuple(PROBES), ()), PROBES, StepBudget(25, 300), margin=10.0
    )
    assert first.version is not None
    store.promote(first.version.name)
    forgetful = consolidate(store, trainer, TrainingSet(NEW, ()), PROBES, StepBudget(25, 300))
    assert forgetful.verdict is not None and forgetful.verdict.forgetting > PROBE_MARGIN
    assert not forgetful.verdict.passed
    replayed = TrainingSet(NEW, tuple(replace(p, replay=True) for p in PROBES))
    mixed = consolidate(store, trainer, replayed, PROBES, StepBudget(25, 300))
    assert mixed.verdict is not None and mixed.verdict.forgetting < forgetful.verdict.forgetting
    assert store.active() == first.version.name, "probing never changes the active adapter"
    with pytest.raises(AdapterRefused):
        store.promote(forgetful.version.name if forgetful.version else "")


def test_an_empty_training_set_is_a_journaled_no_op(tmp_path: Path, model: Any) -> None:
    journal = Journal()
    store = AdapterStore(tmp_path, journal)
    outcome = consolidate(
        store, LoraTrainer(model, byte_tokenize), TrainingSet((), ()), PROBES, StepBudget(5, 10)
    )
    assert outcome.version is None and store.versions() == []
    assert journal.records[0][0] == "weights_noop" and "empty" in journal.records[0][1]["reason"]


def test_an_interrupted_run_is_discarded_and_journaled(tmp_path: Path, model: Any) -> None:
    journal = Journal()
    store = AdapterStore(tmp_path, journal)
    trainer = LoraTrainer(model, byte_tokenize)
    outcome = consolidate(
        store, trainer, TrainingSet(NEW, ()), PROBES, StepBudget(50, 300), stop=lambda: True
    )
    assert outcome.version is None and store.versions() == []
    assert journal.kinds() == ["weights_discarded"]
