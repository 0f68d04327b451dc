"""Typed configuration: the constants of the design, presets, and ``oneiro.toml``.

This module is the only reader of the environment. ``ONEIRO_HOME`` overrides the state directory;
``ONEIRO_CONFIG`` names a config file; an LLM tier's API key is read from the variable its
``[tiers.T1]`` / ``[tiers.T2]`` table names (:meth:`TierConfig.api_key`), never from the file.
Everything else comes from ``oneiro.toml`` in the state directory (or the file given) layered over
the defaults below. Unknown keys are errors, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import math
import os
import tomllib
from dataclasses import dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

from oneiro.errors import ConfigError, StorePathError

STATE_DIR_ENV = "ONEIRO_HOME"
CONFIG_FILE_ENV = "ONEIRO_CONFIG"
DEFAULT_STATE_DIR = Path.home() / ".oneiro"
STORE_FILENAME = "oneiro.db"
CONFIG_FILENAME = "oneiro.toml"


@dataclass(frozen=True)
class StoreConfig:
    """Where and how the embedded store keeps its file."""

    #: ``NORMAL`` is durable across application crashes in WAL mode; ``FULL`` also across power loss.
    synchronous: str = "NORMAL"
    #: How long a writer waits on another writer's lock before giving up (ms).
    busy_timeout_ms: int = 60_000


@dataclass(frozen=True)
class EmbedderConfig:
    """Which embedder turns text into vectors."""

    #: ``minilm`` (all-MiniLM-L6-v2, offline) or ``hashing`` (no dependencies, deterministic).
    name: str = "minilm"
    #: Dimension of the hashing embedder; MiniLM is always 384.
    hashing_dim: int = 384
    batch_size: int = 256


@dataclass(frozen=True)
class CaptureConfig:
    """Limits and weights for ``record()``."""

    max_text_chars: int = 20_000
    max_data_bytes: int = 64_000
    max_batch: int = 100_000
    #: Importance mixes these signals (each in [0, 1]); weights need not sum to one.
    w_novelty: float = 0.35
    w_residual: float = 0.30
    w_arousal: float = 0.15
    w_feedback: float = 0.20
    #: Neighbours used for novelty (distance to the nearest ones already stored).
    novelty_neighbours: int = 5
    kind_weights: dict[str, float] = field(
        default_factory=lambda: {
            "message": 1.0,
            "decision": 1.2,
            "outcome": 1.2,
            "observation": 1.0,
            "feedback": 1.3,
            "correction": 1.3,
            "error": 1.4,
        }
    )


@dataclass(frozen=True)
class RecallConfig:
    """Hybrid retrieval: rank fusion, then the Generative Agents score S (Park et al., 2023)."""

    #: Reciprocal rank fusion constant (Cormack et al., 2009 use 60).
    rrf_k: int = 60
    #: Candidates taken from each retriever before fusion, as a multiple of k (at least 50).
    candidate_factor: int = 5
    w_relevance: float = 1.0
    w_recency: float = 0.05
    w_importance: float = 0.05
    w_confidence: float = 0.05
    #: Fold single-episode views (keys, context entries) into their episode: the episode's fused
    #: score sums the evidence of all its representations (CombSUM over representations) and the
    #: view itself is not returned.
    fold_views: bool = True
    #: Recency decays with this half-life (hours of episode time before the newest episode).
    recency_half_life_hours: float = 24.0 * 30


@dataclass(frozen=True)
class LifecycleConfig:
    """Confidence and validation constants of DESIGN §7."""

    confidence_floor: float = 0.3
    hypothesis_confidence: float = 0.2
    validated_confidence: float = 0.5
    #: Extractive consolidation (keys, context, extractive summaries) asserts nothing its sources
    #: do not say; it enters active at this confidence rather than as a hypothesis.
    extractive_confidence: float = 0.6
    confirm_window_days: float = 7.0
    expiry_days: float = 14.0
    confirmations_needed: int = 3
    #: Judge staged hypotheses and due predictions against every recorded batch (the awake path).
    validate_on_record: bool = True


@dataclass(frozen=True)
class SchedulerConfig:
    """When to dream (DESIGN §6). Presets ``nap`` and ``night`` change these."""

    min_interval_hours: float = 1.0
    max_staleness_hours: float = 24.0
    #: Generative Agents reflect when the importance sum since the last reflection passes 150.
    importance_threshold: float = 150.0
    backlog_threshold: int = 200
    urgency_threshold: float = 1.0
    idle_minutes: float = 15.0
    budget_fraction: float = 0.15
    poll_seconds: float = 60.0


@dataclass(frozen=True)
class BudgetConfig:
    """A cycle's default budget."""

    tier: str = "T0"
    wall_seconds: float = 600.0
    tokens: int = 0
    #: Budget left as a fraction of a day's budget; sets the budget state and phase split.
    vitality: float = 1.0


