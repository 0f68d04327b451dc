"""Shared fixtures: real SQLite stores (in memory and in temp files) with the hashing embedder,
and an isolated state directory for CLI tests."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import oneiro
from oneiro.backends import Embedder
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


Dump = dict[str, list[tuple[object, ...]]]


def dump_tables(conn: sqlite3.Connection) -> Dump:
    """Every row of every table, in order: two equal dumps mean two stores a reader cannot tell
    apart. A full-text table is dumped through its rows (content, sizes, config); its segment
    b-trees (``*_data``, ``*_idx``) are left out, since FTS5 keeps deletions as tombstones there
    until it merges, which no reader can observe."""
    rows = conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()
    virtual = [r[1] for r in rows if r[0] == "table" and str(r[2]).startswith("CREATE VIRTUAL TABLE")]
    segments = {f"{v}{suffix}" for v in virtual for suffix in ("_data", "_idx")}
    out: Dump = {"sqlite_master": [tuple(r) for r in rows]}
    for kind, name, _sql in rows:
        if kind != "table" or name.startswith("sqlite_") or name in segments:
            continue
        query = f'SELECT rowid, * FROM "{name}"' if name in virtual else f'SELECT * FROM "{name}"'
        out[name] = sorted((tuple(r) for r in conn.execute(query)), key=repr)
    return out


def dump_file(path: Path) -> Dump:
    """A dump of the store file at ``path`` through a fresh connection (sees committed data only)."""
    conn = sqlite3.connect(path)
    try:
        return dump_tables(conn)
    finally:
        conn.close()


def file_digests(path: Path) -> dict[str, str]:
    """SHA-256 of the store file and its write-ahead log (absent files map to '')."""
    out = {}
    for suffix in ("", "-wal"):
        f = Path(str(path) + suffix)
        out[f.name] = hashlib.sha256(f.read_bytes()).hexdigest() if f.exists() else ""
    return out


@pytest.fixture
def dump() -> Callable[[sqlite3.Connection], Dump]:
    return dump_tables


@pytest.fixture(scope="session")
def minilm() -> Embedder:
    """The real model, loaded once per run; skipped only where sentence-transformers is absent."""
    pytest.importorskip("sentence_transformers")
    from oneiro.backends.minilm import MiniLMEmbedder

    return MiniLMEmbedder()
