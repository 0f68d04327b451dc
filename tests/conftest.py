"""Shared fixtures: real SQLite stores (in memory and in temp files) with the hashing embedder,
and an isolated state directory for CLI tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import oneiro
from oneiro.memory import Memory


class FakeClock:
    """A settable clock: tests move time explicitly."""

    def __init__(self, start: float = 1_772_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def memory(clock: FakeClock) -> Iterator[Memory]:
    m = oneiro.open(":memory:", embedder="hashing", clock=clock)
    yield m
    m.close()


@pytest.fixture
def file_memory(tmp_path: Path, clock: FakeClock) -> Iterator[Memory]:
    m = oneiro.open(tmp_path / "store.db", embedder="hashing", clock=clock)
    yield m
    m.close()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "home"
    monkeypatch.setenv("ONEIRO_HOME", str(root))
    root.mkdir()
    (root / "oneiro.toml").write_text('[embedder]\nname = "hashing"\n', encoding="utf-8")
    return root