@dataclass(frozen=True)
class CycleConfig:
    """How a running cycle holds its store (the dream lease, :mod:`oneiro.dream.lease`)."""

    #: A lease lasts this long past its last renewal: a holder that stops renewing (killed, hung,
    #: its host gone) frees the store after at most this long. Generous, so that one slow
    #: operation between two renewals cannot let it lapse under a live cycle.
    lease_seconds: float = 600.0
    #: The running cycle renews its lease at step boundaries once this long has passed since the
    #: last renewal; at most a third of ``lease_seconds``, so renewal comes well before expiry.
    heartbeat_seconds: float = 30.0


@dataclass(frozen=True)
class NremConfig:
    """Prioritized replay and consolidation."""

    #: Profoundness filter: minimum utility, at most this many replayed, diversity by cluster.
    utility_threshold: float = 0.0
    replay_top_k: int = 256
    #: Topic clustering: cosine similarity at which two items join one community.
    topic_similarity: float = 0.55
    #: Near-duplicates: cosine similarity at or above which two items say the same thing.
    duplicate_similarity: float = 0.95
    #: Supersession: cosine at or above which a newer statement with an update cue may replace an
    #: older one (MiniLM scores a restatement with a changed value about 0.55-0.85).
    supersede_similarity: float = 0.55
    #: Turns on either side folded into a contextual embedding.
    context_window: int = 2
    #: Standard deviation of the feature noise used by perturbed replay.
    perturbation_sigma: float = 0.1
    perturbation_trials: int = 16


@dataclass(frozen=True)
class RemConfig:
    """REM's imagination (seed 003: Imagination Engine; seed 000: dream output below the floor)."""

    #: Decisions one action needs before its outcome model is fitted (below it, no counterfactual
    #: is claimed for that action): five, as NREM's smallest tested group.
    min_action_samples: int = 5
    #: Bootstrap replicates of each action's outcome model (Efron 1979); their spread is the
    #: model's uncertainty about the expected outcome under do(action).
    bootstrap: int = 50
    #: Two-sided coverage of the imagined intervals (the task's 90%).
    interval: float = 0.9
    #: Latest episodes read per cycle for the store's causal model (its decisions are the model's
    #: data): 5,000 decisions fit a per-action ensemble in well under a second, and recent
    #: decisions describe a changing world better than old ones.
    model_window: int = 5_000
    #: Counterfactual findings carried per cycle (one per replayed decision, at most this many).
    max_counterfactuals: int = 64
    #: Threat simulation: recorded contexts each rule is run from (sampled when more), the push
    #: of an adversarial perturbation in standard deviations of each feature (one: a context the
    #: store could plausibly see; clipped to the observed range) and the tail of the residual
    #: distribution scenarios are drawn from (the 5% of decisions with the largest residuals).
    threat_contexts: int = 32
    perturbation_sd: float = 1.0
    tail_quantile: float = 0.05
    #: Threats staged per cycle, most severe first (the rest are counted in the journal).
    max_threats: int = 20
    #: Creative predictions registered per cycle (seed 003: about 30) and how long awake
    #: experience has to resolve each (one week, the lifecycle's confirmation window).
    predictions_per_cycle: int = 30
    prediction_horizon_days: float = 7.0
    #: Creative recombinations staged per cycle, over the three modes together.
    recombinations_per_cycle: int = 10
    #: Anticipated queries answered ahead of time per cycle (sleep-time compute).
    anticipations_per_cycle: int = 10
    #: Depotentiation: episodes at or above this arousal are charged (the upper fifth of PAD's
    #: [-1, 1] scale); the derived view keeps this fraction of their arousal (half, so a charged
    #: episode still counts as charged once, not forever). At most ``max_depotentiated`` a cycle.
    charged_arousal: float = 0.6
    depotentiation_factor: float = 0.5
    max_depotentiated: int = 64
    #: Share of REM's budget kept for imagination (recombination, predictions) whatever threat
    #: rehearsal takes, and for rehearsal whatever imagination takes (seed 003: 20%).
    creative_floor: float = 0.2


