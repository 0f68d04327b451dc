"""When to dream: a pure decision over measured signals, and a runner that polls it.

``should_dream(state, now, config)`` never reads a clock or a store; :func:`gather` measures the
signals and :class:`Runner` (``oneiro daemon``) loops over both. Dream output never counts toward
the backlog that triggers the next dream: only awake episodes recorded after the last completed
cycle's range do.

Urgency is the largest of the signals, each divided by its threshold (so 1.0 means "one signal is
at its threshold"): unconsolidated backlog, importance sum since the last dream (Generative Agents
reflect at 150, Park et al. 2023), prediction-residual mass and open contradictions; the weight of
topics whose dreams proved predictive scales it up. Limits: never within ``min_interval_hours`` of
the last dream; always once ``max_staleness_hours`` have passed with a backlog (a busy agent still
dreams: a cycle runs beside awake work); never beyond ``budget_fraction`` of a day.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from oneiro.config import PRESETS, SchedulerConfig
from oneiro.dream import backlog
from oneiro.dream.budget import CycleBudget
from oneiro.model import Tier
from oneiro.store.cycles import RETURNED_STATUSES
from oneiro.store.protocol import Store
from oneiro.store.query import EntryQuery

#: Contradictions waiting for awake evidence: each one raises the pressure to dream.
STAGED_CONTRADICTIONS = EntryQuery(kinds=("contradiction",), statuses=("staged",))
#: Dreams a later real decision matched (EVOLUTION's fingerprints, seed 004): each raises the
#: scheduling weight of dreaming.
PREDICTIVE_DREAMS = EntryQuery(
    kinds=("dream_fingerprints",), statuses=("staged", "active", "validated"), data_keys=("predictive",)
)

DAY_SECONDS = 86_400.0
HOUR = 3600.0
#: Residual mass (sum of |outcome - prediction|) that counts as urgent on its own.
RESIDUAL_MASS_THRESHOLD = 10.0
#: Open contradictions that count as urgent on their own.
CONTRADICTION_THRESHOLD = 5
#: Idle agents may dream on a smaller urgency (a quarter of the threshold).
IDLE_URGENCY_FACTOR = 0.25
#: Urgency at or above which a cycle is a full night rather than a nap.
NIGHT_URGENCY = 2.0
#: The longest a nap may run: the ``nap`` preset's budget. A night gets the configured budget in
#: full. What a nap's shorter budget does not reach stays in the backlog for the next cycle.
NAP_SECONDS = float(PRESETS["nap"]["budget"]["wall_seconds"])


@dataclass(frozen=True)
class SchedulerState:
    """The measured signals. Times are seconds since the epoch; None means never."""

    backlog: int
    importance_sum: float
    residual_mass: float
    contradictions: int
    last_dream_at: float | None
    last_awake_at: float | None
    dream_seconds_last_day: float
    predictive_weight: float = 0.0


@dataclass(frozen=True)
class Decision:
    """Whether to dream, why, how deep, and the budget that depth gives the cycle: a ``nap``
    (urgent enough, not stale) runs at most :data:`NAP_SECONDS`, a ``night`` (stale, or urgency
    at :data:`NIGHT_URGENCY`) runs the full configured budget. ``budget`` is what the runner
    passes to the cycle, so depth is how long the cycle may consolidate."""

    dream: bool
    reason: str
    depth: str = "nap"
    budget: CycleBudget | None = None
    urgency: float = 0.0


def urgency(state: SchedulerState, config: SchedulerConfig) -> float:
    signals = (
        state.backlog / max(1, config.backlog_threshold),
        state.importance_sum / max(1e-9, config.importance_threshold),
        state.residual_mass / RESIDUAL_MASS_THRESHOLD,
        state.contradictions / CONTRADICTION_THRESHOLD,
    )
    return max(signals) * (1.0 + max(0.0, state.predictive_weight))


def should_dream(state: SchedulerState, now: float, config: SchedulerConfig, wall_seconds: float) -> Decision:
    """Decide whether to dream now, how deep, and with what budget."""
    allowance = config.budget_fraction * DAY_SECONDS
    remaining = allowance - state.dream_seconds_last_day
    if state.backlog == 0:
        return Decision(False, "nothing new since the last dream")
    since_last = None if state.last_dream_at is None else now - state.last_dream_at
    if since_last is not None and since_last < config.min_interval_hours * HOUR:
        return Decision(
            False, f"last dream {since_last / HOUR:.2f} h ago, minimum interval {config.min_interval_hours} h"
        )
    if remaining <= 0:
        return Decision(False, f"today's dream budget ({config.budget_fraction:.0%} of a day) is spent")
    u = urgency(state, config)
    vitality = max(0.0, min(1.0, remaining / allowance))
    stale = since_last is not None and since_last >= config.max_staleness_hours * HOUR
    idle = state.last_awake_at is not None and now - state.last_awake_at >= config.idle_minutes * 60
    if stale:
        reason = f"stale: {since_last / HOUR:.1f} h since the last dream"  # type: ignore[operator]
    elif u >= config.urgency_threshold:
        reason = f"urgency {u:.2f} >= {config.urgency_threshold}"
    elif idle and u >= IDLE_URGENCY_FACTOR * config.urgency_threshold:
        reason = f"idle and urgency {u:.2f}"
    else:
        return Decision(False, f"urgency {u:.2f} below {config.urgency_threshold}", urgency=u)
    depth = "night" if (stale or u >= NIGHT_URGENCY) else "nap"
    seconds = wall_seconds if depth == "night" else min(wall_seconds, NAP_SECONDS)
    budget = CycleBudget(min(seconds, remaining), tier=Tier.T0, vitality=vitality)
    return Decision(True, reason, depth, budget, u)


def gather(store: Store, now: float) -> SchedulerState:
    """Measure the signals from the store (the impure half of the scheduler). The backlog is
    every awake episode no returned cycle consolidated (:mod:`oneiro.dream.backlog`): what a
    partial cycle left, and what a reverted one gave back, count again."""
    backlog_size, importance_sum, residual_mass = backlog.signals(store)
    cycles = store.recent_cycles(200)
    finished = [c for c in cycles if c.status in RETURNED_STATUSES]
    last_dream = max((c.ended_at or c.started_at for c in finished), default=None)
    spent = sum(
        max(0.0, (c.ended_at or now) - c.started_at) for c in cycles if c.started_at >= now - DAY_SECONDS
    )
    contradictions = len(store.entries_matching(STAGED_CONTRADICTIONS))
    return SchedulerState(
        backlog_size,
        importance_sum,
        residual_mass,
        contradictions,
        last_dream,
        store.last_awake_ts(),
        spent,
        predictive_weight(store, {c.id for c in finished}),
    )


def predictive_weight(store: Store, cycles: set[str]) -> float:
    """The share of ``cycles`` (the recent returned ones) whose dream fingerprints a later real
    decision matched, in [0, 1]: 0 with no cycle, or no dream that proved predictive."""
    if not cycles:
        return 0.0
    hits = {e.cycle_id for e in store.entries_matching(PREDICTIVE_DREAMS) if e.cycle_id in cycles}
    return len(hits) / len(cycles)


class Runner:
    """Polls the scheduler and runs a cycle when it says so (``oneiro daemon``)."""

    def __init__(
        self,
        decide: Callable[[], Decision],
        dream: Callable[[Decision], object],
        poll_seconds: float,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.decide = decide
        self.dream = dream
        self.poll_seconds = poll_seconds
        self.sleep = sleep
        self.stopped = False

    def stop(self) -> None:
        self.stopped = True

    def run(self, max_polls: int | None = None) -> int:
        """Poll until stopped (or ``max_polls``); return how many cycles ran."""
        cycles = polls = 0
        while not self.stopped and (max_polls is None or polls < max_polls):
            decision = self.decide()
            if decision.dream:
                self.dream(decision)
                cycles += 1
            polls += 1
            if not self.stopped and (max_polls is None or polls < max_polls):
                self.sleep(self.poll_seconds)
        return cycles
