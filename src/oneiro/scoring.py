"""Versioned scoring functions, so that recorded outcomes can be re-scored when a scorer changes.

A decision episode may carry how its outcome was scored: ``data["score"] = {"scorer": name,
"version": v, "value": x, "inputs": {...}}``. The inputs are what the scorer saw (likes, shares,
latency...), recorded awake and immutable with the episode. When a newer version of ``name`` is
registered, a dream can compute what the recorded inputs are worth now (NREM's counterfactual
re-scoring) without touching the world or the episode.

Scorers belong to a memory, not to the process: a plugin registers them through the door
(``register_scorers`` in :mod:`oneiro.plugins`), and ``Memory.scorers`` is that memory's registry,
which the cycle hands its operations (``ctx.scorers``).

Invariants: a (name, version) pair names exactly one function for the life of a registry, so a
re-score is reproducible; versions are positive integers and "current" is the highest registered.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from oneiro.errors import InvalidInput

ScoreFn = Callable[[Mapping[str, Any]], float]


@dataclass(frozen=True)
class Scorer:
    """One version of a named scoring function: recorded inputs to a number."""

    name: str
    version: int
    fn: ScoreFn

    def __call__(self, inputs: Mapping[str, Any]) -> float:
        return float(self.fn(inputs))


class ScoringRegistry:
    """Named, versioned scorers. Registering the same function again under its (name, version) is
    a no-op; registering a different one there is refused, since recorded scores cite it."""

    def __init__(self) -> None:
        self._scorers: dict[str, dict[int, Scorer]] = {}

    def register(self, name: str, version: int, fn: ScoreFn) -> Scorer:
        if not isinstance(name, str) or not name.strip():
            raise InvalidInput("a scorer needs a non-empty name", field="name")
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise InvalidInput(f"scorer versions are integers >= 1, got {version!r}", field="version")
        if not callable(fn):
            raise InvalidInput(f"scorer {name} v{version} is not callable", field="fn")
        versions = self._scorers.setdefault(name, {})
        existing = versions.get(version)
        if existing is not None and existing.fn is not fn:
            raise InvalidInput(
                f"scorer {name} v{version} is already registered with another function; "
                "register the new one under a higher version",
                field="version",
            )
        scorer = existing or Scorer(name, version, fn)
        versions[version] = scorer
        return scorer

    def current(self, name: str) -> Scorer | None:
        """The highest registered version of ``name``; None when nothing is registered under it."""
        versions = self._scorers.get(name)
        return versions[max(versions)] if versions else None

    def get(self, name: str, version: int) -> Scorer | None:
        return self._scorers.get(name, {}).get(version)

    def names(self) -> list[str]:
        return sorted(self._scorers)