@dataclass(frozen=True)
class EvolutionConfig:
    """EVOLUTION's constants (seed 004_c28cd088ddefd4e2.txt unless a line says otherwise)."""

    #: Replicator dynamics on the strategy concentration vector: step and floor (seed 004).
    replicator_step: float = 0.01
    replicator_floor: float = 0.01
    #: Knowledge recombination: at most this many per cycle, of pairs whose context similarity is
    #: at most ``recombination_similarity``, staged at ``recombination_confidence`` (seed 004).
    recombinations_per_cycle: int = 5
    recombination_similarity: float = 0.5
    recombination_confidence: float = 0.3
    #: A real episode's fingerprint above this similarity to a dream's marks the dream predictive
    #: (seed 004, "default 0.6").
    predictive_similarity: float = 0.6
    #: Hypervector dimension (binary, packed bits); Kanerva 2009 works at ~10^4 dimensions.
    hdc_dimension: int = 8192
    #: Entries varied per cycle: the top-K by |fitness - previous_fitness| (seed 004: take(10)).
    variation_candidates: int = 10
    #: Confidence perturbation of a variant (seed 004: mutate_confidence(entry, 0.1)).
    confidence_perturbation: float = 0.1
    #: Parasites: at least this many uses with harmful > helpful (seed 004 / 01b: retrieved often,
    #: linked to bad outcomes); their fitness decays by ``parasite_decay`` per cycle instead of
    #: the ordinary ``decay`` (demurrage).
    parasite_min_uses: int = 5
    parasite_decay: float = 0.5
    decay: float = 0.9
    #: Fitness: half-life of an entry's age term, in days (demurrage, 01b).
    age_half_life_days: float = 30.0


#: An LLM tier's defaults: a dream step gives up sooner than the OpenAI SDK (600 s, 2 retries)
#: and falls back to T0; the first backoff doubles per retry (exponential backoff).
LLM_TIMEOUT_S = 30.0
LLM_RETRIES = 2
LLM_BACKOFF_S = 0.5
#: Completion tokens one request may use: above every answer schema of :mod:`oneiro.llm.prompts`.
LLM_MAX_TOKENS = 1024
#: Tokens a cycle of this tier may spend when neither ``--tokens`` nor ``budget.tokens`` says:
#: about ten reflection-sized requests on a 50-episode intake.
LLM_CYCLE_TOKENS = 20_000


@dataclass(frozen=True)
class WeightsConfig:
    """The weight tier (W): LoRA consolidation. Opt-in, because it changes how the agent answers;
    a candidate is trained in dream mode and serves only after promotion (``oneiro model``)."""

    enabled: bool = False
    #: An awake episode trains the weights only at this importance or above.
    min_importance: float = 0.7
    #: Older important episodes mixed in per new example, against forgetting (seed 002).
    replay_ratio: float = 0.5
    max_steps: int = 200
    #: Share of the cycle's wall budget training may use at most.
    wall_fraction: float = 0.5
    rank: int = 8
    alpha: int = 16
    learning_rate: float = 2e-4
    #: Forgetting allowed on held-back probes, nats per token; least gain on new material.
    probe_margin: float = 0.05
    min_gain: float = 0.01
    prune_fraction: float = 0.5


@dataclass(frozen=True)
class TierConfig:
    """One ``[tiers.T1]`` / ``[tiers.T2]`` table: an OpenAI-compatible endpoint and its limits.

    ``api_key_env`` names the environment variable holding the key (empty: the endpoint takes
    none, as a local llama.cpp or Ollama server); the key itself is never part of a config, so it
    cannot reach the journal, the store or a log. Prices are per million tokens, for cost reports."""

    base_url: str
    model: str
    api_key_env: str = "OPENAI_API_KEY"
    timeout_s: float = LLM_TIMEOUT_S
    max_retries: int = LLM_RETRIES
    backoff_s: float = LLM_BACKOFF_S
    max_tokens: int = LLM_MAX_TOKENS
    cycle_tokens: int = LLM_CYCLE_TOKENS
    price_in_per_m: float = 0.0
    price_out_per_m: float = 0.0
    #: The registered LLM backend that talks to the endpoint (:mod:`oneiro.plugins`).
    backend: str = "openai"

    @classmethod
    def from_table(cls, tier: str, table: Any) -> TierConfig:
        """The tier's config from its TOML table; ConfigError naming the key when the table, a
        needed field or a value is wrong (raised when the config loads, before any cycle)."""
        if not table:
            raise ConfigError(f"tier {tier} calls an LLM but oneiro.toml has no [tiers.{tier}] table")
        if not isinstance(table, dict):
            raise ConfigError(f"'tiers.{tier}' must be a table")
        missing = [k for k in ("base_url", "model") if not table.get(k)]
        if missing:
            raise ConfigError(f"[tiers.{tier}] needs {', '.join(missing)}")
        template = cls(base_url="", model="")
        known = {f.name for f in fields(cls)}
        values: dict[str, Any] = {}
        for key, value in table.items():
            if key not in known:
                raise ConfigError(f"unknown setting 'tiers.{tier}.{key}'; known: {', '.join(sorted(known))}")
            values[key] = _coerce(getattr(template, key), value, f"tiers.{tier}.{key}")
        config = cls(**values)
        for key, rng in TIER_RANGES.items():
            if not rng.holds(getattr(config, key)):
                value = getattr(config, key)
                raise ConfigError(f"'tiers.{tier}.{key}' must be a finite number in {rng}, got {value!r}")
        return config

    def api_key(self) -> str | None:
        """The key from the environment; None when the variable is unset or the tier needs none."""
        if not self.api_key_env:
            return None
        return os.environ.get(self.api_key_env) or None


