"""The oneiro agent: a bandit player whose beliefs are whatever its memory holds.

Each step it acts through the effectful pipeline ``ab.pull`` and records a ``decision`` episode
reporting that dispatch (context key = the arm, ``prediction`` = its estimate
for that arm before acting, ``outcome`` = the payoff, session = the simulated day) and chooses
epsilon-greedily from estimates it reads back from the store:

* **awake** (both twins): the mean payoff of the decision episodes the store holds for the arm,
  read incrementally from the store's episode log, each older step weighted by ``discount`` (1.0,
  the default, is the all-history mean: a stationary estimator on purpose, so any adaptation
  beyond it must come from the dream; below 1 it is the discounted mean of Garivier & Moulines
  2011, the strong awake agent). On a task with an observed context ``x`` in [0, 1] the means
  are kept per context bin (``bins`` equal bins; 1 ignores the context).
* **dream** (the dream twin only): after ``memory.dream()`` and whenever the store's entries
  change, the agent reads the ``correction`` and ``summary`` entries awake recall may show
  (recallable status, at or above the confidence floor, from a completed cycle). A correction
  (``data["test"] = {"type": "residual_bias", "context": arm, "bias": b}``) says its predictions
  for the arm ran ``-b`` from outcomes: the agent folds ``b`` into that arm's estimate once, and
  takes it back if the correction is later refuted. A compressed-replay ``summary`` of the arm
  (``data = {"context": arm, "n": ..., "mean_outcome": ...}``) rebases the arm's running mean on
  the summarised window (plus anything recorded after it), and a correction made no later than
  the summary it would sit on is not folded: the summary already holds its evidence.
  A summary holds no context, so every bin of the arm is rebased on it.
* **dream, exploration** (the dream twin only): when it explores, the agent draws the arm from
  the newest EVOLUTION ``strategy_mix`` (its ``concentrations``) instead of uniformly. The mix is
  a staged hypothesis (below the floor): it may choose what the agent tries, never what it
  trusts, so it only steers the exploration steps.

Invariant (the point of the harness): both twins run this class with the same seed; the only
difference is ``dreaming``. The dream twin learns nothing the store did not receive from a real
cycle, and the no-dream twin never calls ``dream()``, so its store holds no entries at all.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from oneiro.memory import Memory
from oneiro.model import Entry, EntryStatus, Episode, Provenance
from oneiro.store.query import EntryQuery

#: Simulated seconds per step: one decision an hour.
STEP_SECONDS = 3_600.0
#: Steps per session (a simulated day). Validation counts confirmations by distinct session.
STEPS_PER_SESSION = 24
#: Simulated start time (2024-01-01T00:00:00Z), so sessions fall on readable dates.
EPOCH = 1_704_067_200.0
#: Exploration rate of the epsilon-greedy rule (Sutton & Barto 2018, section 2.3 uses 0.1).
EPSILON = 0.1
DECISION = "decision"
#: The effectful pipeline through which the agent acts; each decision episode reports one dispatch.
PULL = "ab.pull"
#: The entry kinds the dream twin acts on; a subset ablates one mechanism (``oneiro ab --reads``).
DREAM_READS = ("correction", "summary", "strategy_mix")
#: Every entry the agent could fold into its beliefs (it keeps those of the kinds it reads).
BELIEF_KINDS = EntryQuery(kinds=("correction", "summary"))
MIX = EntryQuery(kinds=("strategy_mix",))
#: The least exploration share an arm keeps under a strategy mix: the replicator's own floor
#: (``EvolutionConfig.replicator_floor``, seed 004).
MIX_FLOOR = 0.01
#: The context feature the agent records and bins by (on a task that has one).
CONTEXT_FEATURE = "x"


class SimClock:
    """The simulated time both the agent and its memory read; the harness advances it."""

    def __init__(self, start: float = EPOCH) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def at(self, t: int) -> float:
        return EPOCH + t * STEP_SECONDS


@dataclass
class Beliefs:
    """Per-(context bin, arm) discounted sums from the store, plus what the dream twin folded in
    from entries (per arm: entries carry no context)."""

    sums: np.ndarray
    counts: np.ndarray
    adjust: np.ndarray
    folded: dict[str, tuple[int, float]] = field(default_factory=dict)
    rebased: set[str] = field(default_factory=set)
    rebased_at: dict[int, float] = field(default_factory=dict)
    mix: np.ndarray | None = None

    @staticmethod
    def empty(arms: int, bins: int = 1) -> Beliefs:
        return Beliefs(np.zeros((bins, arms)), np.zeros((bins, arms)), np.zeros(arms))

    def estimate(self, arm: int, b: int = 0) -> float | None:
        if self.counts[b, arm] == 0:
            return None
        return float(self.sums[b, arm] / self.counts[b, arm] + self.adjust[arm])


class MemoryAgent:
    """Epsilon-greedy over estimates read from an oneiro store (see the module docstring)."""

    def __init__(
        self,
        memory: Memory,
        arms: Sequence[str],
        clock: SimClock,
        *,
        dreaming: bool,
        dream_every: int,
        epsilon: float = EPSILON,
        reads: Sequence[str] = DREAM_READS,
        discount: float = 1.0,
        bins: int = 1,
        context: Callable[[int], float] | None = None,
    ) -> None:
        self.memory, self.arms, self.clock = memory, list(arms), clock
        self.index = {name: i for i, name in enumerate(self.arms)}
        self.dreaming, self.dream_every, self.epsilon = dreaming, dream_every, epsilon
        self.reads = frozenset(reads)
        self.discount, self.bins, self.context = discount, bins, context
        self.name = "oneiro-dream" if dreaming else "oneiro-no-dream"
        self.beliefs = Beliefs.empty(len(self.arms), bins)
        self.mixes_used = 0
        self.dreams = 0
        self._rowid = 0
        self._entries_version = -1
        self._pending: float | None = None
        if PULL not in memory.gate.pipelines():
            memory.pipeline(PULL, effect="effectful")(self._pull)

    def _pull(self, arm: str, step: int) -> float:
        """The act itself, as the world sees it: the simulated environment's payoff for ``arm``.
        Going through an effectful pipeline makes the outcome an observation the store vouches
        for (a dispatch), not a message the agent writes about itself."""
        if self._pending is None:
            raise RuntimeError("pull dispatched outside update()")
        return self._pending

    # -- acting
    def bin_of(self, x: float | None) -> int:
        if x is None or self.bins == 1:
            return 0
        return min(max(int(x * self.bins), 0), self.bins - 1)

    def choose(self, t: int, rng: np.random.Generator) -> int:
        self._read_episodes()
        explore = rng.random() < self.epsilon
        pick = int(rng.integers(len(self.arms)))
        if explore:
            mix = self.beliefs.mix
            if mix is not None:
                self.mixes_used += 1
                drawn = int(np.searchsorted(np.cumsum(mix), rng.random()))
                return min(drawn, len(self.arms) - 1)
            return pick
        b = self.bin_of(self.context(t) if self.context is not None else None)
        untried = np.flatnonzero(self.beliefs.counts[b] == 0)
        if untried.size:
            return int(untried[0])
        values = [self.beliefs.estimate(a, b) for a in range(len(self.arms))]
        return int(np.argmax([v if v is not None else -math.inf for v in values]))

    def update(self, t: int, action: int, payoff: float) -> None:
        """Record the step as a decision episode; dream on schedule (dream twin only)."""
        self.clock.now = self.clock.at(t)
        arm = self.arms[action]
        x = self.context(t) if self.context is not None else None
        self._pending = payoff
        try:
            pulled = self.memory.dispatch(PULL, arm, t)
        finally:
            self._pending = None
        self.memory.record(
            {
                "text": f"chose {arm}: payoff {payoff:+.3f}",
                "ts": self.clock.now,
                "kind": DECISION,
                "session": session_of(t),
                "actor": "agent",
                "context": {"key": arm} if x is None else {"key": arm, CONTEXT_FEATURE: x},
                "data": {"action": arm, "step": t},
                "prediction": self.beliefs.estimate(action, self.bin_of(x)),
                "outcome": payoff,
                "dispatch": pulled.seq,
            }
        )
        if self.dreaming and (t + 1) % self.dream_every == 0:
            self.memory.dream(reason="scheduled")
            self.dreams += 1
        if self.dreaming:
            self._read_entries()

    # -- reading the store
    def _read_episodes(self) -> None:
        for rowid, episode in self.memory.store.episodes_since(self._rowid):
            self._rowid = max(self._rowid, rowid)
            arm = self._arm_of(episode)
            if arm is not None and episode.outcome is not None:
                if self.discount < 1.0:
                    self.beliefs.sums *= self.discount
                    self.beliefs.counts *= self.discount
                b = self._bin_of_episode(episode)
                self.beliefs.sums[b, arm] += episode.outcome
                self.beliefs.counts[b, arm] += 1

    def _bin_of_episode(self, episode: Episode) -> int:
        x = _finite(episode.context.get(CONTEXT_FEATURE))
        return self.bin_of(x)

    def _arm_of(self, episode: Episode) -> int | None:
        if episode.kind != DECISION or episode.provenance != Provenance.AWAKE:
            return None
        key = episode.context.get("key")
        return self.index.get(key) if isinstance(key, str) else None

    def _read_entries(self) -> None:
        version = self.memory.store.versions()[2]
        if version == self._entries_version:
            return
        self._entries_version = version
        store = self.memory.store
        found = [e for e in store.entries_matching(BELIEF_KINDS) if e.kind in self.reads]
        floor = self.memory.config.lifecycle.confidence_floor
        shown = store.visible_entries([e.id for e in found], floor)
        for entry in found:
            if entry.kind == "correction":
                self._fold_correction(entry, entry.id in shown)
            elif entry.id in shown:
                self._rebase(entry)
        if "strategy_mix" in self.reads:
            self.beliefs.mix = mix_of(store.entries_matching(MIX), self.index)

    def _fold_correction(self, entry: Entry, shown: bool) -> None:
        if entry.id in self.beliefs.folded:
            if entry.status == EntryStatus.REFUTED:
                arm, bias = self.beliefs.folded.pop(entry.id)
                self.beliefs.adjust[arm] -= bias
            return
        parsed = correction_of(entry, self.index)
        if parsed is not None and entry.created_at <= self.beliefs.rebased_at.get(parsed[0], -math.inf):
            return
        if shown and parsed is not None:
            arm, bias = parsed
            self.beliefs.adjust[arm] += bias
            self.beliefs.folded[entry.id] = (arm, bias)

    def _rebase(self, entry: Entry) -> None:
        if entry.id in self.beliefs.rebased:
            return
        self.beliefs.rebased.add(entry.id)
        for arm, mean, count in summary_groups(entry, self.index):
            self.beliefs.sums[:, arm] = mean * count / self.bins
            self.beliefs.counts[:, arm] = count / self.bins
            for b, outcome in self._outcomes_since(arm, entry.sources):
                self.beliefs.sums[b, arm] += outcome
                self.beliefs.counts[b, arm] += 1
            self.beliefs.adjust[arm] = 0.0
            self.beliefs.rebased_at[arm] = entry.created_at

    def _outcomes_since(self, arm: int, sources: Sequence[str]) -> list[tuple[int, float]]:
        """(bin, outcome) for ``arm`` recorded after the newest episode a summary covers."""
        held = self.memory.store.episodes(list(sources))
        newest = max((e.ts for e in held.values()), default=-math.inf)
        return [
            (self._bin_of_episode(e), float(e.outcome))
            for _, e in self.memory.store.episodes_since(0)
            if e.ts > newest and self._arm_of(e) == arm and e.outcome is not None
        ]


def session_of(t: int) -> str:
    return f"day-{t // STEPS_PER_SESSION:04d}"


def correction_of(entry: Entry, index: Mapping[str, int]) -> tuple[int, float] | None:
    """(arm, bias) from a residual-bias correction whose context is one of the arms."""
    test = entry.data.get("test")
    if not isinstance(test, dict) or test.get("type") != "residual_bias":
        return None
    arm = index.get(str(test.get("context")))
    bias = _finite(test.get("bias"))
    return None if arm is None or bias is None else (arm, bias)


def summary_groups(entry: Entry, index: Mapping[str, int]) -> list[tuple[int, float, int]]:
    """(arm, mean outcome, count) for each group of a summary that names an arm as its context
    (a summary's data is one group, as compressed replay writes it, or a list under ``groups``)."""
    groups: Any = entry.data.get("groups", [entry.data])
    out: list[tuple[int, float, int]] = []
    for group in groups if isinstance(groups, list) else []:
        if not isinstance(group, dict):
            continue
        arm = index.get(str(group.get("context")))
        mean, count = _finite(group.get("mean_outcome")), _finite(group.get("n"))
        if arm is not None and mean is not None and count is not None and count >= 1:
            out.append((arm, mean, int(count)))
    return out


def mix_of(entries: Sequence[Entry], index: Mapping[str, int]) -> np.ndarray | None:
    """The newest strategy mix's concentrations as a probability vector over the arms, or None
    without a usable mix. An arm the mix does not name (REM had too few of its decisions to
    model it) keeps :data:`MIX_FLOOR`, so the mix can never stop the agent exploring it."""
    if not entries:
        return None
    newest = max(entries, key=lambda e: (e.created_at, e.id))
    raw = newest.data.get("concentrations")
    weights = np.full(len(index), MIX_FLOOR)
    for name, value in raw.items() if isinstance(raw, dict) else ():
        share = _finite(value)
        if name in index and share is not None:
            weights[index[name]] = max(share, MIX_FLOOR)
    total = weights.sum()
    return weights / total if total > 0 else None


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)
