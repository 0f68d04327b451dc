"""Typed configuration: the constants of the design, presets, and ``oneiro.toml``.

This module is the only reader of the environment. ``ONEIRO_HOME`` overrides the state directory;
``ONEIRO_CONFIG`` names a config file. Everything else comes from ``oneiro.toml`` in the state
directory (or the file given) layered over the defaults below. Unknown keys are errors, so a typo
never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

from oneiro.errors import ConfigError

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
    nrem: NremConfig = field(default_factory=NremConfig)
    #: ``concurrent``: awake contexts keep working while a cycle dreams (blue-green);
    #: ``exclusive``: every context on the store is in dream mode for the cycle.
    sleep: str = "concurrent"

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
        if is_dataclass(current):
            if not isinstance(value, dict):
                raise ConfigError(f"'{where}{key}' must be a table")
            changes[key] = _merge(current, value, f"{where}{key}.")
        else:
            changes[key] = _coerce(current, value, f"{where}{key}")
    return replace(obj, **changes)


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
    if isinstance(current, dict) and isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, bool) or not isinstance(item, int | float):
                raise ConfigError(f"'{name}.{key}' must be a number, got {item!r}")
        return {**current, **{k: float(v) for k, v in value.items()}}
    if not isinstance(value, type(current)):
        raise ConfigError(f"'{name}' must be {type(current).__name__}, got {value!r}")
    return value


def _validate(config: Config) -> Config:
    if config.store.synchronous.upper() not in {"NORMAL", "FULL"}:
        raise ConfigError("store.synchronous must be NORMAL or FULL")
    if config.embedder.name not in {"minilm", "hashing"}:
        raise ConfigError(f"embedder.name must be 'minilm' or 'hashing', got {config.embedder.name!r}")
    if config.sleep not in {"concurrent", "exclusive"}:
        raise ConfigError(f"sleep must be 'concurrent' or 'exclusive', got {config.sleep!r}")
    lc = config.lifecycle
    if not 0 <= lc.hypothesis_confidence < lc.confidence_floor <= lc.validated_confidence <= 1:
        raise ConfigError("lifecycle needs 0 <= hypothesis < floor <= validated <= 1")
    if config.embedder.hashing_dim <= 0 or config.capture.max_text_chars <= 0:
        raise ConfigError("dimensions and limits must be positive")
    cc = config.capture
    if min(cc.w_novelty, cc.w_residual, cc.w_arousal, cc.w_feedback, *cc.kind_weights.values()) < 0:
        raise ConfigError("capture weights must not be negative")
    if not 0 < config.scheduler.budget_fraction <= 1:
        raise ConfigError("scheduler.budget_fraction must lie in (0, 1]")
    return config


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