@dataclass(frozen=True)
class SandboxConfig:
    """Experiments in a sandbox (:mod:`oneiro.sandbox`): off by default, since each variant is a
    real, slow run under bubblewrap. Limits are per run."""

    enabled: bool = False
    #: Validated experiments (proven solutions) taken per cycle, and variants tried of each.
    max_experiments: int = 2
    max_variants: int = 4
    wall_seconds: float = 60.0
    cpu_seconds: int = 60
    memory_mb: int = 1024
    processes: int = 64
    file_mb: int = 64
    disk_mb: int = 256


@dataclass(frozen=True)
class Config:
    """The whole configuration. Build with :func:`load_config`; override with ``replace``."""

    state_dir: Path = DEFAULT_STATE_DIR
    store: StoreConfig = field(default_factory=StoreConfig)
    embedder: EmbedderConfig = field(default_factory=EmbedderConfig)
    capture: CaptureConfig = field(default_factory=CaptureConfig)
    recall: RecallConfig = field(default_factory=RecallConfig)
    lifecycle: LifecycleConfig = field(default_factory=LifecycleConfig)
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    budget: BudgetConfig = field(default_factory=BudgetConfig)
    cycle: CycleConfig = field(default_factory=CycleConfig)
    nrem: NremConfig = field(default_factory=NremConfig)
    rem: RemConfig = field(default_factory=RemConfig)
    evolution: EvolutionConfig = field(default_factory=EvolutionConfig)
    sandbox: SandboxConfig = field(default_factory=SandboxConfig)
    weights: WeightsConfig = field(default_factory=WeightsConfig)
    #: ``concurrent``: awake contexts keep working while a cycle dreams (blue-green);
    #: ``exclusive``: every context on the store is in dream mode for the cycle.
    sleep: str = "concurrent"
    #: What a cycle does when an operation fails as a whole (it raises on every input, or returns
    #: the wrong type): ``stop`` fails the cycle and undoes its writes; ``skip`` journals the
    #: failure and goes on without that operation's writes.
    on_operation_error: str = "stop"
    #: LLM endpoints by tier (``[tiers.T1]``, ``[tiers.T2]``); none by default: T0 needs none.
    tiers: dict[str, TierConfig] = field(default_factory=dict)
    #: Dream operations a cycle does not run, by operation name (``counterfactuals``) or phase
    #: name (``rem``: all of its operations): the supported way to ablate one. A name the
    #: registration door does not know is refused when the memory opens (ConfigError).
    disabled_operations: tuple[str, ...] = ()

    @property
    def store_path(self) -> Path:
        return self.state_dir / STORE_FILENAME


PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    # A nap: short, cheap, frequent; consolidates what is new and little else.
    "nap": {
        "scheduler": {"min_interval_hours": 0.5, "max_staleness_hours": 6.0, "backlog_threshold": 50},
        "budget": {"wall_seconds": 60.0},
        "nrem": {"replay_top_k": 64},
    },
    # A night: long and deep, once a day.
    "night": {
        "scheduler": {"min_interval_hours": 12.0, "max_staleness_hours": 24.0},
        "budget": {"wall_seconds": 3600.0},
        "nrem": {"replay_top_k": 1024},
    },
}

T = TypeVar("T")


