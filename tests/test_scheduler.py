"""The scheduler: a pure decision over measured signals, with its limits and presets; dream output
(entries, shadow episodes) never counts toward the trigger; the runner polls it."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from oneiro.config import SchedulerConfig, load_config
from oneiro.memory import Memory
from oneiro.scheduler import DAY_SECONDS, HOUR, Decision, Runner, SchedulerState, should_dream
from test_cycle import day, writers

NOW = 1_772_000_000.0
CFG = SchedulerConfig()
WALL = 600.0


def state(**kw: object) -> SchedulerState:
    base = SchedulerState(
        backlog=10,
        importance_sum=1.0,
        residual_mass=0.0,
        contradictions=0,
        last_dream_at=NOW - 3 * HOUR,
        last_awake_at=NOW,
        dream_seconds_last_day=0.0,
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def test_no_backlog_no_dream() -> None:
    assert not should_dream(state(backlog=0, importance_sum=999.0), NOW, CFG, WALL).dream


def test_urgency_threshold_on_each_signal() -> None:
    assert not should_dream(state(), NOW, CFG, WALL).dream
    for signal in (
        {"backlog": CFG.backlog_threshold},
        {"importance_sum": CFG.importance_threshold},
        {"residual_mass": 10.0},
        {"contradictions": 5},
    ):
        d = should_dream(state(**signal), NOW, CFG, WALL)
        assert d.dream and "urgency" in d.reason and d.budget is not None, signal


def test_min_interval_blocks_even_an_urgent_store() -> None:
    d = should_dream(state(backlog=10_000, last_dream_at=NOW - 0.5 * HOUR), NOW, CFG, WALL)
    assert not d.dream and "minimum interval" in d.reason


def test_max_staleness_dreams_without_urgency_and_goes_deep() -> None:
    d = should_dream(state(last_dream_at=NOW - 25 * HOUR, last_awake_at=NOW), NOW, CFG, WALL)
    assert d.dream and d.reason.startswith("stale") and d.depth == "night"


def test_idle_lowers_the_bar() -> None:
    busy = state(backlog=60)
    idle = state(backlog=60, last_awake_at=NOW - 20 * 60)
    assert not should_dream(busy, NOW, CFG, WALL).dream
    assert should_dream(idle, NOW, CFG, WALL).dream


def test_budget_fraction_caps_the_day_and_sets_vitality() -> None:
    allowance = CFG.budget_fraction * DAY_SECONDS
    spent = should_dream(state(backlog=10_000, dream_seconds_last_day=allowance), NOW, CFG, WALL)
    assert not spent.dream and "budget" in spent.reason
    d = should_dream(state(backlog=10_000, dream_seconds_last_day=allowance - 100), NOW, CFG, WALL)
    assert d.dream and d.budget is not None and d.budget.wall_seconds == 100
    assert d.budget.state.value == "terminal"
    fresh = should_dream(state(backlog=10_000), NOW, CFG, WALL)
    assert fresh.budget is not None and fresh.budget.vitality == 1.0 and fresh.budget.wall_seconds == WALL


@given(
    st.integers(0, 5000),
    st.floats(0, 1000),
    st.floats(0, 100),
    st.integers(0, 50),
    st.one_of(st.none(), st.floats(0, 60 * HOUR)),
    st.floats(0, DAY_SECONDS),
)
def test_the_decision_respects_every_limit(
    backlog: int, importance: float, residual: float, contradictions: int, ago: float | None, spent: float
) -> None:
    s = state(
        backlog=backlog,
        importance_sum=importance,
        residual_mass=residual,
        contradictions=contradictions,
        last_dream_at=None if ago is None else NOW - ago,
        dream_seconds_last_day=spent,
    )
    d = should_dream(s, NOW, CFG, WALL)
    assert should_dream(s, NOW, CFG, WALL) == d  # pure
    if d.dream:
        assert backlog > 0 and d.budget is not None
        assert ago is None or ago >= CFG.min_interval_hours * HOUR
        assert d.budget.wall_seconds <= min(WALL, CFG.budget_fraction * DAY_SECONDS - spent) + 1e-9


def test_presets_nap_and_night() -> None:
    nap = load_config(preset="nap").scheduler
    night = load_config(preset="night").scheduler
    s = state(backlog=50, last_dream_at=NOW - 2 * HOUR)
    assert should_dream(s, NOW, nap, 60.0).dream
    assert not should_dream(s, NOW, CFG, WALL).dream
    assert not should_dream(state(backlog=10_000, last_dream_at=NOW - 6 * HOUR), NOW, night, 3600.0).dream
    assert load_config(preset="night").budget.wall_seconds > load_config(preset="nap").budget.wall_seconds


def test_dream_output_and_shadow_episodes_never_count_toward_the_trigger(memory: Memory) -> None:
    memory.record_many(day(6))
    memory.engine.phases = writers(predictions=True)
    report = memory.dream()
    assert report.entries_written() > 0
    row = memory.store.cycle(report.cycle_id)
    assert row is not None
    to_rowid = int(row.checkpoint["to_rowid"])
    assert memory.store.backlog(to_rowid)[0] == 0
    memory.record_many([{"text": f"replayed answer {i}", "provenance": "shadow"} for i in range(4)])
    assert memory.store.backlog(to_rowid)[0] == 0
    memory.record_many(day(2, start=500))
    assert memory.store.backlog(to_rowid)[0] == 2


def test_memory_should_dream_reads_the_signals(memory: Memory) -> None:
    assert memory.should_dream().reason == "nothing new since the last dream"
    memory.record_many(day(3))
    d = memory.should_dream()
    assert not d.dream and "urgency" in d.reason


def test_runner_polls_until_stopped() -> None:
    decisions = iter([Decision(False, "wait"), Decision(True, "go"), Decision(False, "wait")])
    ran: list[str] = []
    slept: list[float] = []
    runner = Runner(lambda: next(decisions), lambda d: ran.append(d.reason), 5.0, sleep=slept.append)
    assert runner.run(max_polls=3) == 1 and ran == ["go"] and slept == [5.0, 5.0]
    runner.stop()
    assert runner.run() == 0


def test_depth_sets_the_budget_a_nap_is_short_and_a_night_runs_the_full_budget() -> None:
    from oneiro.scheduler import NAP_SECONDS, NIGHT_URGENCY

    nap = should_dream(state(backlog=CFG.backlog_threshold), NOW, CFG, WALL)
    night = should_dream(state(backlog=int(NIGHT_URGENCY * CFG.backlog_threshold) + 1), NOW, CFG, WALL)
    stale = should_dream(state(last_dream_at=NOW - 25 * HOUR), NOW, CFG, WALL)
    assert nap.depth == "nap" and nap.budget is not None and nap.budget.wall_seconds == min(WALL, NAP_SECONDS)
    assert night.depth == "night" and night.budget is not None and night.budget.wall_seconds == WALL
    assert stale.depth == "night" and stale.budget is not None and stale.budget.wall_seconds == WALL
    assert nap.budget.wall_seconds < night.budget.wall_seconds
