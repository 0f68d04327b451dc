"""The LLM backends of one memory, by tier, built on first use through the registration door
(the ``llm_backends`` a plugin or the built-ins registered), each with the memory's response cache.

Why lazily: opening a memory must not reach the network or import the SDK; a T0 cycle never
builds a backend at all. Which endpoint an operation calls: a T1 operation the ``[tiers.T1]``
endpoint, or ``[tiers.T2]`` when only that one is configured (a strong model can do a cheap
model's work); a T2 operation only ``[tiers.T2]``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from oneiro.config import Config, TierConfig, require_tier
from oneiro.dream.budget import CycleBudget
from oneiro.errors import ConfigError
from oneiro.llm.backend import LLMBackend, LLMError, Stats
from oneiro.llm.cache import Cache
from oneiro.model import Tier

#: The endpoints an operation of each tier may call, in order of preference.
ENDPOINTS: dict[Tier, tuple[str, ...]] = {Tier.T1: ("T1", "T2"), Tier.T2: ("T2",)}


class TierBackends:
    def __init__(
        self,
        tiers: Mapping[str, TierConfig],
        factories: Mapping[str, Callable[..., Any]],
        cache: Cache | None,
    ) -> None:
        self.tiers, self.factories, self.cache = dict(tiers), dict(factories), cache
        self._built: dict[str, LLMBackend] = {}
        for name, config in self.tiers.items():
            if config.backend not in self.factories:
                known = ", ".join(sorted(self.factories))
                raise ConfigError(
                    f"[tiers.{name}] names unknown backend {config.backend!r}; registered: {known}"
                )

    def endpoint(self, tier: Tier) -> str | None:
        """The configured endpoint an operation of ``tier`` calls, or None."""
        return next((name for name in ENDPOINTS.get(tier, ()) if name in self.tiers), None)

    def for_tier(self, tier: Tier) -> LLMBackend:
        """The backend an operation of ``tier`` calls; LLMError (which the operation turns into a
        fallback to T0) when none is configured or the factory returns no backend."""
        name = self.endpoint(tier)
        if name is None:
            raise LLMError("no_endpoint", f"no [tiers.*] endpoint is configured for a {tier} operation")
        if name not in self._built:
            config = self.tiers[name]
            backend = self.factories[config.backend](config, self.cache)
            if not isinstance(backend, LLMBackend):
                raise LLMError(
                    "no_endpoint",
                    f"LLM backend {config.backend!r} returned {type(backend).__name__}, not an LLMBackend",
                )
            self._built[name] = backend
        return self._built[name]

    def stats(self) -> dict[str, Stats]:
        """Each built backend's counters, by tier table name."""
        return {name: backend.stats for name, backend in self._built.items()}


def bind_operations(operations: Any, backends: TierBackends) -> int:
    """Hand ``backends`` to every operation that asks for them (``bind_llm``); returns how many."""
    bound = 0
    for ops in operations.values():
        for op in ops:
            bind = getattr(op, "bind_llm", None)
            if callable(bind):
                bind(backends)
                bound += 1
    return bound


def check_tier(tiers: Mapping[str, TierConfig], operations: Any, tier: Tier) -> None:
    """Before a cycle starts: ConfigError when ``tier`` calls an LLM, ``[tiers.<tier>]`` is not
    configured and no operation registered for it can run without one (a plugin's operation
    with its own backend can). Nothing is written before this is checked."""
    if tier not in ENDPOINTS or tier.value in tiers:
        return
    if any(Tier(op.tier) != Tier.T0 for ops in operations.values() for op in ops):
        return
    raise ConfigError(
        f"the cycle asks for tier {tier.value}, which calls an LLM, but no endpoint is configured: "
        f"add a [tiers.{tier.value}] table with base_url and model (and api_key_env) to oneiro.toml"
    )


#: The tiers ``oneiro dream --tier`` takes.
CLI_TIERS = ("T0", "T1", "T2")


def cycle_budget(
    config: Config, *, seconds: float | None = None, tier: str | None = None, tokens: int | None = None
) -> CycleBudget | None:
    """The budget of a cycle asked for on the command line (None: the configured default).

    The tier's endpoint is required here, before the store is opened (ConfigError naming the
    missing ``[tiers.<tier>]`` table). Tokens: ``tokens``, else ``budget.tokens``, else the
    tier's ``cycle_tokens``."""
    if seconds is None and tier is None and tokens is None:
        return None
    if tier is not None and tier not in CLI_TIERS:
        raise ConfigError(f"unknown tier {tier!r}; choose one of {', '.join(CLI_TIERS)}")
    chosen = Tier(tier or config.budget.tier)
    endpoint = require_tier(config, chosen.value, f"--tier {chosen.value}")
    default = config.budget.tokens or (endpoint.cycle_tokens if endpoint else 0)
    return CycleBudget(
        seconds if seconds is not None else config.budget.wall_seconds,
        tokens if tokens is not None else default,
        chosen,
        config.budget.vitality,
    )