def _merge(obj: T, values: dict[str, Any], where: str) -> T:
    """Return ``obj`` with ``values`` applied, checking names and types."""
    assert is_dataclass(obj) and not isinstance(obj, type)
    known = {f.name: f for f in fields(obj)}
    changes: dict[str, Any] = {}
    for key, value in values.items():
        if key not in known:
            raise ConfigError(f"unknown setting '{where}{key}'; known: {', '.join(sorted(known))}")
        current = getattr(obj, key)
        if where == "" and key == "tiers":
            changes[key] = {**current, **_tiers(value)}
        elif is_dataclass(current):
            if not isinstance(value, dict):
                raise ConfigError(f"'{where}{key}' must be a table")
            changes[key] = _merge(current, value, f"{where}{key}.")
        else:
            changes[key] = _coerce(current, value, f"{where}{key}")
    return replace(obj, **changes)


def _tiers(value: Any) -> dict[str, TierConfig]:
    """The ``[tiers.*]`` tables; only the LLM tiers take one."""
    if not isinstance(value, dict):
        raise ConfigError("'tiers' must be a table of [tiers.T1] / [tiers.T2] tables")
    unknown = sorted(set(value) - set(LLM_TIERS))
    if unknown:
        raise ConfigError(f"unknown tier table(s) {', '.join(unknown)}; LLM tiers: {', '.join(LLM_TIERS)}")
    return {tier: TierConfig.from_table(tier, table) for tier, table in value.items()}


def _coerce(current: Any, value: Any, name: str) -> Any:
    if isinstance(current, Path):
        if not isinstance(value, str):
            raise ConfigError(f"'{name}' must be a path string")
        return Path(value).expanduser()
    if isinstance(current, bool) or isinstance(value, bool):
        if not isinstance(value, bool) or not isinstance(current, bool):
            raise ConfigError(f"'{name}' must be {type(current).__name__}, got {value!r}")
        return value
    if isinstance(current, float) and isinstance(value, int):
        return float(value)
    if isinstance(current, tuple):
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"'{name}' must be a list of names, got {value!r}")
        return tuple(value)
    if isinstance(current, dict) and isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, bool) or not isinstance(item, int | float):
                raise ConfigError(f"'{name}.{key}' must be a number, got {item!r}")
        return {**current, **{k: float(v) for k, v in value.items()}}
    if not isinstance(value, type(current)):
        raise ConfigError(f"'{name}' must be {type(current).__name__}, got {value!r}")
    return value


@dataclass(frozen=True)
class Range:
    """The values a numeric setting may take: finite, within [lo, hi] (an end may be open)."""

    lo: float
    hi: float
    lo_open: bool = False
    hi_open: bool = False

    def holds(self, value: float) -> bool:
        try:
            if not math.isfinite(value):
                return False
        except OverflowError:  # an integer too large for a float
            return False
        above = value > self.lo if self.lo_open else value >= self.lo
        below = value < self.hi if self.hi_open else value <= self.hi
        return above and below

    def __str__(self) -> str:
        left, right = "(" if self.lo_open else "[", ")" if self.hi_open else "]"
        return f"{left}{self.lo:g}, {self.hi:g}{right}"


#: The largest count or size a setting may hold: SQLite's and numpy's 32-bit limits stay clear.
MAX_COUNT = 2**31 - 1
#: The largest weight, time or threshold: far past any sensible value, and finite arithmetic
#: on it (sums, products with a score) stays finite.
MAX_REAL = 1e9
UNIT = Range(0.0, 1.0)
WEIGHT = Range(0.0, MAX_REAL)
POSITIVE = Range(0.0, MAX_REAL, lo_open=True)
COUNT = Range(1, MAX_COUNT)
COUNT_OR_ZERO = Range(0, MAX_COUNT)

