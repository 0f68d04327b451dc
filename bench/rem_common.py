"""Shared setup of the REM benchmarks: a real in-memory store, the cycle's snapshot over it and a
context, so one REM operation can be run and measured outside a full cycle."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

import oneiro
from oneiro.config import Config
from oneiro.dream.phase import Context
from oneiro.dream.snapshot import StoreSnapshot
from oneiro.memory import Memory
from oneiro.model import Episode

RESULTS = Path("bench/results")
START = 1_772_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


class Unlimited:
    seconds = 1e9
    tokens = 0

    def exhausted(self) -> bool:
        return False

    def spend_tokens(self, n: int) -> None:
        return None


def open_memory() -> tuple[Memory, Clock]:
    clock = Clock()
    return oneiro.open(":memory:", embedder="hashing", clock=clock), clock


def snapshot(memory: Memory, new: Sequence[Episode], cycle: str = "c-bench") -> StoreSnapshot:
    store = memory.store
    return StoreSnapshot(store, cycle, tuple(new), store.episode_max_rowid(), memory.embedder.name)  # type: ignore[arg-type]


def context(memory: Memory, seed: int, config: Config | None = None, cycle: str = "c-bench") -> Context:
    return Context(
        cycle_id=cycle,
        now=memory.clock(),
        rng=np.random.default_rng(seed),
        embedder=memory.embedder,
        config=config or Config(),
        budget=Unlimited(),
    )


def write(name: str, result: dict[str, Any]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if not isinstance(v, list)}, indent=2))
