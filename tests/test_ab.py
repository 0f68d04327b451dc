"""The falsifiability harness: the task, the anchors, the bootstrap, the twins, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import oneiro
from oneiro.ab.agent import MemoryAgent, SimClock
from oneiro.ab.anchors import DiscountedThompson, SlidingWindowUCB, sw_ucb_window
from oneiro.ab.environment import RegimeSwitching, check_environment, default_environment
from oneiro.ab.harness import (
    DREAM,
    NO_DREAM,
    ABConfig,
    adaptation_times,
    bootstrap_mean,
    bootstrap_ratio,
    play,
    regret,
    run_ab,
    run_condition,
    worst_drawdown,
)
from oneiro.cli import app
from oneiro.errors import InvalidInput
from oneiro.model import Entry, EntryStatus, Provenance, entry_id

TWO_ARMS = ("a", "b")


def stationary(noise: float = 0.1) -> RegimeSwitching:
    return RegimeSwitching(TWO_ARMS, ((0.8, 0.2),), (), noise)


def one_switch(at: int) -> RegimeSwitching:
    return RegimeSwitching(TWO_ARMS, ((0.8, 0.2), (0.2, 0.8)), (at,), 0.1)


# -- the environment -----------------------------------------------------------------------
def test_the_environment_switches_regime_exactly_at_the_configured_times() -> None:
    env = RegimeSwitching(TWO_ARMS, ((1.0, 0.0), (0.0, 1.0), (0.5, 0.7)), (10, 25), 0.0)
    assert [env.mean(t, 0) for t in (0, 9, 10, 24, 25, 99)] == [1.0, 1.0, 0.0, 0.0, 0.5, 0.5]
    assert env.step(24, 1, np.random.default_rng(0)) == 1.0


def test_payoffs_are_noisy_around_the_mean() -> None:
    env = stationary(noise=0.3)
    draws = [env.step(0, 0, np.random.default_rng(s)) for s in range(2000)]
    assert abs(np.mean(draws) - 0.8) < 0.03
    assert 0.25 < np.std(draws) < 0.35


def test_the_built_in_task_switches_inside_the_horizon() -> None:
    env = default_environment(800)
    assert list(env.switches) == [200, 400, 600]
    check_environment(env, 800)


# -- the anchors ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "make",
    [
        lambda env, steps: SlidingWindowUCB(2, sw_ucb_window(steps, 0), env.payoff_range),
        lambda env, steps: DiscountedThompson(2, env.payoff_range),
    ],
)
def test_anchors_reach_low_regret_on_a_stationary_task(make: object) -> None:
    env, steps = stationary(), 500
    run = play(env, make(env, steps), seed=3, steps=steps)  # type: ignore[operator]
    per_step = regret(env, run.actions) / steps
    assert per_step < 0.1, per_step  # uniform choice would lose 0.3 a step


@pytest.mark.parametrize(
    "make",
    [
        lambda env, steps: SlidingWindowUCB(2, sw_ucb_window(steps, 1), env.payoff_range),
        lambda env, steps: DiscountedThompson(2, env.payoff_range),
    ],
)
def test_anchors_adapt_after_a_switch(make: object) -> None:
    env, steps = one_switch(250), 500
    run = play(env, make(env, steps), seed=5, steps=steps)  # type: ignore[operator]
    (adapt,) = adaptation_times(env, run.actions)
    assert adapt < 100, adapt
    assert np.mean(run.actions[400:] == 1) > 0.7


# -- metrics and the bootstrap -------------------------------------------------------------
def test_adaptation_is_censored_at_the_regime_length_when_never_reached() -> None:
    env = one_switch(10)
    assert adaptation_times(env, np.zeros(30, dtype=np.int64)) == [20]
    assert adaptation_times(env, np.array([0] * 10 + [1] * 20)) == [11]


def test_worst_drawdown_is_the_largest_fall_from_a_peak() -> None:
    assert worst_drawdown(np.array([1.0, -2.0, 0.5, -1.0, 3.0])) == pytest.approx(2.5)
    assert worst_drawdown(np.array([1.0, 1.0])) == 0.0


def test_the_bootstrap_ci_covers_a_known_mean() -> None:
    values = np.random.default_rng(11).normal(3.0, 1.0, size=40)
    ci = bootstrap_mean(values.tolist())
    assert ci["low"] < 3.0 < ci["high"]
    assert ci["high"] - ci["low"] < 1.0


def test_the_bootstrap_ci_covers_the_known_mean_in_most_samples() -> None:
    rng = np.random.default_rng(7)
    covered = sum(
        (ci := bootstrap_mean(rng.normal(0.0, 1.0, size=25).tolist(), resamples=2000))["low"]
        < 0.0
        < ci["high"]
        for _ in range(60)
    )
    assert covered >= 51  # nominal 95%; binomial(60, 0.95) falls below 52 less than 3% of the time


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=30))
def test_a_bootstrap_interval_is_ordered_and_holds_the_sample_mean(values: list[float]) -> None:
    ci = bootstrap_mean(values, resamples=500)
    assert ci["low"] - 1e-9 <= ci["mean"] <= ci["high"] + 1e-9


def test_the_ratio_of_identical_twins_is_one() -> None:
    assert bootstrap_ratio([2.0, 4.0, 6.0], [2.0, 4.0, 6.0]) == {"mean": 1.0, "low": 1.0, "high": 1.0}


# -- the twins -----------------------------------------------------------------------------
def test_twins_share_a_seed_and_differ_only_in_dreaming() -> None:
    env, config = one_switch(40), ABConfig(seeds=1, steps=80, dream_every=20)
    base = run_condition(env, NO_DREAM, 4, config)
    dream = run_condition(env, DREAM, 4, config)
    assert base.extra["entries"] == 0 and base.extra["dreams"] == 0
    assert dream.extra["dreams"] == 4 and dream.extra["entries"] > 0
    # Before the first dream nothing can differ: same seed, same code, same payoffs.
    assert list(base.actions[:20]) == list(dream.actions[:20])
    assert list(base.payoffs[:20]) == list(dream.payoffs[:20])
    again = run_condition(env, NO_DREAM, 4, config)
    assert list(again.actions) == list(base.actions)


def _agent_with_history(
    outcome: float, n: int = 6, reads: tuple[str, ...] = ("correction", "summary")
) -> tuple[MemoryAgent, list[str]]:
    clock = SimClock()
    memory = oneiro.open(":memory:", embedder="hashing", clock=clock)
    agent = MemoryAgent(memory, TWO_ARMS, clock, dreaming=True, dream_every=10_000, reads=reads)
    rng = np.random.default_rng(0)
    for t in range(n):
        agent.choose(t, rng)
        agent.update(t, 0, outcome)
    agent.choose(n, rng)
    ids = [e.id for _, e in memory.store.episodes_since(0)]
    return agent, ids


def _put(
    agent: MemoryAgent, kind: str, data: dict[str, object], sources: list[str], confidence: float
) -> str:
    entry = Entry(
        id=entry_id(kind, kind, tuple(sources), data),
        kind=kind,
        text=kind,
        sources=tuple(sources),
        provenance=Provenance.DREAM,
        confidence=confidence,
        data=data,
        created_at=agent.clock.now,
    )
    agent.memory.store.add_entries([entry], None, agent.memory.embedder.name)
    return entry.id


def test_the_dream_twin_folds_a_visible_correction_into_its_estimate_once() -> None:
    agent, ids = _agent_with_history(0.5)
    test = {"type": "residual_bias", "context": "a", "bias": -0.3, "min_abs": 0.15}
    hidden = _put(agent, "correction", {"test": test}, ids[:3], confidence=0.2)
    agent._read_entries()
    assert agent.beliefs.estimate(0) == pytest.approx(0.5)  # below the floor: not shown
    agent.memory.store.update_entry(hidden, {"confidence": 0.3})
    agent._read_entries()
    agent._read_entries()
    assert agent.beliefs.estimate(0) == pytest.approx(0.2)
    agent.memory.store.update_entry(hidden, {"status": EntryStatus.REFUTED, "confidence": 0.1})
    agent._read_entries()
    assert agent.beliefs.estimate(0) == pytest.approx(0.5)


def test_the_dream_twin_rebases_an_arm_on_a_summary() -> None:
    agent, ids = _agent_with_history(0.5)
    _put(agent, "summary", {"context": "a", "action": "a", "n": 3, "mean_outcome": -0.1}, ids[3:], 0.6)
    agent._read_entries()
    assert agent.beliefs.estimate(0) == pytest.approx(-0.1)


def test_an_ablated_twin_ignores_the_kinds_it_does_not_read() -> None:
    agent, ids = _agent_with_history(0.5, reads=("summary",))
    test = {"type": "residual_bias", "context": "a", "bias": -0.3, "min_abs": 0.15}
    _put(agent, "correction", {"test": test}, ids[:3], confidence=0.5)
    agent._read_entries()
    assert agent.beliefs.estimate(0) == pytest.approx(0.5)


# -- bad input -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "field,value",
    [("seeds", 0), ("steps", -5), ("dream_every", 0), ("seeds", True), ("reads", ("dreams",))],
)
def test_bad_run_settings_are_refused(field: str, value: object) -> None:
    with pytest.raises(InvalidInput, match=field):
        ABConfig(**{field: value})  # type: ignore[arg-type]


def test_an_environment_with_no_arms_is_refused() -> None:
    with pytest.raises(InvalidInput, match="at least one arm"):
        RegimeSwitching((), ((),), (), 0.1)


@pytest.mark.parametrize("regimes,switches", [(((1.0, 0.0),), (5,)), (((1.0,), (0.0,), (1.0,)), (9, 4))])
def test_malformed_regimes_are_refused(
    regimes: tuple[tuple[float, ...], ...], switches: tuple[int, ...]
) -> None:
    with pytest.raises(InvalidInput):
        RegimeSwitching(TWO_ARMS[: len(regimes[0])], regimes, switches, 0.1)


def test_a_switch_beyond_the_horizon_is_refused_before_anything_runs() -> None:
    with pytest.raises(InvalidInput, match="outside the horizon"):
        run_ab(ABConfig(seeds=1, steps=100), env=one_switch(100))


def test_the_cli_refuses_zero_seeds_with_a_clear_message(capsys: pytest.CaptureFixture[str]) -> None:
    from oneiro.cli import main

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("sys.argv", ["oneiro", "ab", "--seeds", "0"])
        with pytest.raises(SystemExit) as exit_info:
            main()
    assert exit_info.value.code == 2
    assert "seeds" in capsys.readouterr().err


def test_the_cli_runs_every_condition_and_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "ab.json"
    args = ["ab", "--seeds", "2", "--steps", "48", "--dream-every", "24", "--no-tune", "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "dream vs no-dream: regret ratio" in result.output
    data = json.loads(out.read_text())
    assert set(data["conditions"]) == {"no-dream", "dream", "awake", "dream-awake", "sw-ucb", "d-ts"}
    assert len(data["conditions"]["dream"]["per_seed"]["regret"]) == 2
    assert data["config"]["seeds"] == 2 and "git_commit" in data
    assert {"regret_difference", "regret_ratio", "goal", "strong_goal"} <= set(data["comparison"])