#: Every numeric setting and its range. A test checks that no numeric setting is missing here.
RANGES: dict[str, Range] = {
    "store.busy_timeout_ms": COUNT_OR_ZERO,
    "embedder.hashing_dim": Range(1, 65_536),
    "embedder.batch_size": Range(1, 1_000_000),
    "capture.max_text_chars": COUNT,
    #: ``{}`` is two bytes: a smaller limit refuses every record.
    "capture.max_data_bytes": Range(2, MAX_COUNT),
    "capture.max_batch": COUNT,
    "capture.w_novelty": WEIGHT,
    "capture.w_residual": WEIGHT,
    "capture.w_arousal": WEIGHT,
    "capture.w_feedback": WEIGHT,
    "capture.novelty_neighbours": Range(1, 10_000),
    "capture.kind_weights": WEIGHT,
    #: Below 1 the fusion's 1 / (k + rank) is undefined or lets a single rank dominate.
    "recall.rrf_k": COUNT,
    "recall.candidate_factor": Range(1, 10_000),
    "recall.w_relevance": WEIGHT,
    "recall.w_recency": WEIGHT,
    "recall.w_importance": WEIGHT,
    "recall.w_confidence": WEIGHT,
    "recall.recency_half_life_hours": POSITIVE,
    "lifecycle.confidence_floor": UNIT,
    "lifecycle.hypothesis_confidence": UNIT,
    "lifecycle.validated_confidence": UNIT,
    "lifecycle.extractive_confidence": UNIT,
    "lifecycle.confirm_window_days": POSITIVE,
    "lifecycle.expiry_days": POSITIVE,
    "lifecycle.confirmations_needed": Range(1, 1_000),
    "scheduler.min_interval_hours": WEIGHT,
    "scheduler.max_staleness_hours": POSITIVE,
    "scheduler.importance_threshold": POSITIVE,
    "scheduler.backlog_threshold": COUNT,
    "scheduler.urgency_threshold": POSITIVE,
    "scheduler.idle_minutes": WEIGHT,
    "scheduler.budget_fraction": Range(0.0, 1.0, lo_open=True),
    "scheduler.poll_seconds": POSITIVE,
    "budget.wall_seconds": POSITIVE,
    "budget.tokens": COUNT_OR_ZERO,
    "budget.vitality": UNIT,
    #: From one second (tests, quick recovery) to a week (a lease that never lapses in practice).
    "cycle.lease_seconds": Range(1.0, 7 * 24 * 3600.0),
    "cycle.heartbeat_seconds": POSITIVE,
    "nrem.utility_threshold": WEIGHT,
    "nrem.replay_top_k": COUNT,
    "nrem.topic_similarity": UNIT,
    "nrem.duplicate_similarity": Range(0.0, 1.0, lo_open=True),
    "nrem.supersede_similarity": UNIT,
    "nrem.context_window": Range(0, 1_000),
    "nrem.perturbation_sigma": WEIGHT,
    "nrem.perturbation_trials": Range(1, 100_000),
    "rem.min_action_samples": Range(2, MAX_COUNT),
    "rem.bootstrap": Range(2, 100_000),
    "rem.interval": Range(0.0, 1.0, lo_open=True, hi_open=True),
    "rem.max_counterfactuals": COUNT_OR_ZERO,
    "rem.model_window": COUNT,
    "rem.threat_contexts": COUNT,
    "rem.perturbation_sd": WEIGHT,
    "rem.tail_quantile": Range(0.0, 0.5, lo_open=True),
    "rem.max_threats": COUNT_OR_ZERO,
    "rem.predictions_per_cycle": COUNT_OR_ZERO,
    "rem.prediction_horizon_days": POSITIVE,
    "rem.recombinations_per_cycle": COUNT_OR_ZERO,
    "rem.anticipations_per_cycle": COUNT_OR_ZERO,
    "rem.charged_arousal": Range(-1.0, 1.0),
    "rem.depotentiation_factor": UNIT,
    "rem.max_depotentiated": COUNT_OR_ZERO,
    "rem.creative_floor": Range(0.0, 0.5),
    "evolution.replicator_step": Range(0.0, 1.0, lo_open=True),
    "evolution.replicator_floor": Range(0.0, 1.0),
    "evolution.recombinations_per_cycle": COUNT_OR_ZERO,
    "evolution.recombination_similarity": UNIT,
    "evolution.recombination_confidence": UNIT,
    "evolution.predictive_similarity": UNIT,
    "evolution.hdc_dimension": Range(8192, 1_048_576),
    "evolution.variation_candidates": COUNT_OR_ZERO,
    "evolution.confidence_perturbation": UNIT,
    "evolution.parasite_min_uses": COUNT_OR_ZERO,
    "evolution.parasite_decay": UNIT,
    "evolution.decay": UNIT,
    "evolution.age_half_life_days": Range(0.0, 1e6, lo_open=True),
    "sandbox.max_experiments": COUNT_OR_ZERO,
    "sandbox.max_variants": COUNT_OR_ZERO,
    "sandbox.wall_seconds": POSITIVE,
    "sandbox.cpu_seconds": COUNT,
    "sandbox.memory_mb": COUNT,
    "sandbox.processes": COUNT,
    "sandbox.file_mb": COUNT,
    "sandbox.disk_mb": COUNT,
    "weights.min_importance": UNIT,
    "weights.replay_ratio": Range(0.0, 100.0),
    "weights.max_steps": COUNT,
    "weights.wall_fraction": Range(0.0, 1.0, lo_open=True),
    "weights.rank": Range(1, 4096),
    "weights.alpha": Range(1, 65_536),
    "weights.learning_rate": Range(0.0, 1.0, lo_open=True),
    "weights.probe_margin": Range(0.0, 100.0),
    "weights.min_gain": Range(0.0, 100.0),
    "weights.prune_fraction": Range(0.0, 1.0, hi_open=True),
}
#: The numeric settings of a ``[tiers.*]`` table and their ranges.
TIER_RANGES: dict[str, Range] = {
    "timeout_s": POSITIVE,
    "max_retries": Range(0, 100),
    "backoff_s": WEIGHT,
    "max_tokens": COUNT,
    "cycle_tokens": COUNT,
    "price_in_per_m": WEIGHT,
    "price_out_per_m": WEIGHT,
}
#: Every setting that names one of a few choices.
CHOICES: dict[str, tuple[str, ...]] = {
    "store.synchronous": ("NORMAL", "FULL"),
    "embedder.name": ("minilm", "hashing"),
    "budget.tier": ("T0", "T1", "T2", "W"),
    "sleep": ("concurrent", "exclusive"),
    "on_operation_error": ("stop", "skip"),
}
#: A lease outlasts this many heartbeat intervals: a renewal or two may be late without losing it.
HEARTBEATS_PER_LEASE = 3
#: Tiers that call an LLM and so need a token budget.
LLM_TIERS = ("T1", "T2")


