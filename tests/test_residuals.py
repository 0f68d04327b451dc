"""Residual pattern detection and perturbed replay, on a real in-memory store."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from fakes import FakeBudget, FakeSnapshot, fake_context
from oneiro.config import Config
from oneiro.dream.ops.replay import decision_key
from oneiro.dream.ops.residuals import (
    MIN_ABS_FRACTION,
    MIN_GROUP,
    ROBUST_MIN,
    Bias,
    ResidualPatterns,
    critical_t,
    robustness,
    t_statistic,
)
from oneiro.dream.phase import Carry
from oneiro.memory import Memory
from oneiro.model import EntryStatus, Episode, Provenance, Tier
from oneiro.validation import ResidualBias, Verdict

CYCLE = "c-res"


def decisions(
    memory: Memory, key: str, residuals: list[float], *, start: float = 0.0, session: str = "s"
) -> list[Episode]:
    base = memory.clock() - 86_400 + start
    records: list[dict[str, Any]] = [
        {
            "ts": base + 60 * i,
            "session": f"{session}-{key}",
            "kind": "decision",
            "text": f"decided in {key} #{i}",
            "prediction": 0.5,
            "outcome": 0.5 + r,
            "context": {"key": key},
        }
        for i, r in enumerate(residuals)
    ]
    return memory.record_many(records)


def run(memory: Memory, new: list[Episode], *, seed: int = 0, config: Config | None = None) -> Any:
    ctx = fake_context(CYCLE, memory.clock(), embedder=memory.embedder, seed=seed, config=config)
    snap = FakeSnapshot(memory.store, CYCLE, memory.embedder.name, new)  # type: ignore[arg-type]
    return ResidualPatterns().run(snap, ctx, Carry())


def noise(seed: int, n: int, sd: float = 0.1) -> list[float]:
    return [float(x) for x in np.random.default_rng(seed).normal(0.0, sd, n)]


def test_planted_bias_found_with_its_sign_and_clean_context_yields_nothing(memory: Memory) -> None:
    biased = decisions(memory, "friday-release", [0.4 + x for x in noise(1, 12)])
    clean = decisions(memory, "tuesday-release", noise(2, 12), start=1)
    out = run(memory, [*biased, *clean])
    (entry,) = out.writes.entries
    test = entry.data["test"]
    assert entry.kind == "correction"
    assert test["type"] == "residual_bias" and test["context"] == "friday-release"
    assert 0.3 < test["bias"] < 0.5
    assert test["min_abs"] == MIN_ABS_FRACTION * abs(test["bias"])
    assert entry.status == EntryStatus.STAGED and entry.confidence == Config().lifecycle.hypothesis_confidence
    assert entry.provenance == Provenance.DREAM and entry.tier == Tier.T0 and entry.cycle_id == CYCLE
    assert set(entry.sources) == {e.id for e in biased}
    assert entry.data["n"] == 12 and entry.data["t"] > 5 and entry.data["robustness"] >= ROBUST_MIN


def test_negative_bias_has_negative_sign(memory: Memory) -> None:
    eps = decisions(memory, "evening", [-0.3 + x for x in noise(3, 10, 0.05)])
    (entry,) = run(memory, eps).writes.entries
    assert entry.data["test"]["bias"] < 0


def test_correction_is_what_awake_validation_can_test(memory: Memory) -> None:
    eps = decisions(memory, "ctx", [0.4 + x for x in noise(4, 8, 0.05)])
    (entry,) = run(memory, eps).writes.entries
    later_same, later_opposite, elsewhere = decisions(memory, "ctx", [0.35, -0.4], start=7200) + decisions(
        memory, "other", [0.5], start=9000
    )
    judge = ResidualBias()
    spec = entry.data["test"]
    assert judge.judge(spec, entry.text, later_same, 0.0) == Verdict.SUPPORTS
    assert judge.judge(spec, entry.text, later_opposite, 0.0) == Verdict.REFUTES
    assert judge.judge(spec, entry.text, elsewhere, 0.0) == Verdict.SILENT


def test_small_groups_and_decisions_without_outcomes_are_skipped_with_a_note(memory: Memory) -> None:
    few = decisions(memory, "rare", [0.5] * (MIN_GROUP - 1))
    pending = memory.record_many(
        [
            {"ts": memory.clock() - 10, "kind": "decision", "text": "no outcome yet", "prediction": 0.4},
            {"ts": memory.clock() - 5, "text": "just chat"},
        ]
    )
    out = run(memory, [*few, *pending])
    assert out.writes.entries == []
    (note,) = [n for n in out.writes.notes if n.kind == "residual_patterns"]
    assert note.payload["groups_too_small"] == ["rare"]
    assert note.payload["decisions_without_residual"] == 1


def test_empty_and_single_turn_stores_do_not_crash(memory: Memory) -> None:
    assert run(memory, []).writes.entries == []
    one = memory.record({"ts": memory.clock() - 1, "text": "hello"})
    assert run(memory, [one]).writes.entries == []


def test_a_single_outlier_is_never_a_bias(memory: Memory) -> None:
    """One large residual among zero-mean noise inflates the spread as much as the mean, so t
    stays near 1: it is tested and not proposed."""
    eps = decisions(memory, "spiky", [*noise(5, 11, 0.05), 3.0])
    out = run(memory, eps)
    assert out.writes.entries == []
    (tested,) = next(n for n in out.writes.notes if n.kind == "residual_patterns").payload["tested"]
    assert abs(tested["t"]) < tested["critical"]


def test_perturbed_replay_drops_a_bias_resting_on_half_its_episodes(memory: Memory) -> None:
    """Significant as recorded, but half the group sits at zero: resampled replays lose it in
    about a third of the trials, so it is dropped as fragile (with a note); a group biased
    throughout survives the same replays. Enough trials that the estimate's noise (binomial,
    sd 0.03 at 200) cannot carry either across ROBUST_MIN."""
    config = _with_trials(200)
    shaky = [0.9, 0.85, 0.95, 0.9, 0.02, -0.03, 0.01, 0.0]
    steady = [0.9, 0.85, 0.95, 0.9, 0.88, 0.8, 0.7, 0.02]
    assert abs(t_statistic(np.array(shaky))) >= critical_t(len(shaky), 1)  # significant as recorded
    shaky_eps = decisions(memory, "shaky", shaky)
    steady_eps = decisions(memory, "steady", steady, start=1000)
    for seed in range(3):
        dropped = run(memory, shaky_eps, seed=seed, config=config)
        assert dropped.writes.entries == []
        (fragile,) = [n for n in dropped.writes.notes if n.kind == "residual_bias_fragile"]
        assert fragile.payload["context"] == "shaky" and fragile.payload["robustness"] < ROBUST_MIN
        (kept,) = run(memory, steady_eps, seed=seed, config=config).writes.entries
        assert kept.data["robustness"] >= ROBUST_MIN


def _with_trials(trials: int) -> Config:
    from dataclasses import replace

    base = Config()
    return replace(base, nrem=replace(base.nrem, perturbation_trials=trials))


def test_bonferroni_keeps_many_clean_contexts_clean(memory: Memory) -> None:
    eps: list[Episode] = []
    for k in range(30):
        eps += decisions(memory, f"clean-{k}", noise(100 + k, 8), start=k * 1000)
    out = run(memory, eps)
    assert out.writes.entries == []


def test_an_open_correction_is_not_proposed_twice(memory: Memory) -> None:
    from fakes import apply_writes, begin_cycle

    eps = decisions(memory, "ctx", [0.4 + x for x in noise(6, 8, 0.05)])
    begin_cycle(memory.store, CYCLE, memory.clock())  # type: ignore[arg-type]
    first = run(memory, eps)
    ctx = fake_context(CYCLE, memory.clock(), embedder=memory.embedder)
    apply_writes(memory.store, first.writes, ctx)  # type: ignore[arg-type]
    more = decisions(memory, "ctx", [0.4 + x for x in noise(7, 8, 0.05)], start=5000, session="t")
    again = run(memory, more)
    assert again.writes.entries == [] and again.did["corrections"] == 0


def test_budget_exhaustion_reports_what_was_left(memory: Memory) -> None:
    eps = decisions(memory, "a", [0.4] * 6) + decisions(memory, "b", [0.4] * 6, start=1000)
    ctx = fake_context(CYCLE, memory.clock(), embedder=memory.embedder, budget=FakeBudget(units=0))
    snap = FakeSnapshot(memory.store, CYCLE, memory.embedder.name, eps)  # type: ignore[arg-type]
    out = ResidualPatterns().run(snap, ctx, Carry())
    assert out.writes.entries == [] and out.left == {"groups": 2}


def test_context_key_falls_back_to_the_action(memory: Memory) -> None:
    (ep,) = memory.record_many(
        [
            {
                "ts": 1.0,
                "kind": "decision",
                "text": "x",
                "prediction": 0,
                "outcome": 1,
                "data": {"action": "ship"},
            }
        ]
    )
    assert decision_key(ep) == "ship"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-5, 5, allow_nan=False), min_size=MIN_GROUP, max_size=20), st.integers(0, 99))
def test_robustness_is_a_fraction_and_zero_mean_is_never_robust(values: list[float], seed: int) -> None:
    arr = np.array(values)
    bias = Bias("k", (), tuple(values), float(arr.mean()), float(arr.std(ddof=1)), t_statistic(arr), 2.0)
    r = robustness(bias, 0.1, 16, np.random.default_rng(seed))
    assert 0.0 <= r <= 1.0
    centred = tuple(float(v) for v in arr - arr.mean())
    if any(abs(v) > 1e-9 for v in centred):
        flat = Bias("k", (), centred, 0.0, float(np.std(centred, ddof=1)), 0.0, 2.0)
        assert robustness(flat, 0.1, 16, np.random.default_rng(seed)) <= 0.5
