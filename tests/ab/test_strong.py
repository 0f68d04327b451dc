"""The strong awake agent, the contextual task, the statistics, tuning, and ablation by name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import oneiro
from oneiro.ab.ablation import ablation_conditions, check_units, default_units, run_ablation
from oneiro.ab.agent import MIX_FLOOR, MemoryAgent, SimClock, mix_of
from oneiro.ab.environment import (
    RegimeSwitching,
    check_environment,
    contextual_environment,
)
from oneiro.ab.harness import (
    AWAKE,
    DREAM_AWAKE,
    ABConfig,
    adaptation_times,
    compare,
    run_ab,
    sharpe,
)
from oneiro.ab.stats import holm, paired_p
from oneiro.ab.tuning import TUNING_FIRST_SEED, tune
from oneiro.config import load_config
from oneiro.dream.phase import Carry, Context, Outcome, PhaseName, Snapshot
from oneiro.errors import ConfigError, InvalidInput
from oneiro.model import Entry, Provenance, Tier, entry_id
from oneiro.plugins import Registry, hookimpl

TWO = ("a", "b")


# -- removing operations through the configuration ------------------------------------------
def test_a_disabled_phase_or_operation_is_not_run_by_the_cycle() -> None:
    with oneiro.open(":memory:", embedder="hashing", overrides={"disabled_operations": ["rem"]}) as m:
        assert m.engine.phases[PhaseName.REM] == ()
        assert m.engine.phases[PhaseName.NREM]
    with oneiro.open(":memory:", embedder="hashing", overrides={"disabled_operations": ["topics"]}) as m:
        names = [op.name for op in m.engine.phases[PhaseName.NREM]]
    with oneiro.open(":memory:", embedder="hashing") as m:
        full = [op.name for op in m.engine.phases[PhaseName.NREM]]
    assert names == [n for n in full if n != "topics"] and "topics" in full


def test_an_unknown_operation_to_disable_is_refused_by_name() -> None:
    with pytest.raises(ConfigError, match="remm"):
        oneiro.open(":memory:", embedder="hashing", overrides={"disabled_operations": ["remm"]})


def test_disabled_operations_read_from_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "oneiro.toml").write_text('disabled_operations = ["evolution"]\n', encoding="utf-8")
    assert load_config(tmp_path).disabled_operations == ("evolution",)
    (tmp_path / "oneiro.toml").write_text("disabled_operations = 3\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="disabled_operations"):
        load_config(tmp_path)


class Extra:
    name = "extra-op"
    tier = Tier.T0

    def run(self, snap: Snapshot, ctx: Context, carry: Carry) -> Outcome:
        return Outcome()


class ExtraPlugin:
    @hookimpl
    def register_operations(self, register: Any) -> None:
        register("evolution", Extra(), order=99)


def test_ablation_units_come_from_the_registration_door() -> None:
    assert default_units(Registry(entry_points=False)) == ["nrem", "rem", "evolution", "integration"]
    registry = Registry([ExtraPlugin()], entry_points=False)
    assert check_units(["extra-op", "rem"], registry) == ["extra-op", "rem"]
    with oneiro.open(
        ":memory:",
        embedder="hashing",
        plugins=[ExtraPlugin()],
        overrides={"disabled_operations": ["extra-op"]},
    ) as m:
        assert "extra-op" not in [op.name for op in m.engine.phases[PhaseName.EVOLUTION]]


@pytest.mark.parametrize("units", [["dreaming"], [], ["rem", "rem"], ["return"]])
def test_an_ablation_naming_an_unknown_or_no_unit_is_refused(units: list[str]) -> None:
    with pytest.raises(InvalidInput):
        check_units(units, Registry(entry_points=False))


def test_leave_one_out_and_add_one_in_disable_the_right_units() -> None:
    conds = ablation_conditions(["nrem", "rem", "evolution"])
    assert conds["leave-one-out:rem"] == (DREAM_AWAKE, ("rem",))
    assert conds["add-one-in:rem"] == (DREAM_AWAKE, ("nrem", "evolution"))
    assert conds["awake"] == (AWAKE, ()) and conds["full"] == (DREAM_AWAKE, ())


def test_an_ablation_reports_paired_effects_and_rem_alone_changes_nothing() -> None:
    env = RegimeSwitching(TWO, ((0.8, 0.2), (0.2, 0.8)), (48,), 0.1)
    result = run_ablation(ABConfig(seeds=2, steps=96, dream_every=24), ["nrem", "rem"], env=env)
    effects = {(e["unit"], e["ablation"]) for e in result["effects"]}
    assert effects == {(u, a) for u in ("nrem", "rem") for a in ("leave-one-out", "add-one-in")}
    assert all(0.0 <= e["p"] <= e["holm_p"] <= 1.0 for e in result["effects"])
    assert result["seeds_run"] == [0, 1]
    # REM alone writes no entry (its findings are carried and journaled), so the twin plays
    # exactly as the awake agent does.
    assert result["conditions"]["add-one-in:rem"]["per_seed"]["regret"] == pytest.approx(
        result["conditions"]["awake"]["per_seed"]["regret"]
    )


# -- the strong awake agent ------------------------------------------------------------------
def _agent(**kw: Any) -> MemoryAgent:
    clock = SimClock()
    memory = oneiro.open(":memory:", embedder="hashing", clock=clock)
    return MemoryAgent(memory, TWO, clock, dreaming=False, dream_every=10_000, **kw)


def test_the_discounted_estimator_weights_recent_outcomes_more() -> None:
    agent = _agent(discount=0.5)
    rng = np.random.default_rng(0)
    for t, payoff in enumerate([0.0, 0.0, 0.0, 1.0]):
        agent.choose(t, rng)
        agent.update(t, 0, payoff)
    agent.choose(4, rng)
    assert agent.beliefs.estimate(0) == pytest.approx(1 / 1.875)
    naive = _agent()
    for t, payoff in enumerate([0.0, 0.0, 0.0, 1.0]):
        naive.choose(t, rng)
        naive.update(t, 0, payoff)
    naive.choose(4, rng)
    assert naive.beliefs.estimate(0) == pytest.approx(0.25)


def test_context_bins_keep_separate_estimates() -> None:
    xs = [0.1, 0.9, 0.1, 0.9]
    agent = _agent(bins=2, context=lambda t: xs[t % 4])
    rng = np.random.default_rng(0)
    for t, payoff in enumerate([1.0, -1.0, 1.0, -1.0]):
        agent.choose(t, rng)
        agent.update(t, 0, payoff)
    agent.choose(4, rng)
    assert agent.beliefs.estimate(0, 0) == pytest.approx(1.0)
    assert agent.beliefs.estimate(0, 1) == pytest.approx(-1.0)


def _mix(concentrations: dict[str, float]) -> Entry:
    data = {"concentrations": concentrations}
    return Entry(
        id=entry_id("strategy_mix", "m", ("s",), data),
        kind="strategy_mix",
        text="m",
        sources=("s",),
        provenance=Provenance.DREAM,
        confidence=0.2,
        data=data,
        created_at=1.0,
    )


def test_a_strategy_mix_becomes_an_exploration_distribution_with_a_floor() -> None:
    index = {"a": 0, "b": 1, "c": 2}
    p = mix_of([_mix({"a": 0.9, "b": 0.0})], index)
    assert p is not None and p.sum() == pytest.approx(1.0)
    assert p[2] == pytest.approx(MIX_FLOOR / (0.9 + 2 * MIX_FLOOR)) and p[0] > 0.9
    assert mix_of([], index) is None
    assert mix_of([_mix({"zzz": 1.0})], index) == pytest.approx(np.full(3, 1 / 3))


# -- the contextual task and the metrics -----------------------------------------------------
def test_on_the_contextual_task_the_best_strategy_moves_with_the_context() -> None:
    env = contextual_environment(600)
    check_environment(env, 600)
    best = {int(np.argmax([env.mean(t, a) for a in range(len(env.arms))])) for t in range(0, 48)}
    assert len(best) >= 2
    assert env.context(5) == contextual_environment(600).context(5)
    assert len(env.arms) == 8 and list(env.switches) == [200, 400]


def test_adaptation_follows_the_per_step_best_arm() -> None:
    env = contextual_environment(600)
    best = np.array([int(np.argmax([env.mean(t, a) for a in range(8)])) for t in range(600)])
    assert adaptation_times(env, best) == [11, 11]  # 11 of the last 20 is the first share above half
    assert adaptation_times(env, np.full(600, 7)) == [200, 200]


def test_sharpe_is_mean_over_spread() -> None:
    assert sharpe(np.array([1.0, 3.0])) == pytest.approx(2.0)
    assert sharpe(np.zeros(5)) == 0.0


def test_holm_adjusts_step_down_and_stays_monotone() -> None:
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5]) == [0.5]
    assert paired_p([1.0, 2.0], [1.0, 2.0]) == 1.0


def test_the_strong_goal_needs_the_ci_below_one() -> None:
    awake = {"regret": [10.0, 12.0, 11.0, 9.0, 10.0, 11.0]}
    close = {"regret": [7.0, 13.0, 6.0, 11.0, 6.0, 10.0]}
    out = compare({DREAM_AWAKE: close, AWAKE: awake})
    ratio = out["pairs"]["dream-awake vs awake"]["regret_ratio"]
    assert ratio["mean"] <= 0.9 and ratio["high"] >= 1.0
    assert out["strong_goal"]["met"] is False


# -- tuning and bad input --------------------------------------------------------------------
def test_tuning_never_uses_reported_seeds_and_prefers_forgetting_on_a_switching_task() -> None:
    env = RegimeSwitching(TWO, ((0.8, 0.2), (0.2, 0.8)), (40,), 0.1)
    with pytest.raises(InvalidInput, match="overlap"):
        tune(ABConfig(seeds=3, first_seed=TUNING_FIRST_SEED - 1, steps=160), env)
    record = tune(ABConfig(seeds=2, steps=160), env, seeds=2)
    assert record["seeds"] == [TUNING_FIRST_SEED, TUNING_FIRST_SEED + 1]
    assert len(record["grid"]) == 7 and record["chosen"]["discount"] < 1.0


def test_a_single_strategy_is_refused_and_a_stationary_task_is_labelled_degenerate() -> None:
    with pytest.raises(InvalidInput, match="single strategy"):
        check_environment(RegimeSwitching(("only",), ((0.5,),), (), 0.1), 10)
    stationary = RegimeSwitching(TWO, ((0.8, 0.2),), (), 0.1)
    result = run_ab(ABConfig(seeds=1, steps=30, conditions=("sw-ucb", "d-ts")), env=stationary)
    assert "no regime switch" in result["degenerate"]


def test_an_unknown_task_is_refused() -> None:
    with pytest.raises(InvalidInput, match="task"):
        ABConfig(task="lottery")


@pytest.mark.parametrize(
    "task,discount,bins", [("regime", 0.9, 1), ("contextual", 0.95, 2), ("regime", 1.0, 1)]
)
def test_the_tuning_replica_makes_exactly_the_awake_agents_choices(
    task: str, discount: float, bins: int
) -> None:
    from oneiro.ab.harness import play, run_condition, task_environment
    from oneiro.ab.tuning import replica

    config = ABConfig(seeds=1, steps=150, task=task, discount=discount, bins=bins)
    env = task_environment(config)
    real = run_condition(env, AWAKE, 3, config)
    fast = play(env, replica(env, config, discount, bins), 3, config.steps)
    assert list(fast.actions) == list(real.actions)


def test_the_cli_refuses_an_ablation_of_an_unknown_operation(capsys: pytest.CaptureFixture[str]) -> None:
    from oneiro.cli import main

    argv = ["oneiro", "ab", "--seeds", "1", "--steps", "48", "--no-tune", "--ablate", "rem,dreamwork"]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("sys.argv", argv)
        with pytest.raises(SystemExit) as exit_info:
            main()
    assert exit_info.value.code == 2
    assert "dreamwork" in capsys.readouterr().err