def settings(config: Config) -> dict[str, Any]:
    """Every leaf setting by dotted name (``lifecycle.expiry_days``), the state directory aside."""
    out: dict[str, Any] = {}
    for f in fields(config):
        value = getattr(config, f.name)
        if is_dataclass(value):
            out.update({f"{f.name}.{g.name}": getattr(value, g.name) for g in fields(value)})
        elif f.name not in ("state_dir", "tiers"):  # tier tables are checked as they are read
            out[f.name] = value
    return out


def _check_setting(name: str, value: Any) -> None:
    if name in CHOICES:
        shown = value.upper() if name == "store.synchronous" else value
        if shown not in CHOICES[name]:
            raise ConfigError(f"'{name}' must be one of {', '.join(CHOICES[name])}, got {value!r}")
    if name not in RANGES:
        return
    rng = RANGES[name]
    values = value.items() if isinstance(value, dict) else [(None, value)]
    for key, number in values:
        where = name if key is None else f"{name}.{key}"
        if not rng.holds(number):
            raise ConfigError(f"'{where}' must be a finite number in {rng}, got {number!r}")


def _validate(config: Config) -> Config:
    """Check every setting against its declared range or choices, then the rules that tie
    settings together; a ConfigError names the first bad key."""
    for name, value in settings(config).items():
        _check_setting(name, value)
    lc = config.lifecycle
    if not lc.hypothesis_confidence < lc.confidence_floor <= lc.validated_confidence:
        raise ConfigError(
            "lifecycle needs hypothesis_confidence < confidence_floor <= validated_confidence, got "
            f"{lc.hypothesis_confidence} / {lc.confidence_floor} / {lc.validated_confidence}"
        )
    sc = config.scheduler
    if sc.min_interval_hours > sc.max_staleness_hours:
        raise ConfigError(
            f"'scheduler.min_interval_hours' ({sc.min_interval_hours}) must not exceed "
            f"'scheduler.max_staleness_hours' ({sc.max_staleness_hours})"
        )
    cy = config.cycle
    if cy.heartbeat_seconds * HEARTBEATS_PER_LEASE > cy.lease_seconds:
        raise ConfigError(
            f"'cycle.heartbeat_seconds' ({cy.heartbeat_seconds:g}) must be at most a third of "
            f"'cycle.lease_seconds' ({cy.lease_seconds:g}), so the lease is renewed well before it lapses"
        )
    if config.budget.tier in LLM_TIERS and config.budget.tokens == 0:
        raise ConfigError(f"'budget.tokens' must be above 0 for tier {config.budget.tier} (it calls an LLM)")
    if config.budget.tier in LLM_TIERS:
        require_tier(config, config.budget.tier, "'budget.tier'")
    if any(not k.strip() for k in config.capture.kind_weights):
        raise ConfigError("'capture.kind_weights' has an empty kind name")
    return config


def require_tier(config: Config, tier: str, asked_by: str = "the cycle") -> TierConfig | None:
    """The endpoint a cycle of ``tier`` calls (None for a tier that calls no LLM); ConfigError,
    before any cycle starts, when an LLM tier is asked for and ``[tiers.<tier>]`` is missing."""
    if tier not in LLM_TIERS:
        return None
    found = config.tiers.get(tier)
    if found is None:
        raise ConfigError(
            f"{asked_by} asks for tier {tier}, which calls an LLM, but no endpoint is configured: add a "
            f"[tiers.{tier}] table with base_url and model (and api_key_env) to {CONFIG_FILENAME}"
        )
    return found


