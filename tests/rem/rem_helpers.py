"""Shared builders for REM tests: decision stores with a known outcome law, on real SQLite."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from fakes import FakeSnapshot, fake_context
from oneiro.config import Config
from oneiro.dream.phase import Context
from oneiro.memory import Memory
from oneiro.model import Episode
from oneiro.playbook import Item

CYCLE = "c-rem"
Law = Callable[[float], float]


def record_decisions(
    memory: Memory,
    laws: dict[str, tuple[Law, float, float]],
    n: int,
    *,
    seed: int = 0,
    noise: float = 0.1,
) -> list[Episode]:
    """``n`` decisions per action; action ``a`` is taken with ``x`` uniform in ``[lo, hi]`` and
    its outcome is ``law(x)`` plus Gaussian noise."""
    rng = np.random.default_rng(seed)
    base = memory.clock() - 86_400
    records: list[dict[str, Any]] = []
    for k, (action, (law, lo, hi)) in enumerate(sorted(laws.items())):
        for i in range(n):
            x = float(rng.uniform(lo, hi))
            records.append(
                {
                    "ts": base + 10 * (k * n + i),
                    "session": f"s-{action}",
                    "kind": "decision",
                    "text": f"took {action} at x={x:.3f}",
                    "data": {"action": action},
                    "context": {"x": x},
                    "prediction": 0.0,
                    "outcome": law(x) + noise * float(rng.standard_normal()),
                }
            )
    return memory.record_many(records)


def set_rules(memory: Memory, rules: list[tuple[str, str, dict[str, Any]]]) -> None:
    memory.store.replace_playbook_items([Item(i, "Rules", text, params) for i, text, params in rules])


def snapshot(memory: Memory, new: list[Episode] | None = None) -> FakeSnapshot:
    return FakeSnapshot(memory.store, CYCLE, memory.embedder.name, new or [])  # type: ignore[arg-type]


def context(memory: Memory, *, seed: int = 0, config: Config | None = None) -> Context:
    return fake_context(CYCLE, memory.clock(), embedder=memory.embedder, seed=seed, config=config)