#: Suffixes (any case) that make a path that does not exist yet a new store file; any other new
#: path becomes a state directory.
STORE_SUFFIXES = frozenset({".db", ".sqlite", ".sqlite3", ".db3"})
IN_MEMORY = ":memory:"


@dataclass(frozen=True)
class Location:
    """Where a store lives: in a state directory (``state_dir`` set; the store is its
    ``oneiro.db``) or in a store file named directly (``state_dir`` None), or in memory."""

    state_dir: Path | None
    store: str


def locate(path: str | Path | None) -> Location:
    """Decide what ``path`` names, by what is on disk first:

    - ``":memory:"``: an in-memory store;
    - an existing directory: a state directory;
    - an existing regular file: a store file (its header is checked when it is opened);
    - anything else that exists (a device, a pipe): refused;
    - a new path ending in .db, .sqlite, .sqlite3 or .db3 (any case): a new store file;
    - any other new path (and ``None``: ``$ONEIRO_HOME`` or ``~/.oneiro``): a new state directory.
    """
    if path is not None and str(path) == IN_MEMORY:
        return Location(None, IN_MEMORY)
    target = state_dir_from_env() if path is None else Path(path).expanduser()
    try:
        exists, is_dir, is_file = target.exists(), target.is_dir(), target.is_file()
    except OSError as exc:
        raise StorePathError(f"cannot inspect {target}: {exc.strerror or exc}") from exc
    if is_dir:
        return Location(target, str(target / STORE_FILENAME))
    if is_file and path is not None:
        return Location(None, str(target))
    if exists:
        kind = "a file" if is_file else "not a regular file or directory"
        raise StorePathError(f"{target} is {kind}; a state directory or a store file is needed")
    if path is not None and target.suffix.lower() in STORE_SUFFIXES:
        return Location(None, str(target))
    return Location(target, str(target / STORE_FILENAME))


def check_state_dir(path: Path, what: str = "state directory") -> Path:
    """``path`` if it is a directory or absent (and creatable: every existing ancestor is a
    directory); StorePathError naming it otherwise."""
    for part in (path, *path.parents):
        try:
            if not part.exists():
                continue
            if not part.is_dir():
                kind = "a file" if part.is_file() else "not a regular file or directory"
                where = "" if part == path else f" (inside {part}, which is {kind})"
                raise StorePathError(
                    f"{what} {path} cannot be used{where or f': it is {kind}'}; give a directory"
                )
        except OSError as exc:
            raise StorePathError(f"cannot inspect {what} {path}: {exc.strerror or exc}") from exc
        return path
    return path


def state_dir_from_env() -> Path:
    """The state directory: ``$ONEIRO_HOME`` or ``~/.oneiro``."""
    value = os.environ.get(STATE_DIR_ENV)
    return Path(value).expanduser() if value else DEFAULT_STATE_DIR


def load_config(
    state_dir: Path | None = None,
    *,
    file: Path | None = None,
    preset: str | None = None,
    overrides: dict[str, Any] | None = None,
) -> Config:
    """Defaults, then a preset, then the config file, then ``overrides``; validated."""
    root = state_dir if state_dir is not None else state_dir_from_env()
    config = Config(state_dir=root)
    if preset is not None:
        if preset not in PRESETS:
            raise ConfigError(f"unknown preset {preset!r}; known: {', '.join(PRESETS)}")
        config = _merge(config, PRESETS[preset], "")
    env_file = os.environ.get(CONFIG_FILE_ENV)
    path = file or (Path(env_file) if env_file else root / CONFIG_FILENAME)
    if path.exists():
        try:
            values = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
        except OSError as exc:
            raise ConfigError(f"config file {path} cannot be read: {exc.strerror or exc}") from exc
        values.pop("state_dir", None)
        config = _merge(config, values, "")
    elif file is not None or env_file:
        origin = "" if file is not None else f" (named by ${CONFIG_FILE_ENV})"
        raise ConfigError(f"config file {path} does not exist{origin}")
    if overrides:
        config = _merge(config, overrides, "")
    return _validate(config)


def to_dict(config: Config) -> dict[str, Any]:
    """A JSON-ready view of the configuration (for benchmark results and ``status``)."""
    out = dataclasses.asdict(config)
    out["state_dir"] = str(config.state_dir)
    return out


def env_flag(name: str) -> bool:
    """True when the environment variable ``name`` is set to a truthy value."""
    return os.environ.get(name, "").lower() in {"1", "true", "yes"}
