"""SQLite's failures a user can meet (a full disk, a lock held past the busy timeout, a closed
store) reach the caller as StoreError leaves saying what to do, change nothing, and never reach a
CLI user as a traceback."""

from __future__ import annotations

import inspect
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from contract.test_store_contract import episode
from oneiro.errors import StoreError
from oneiro.model import Episode
from oneiro.store import SQLiteStore
from oneiro.store.evidence import EvidenceRow
from oneiro.store.protocol import Dispatch
from test_cli_input import jsonl, one_line_error, run

#: A short busy timeout, so a held lock fails the test quickly rather than after a minute.
BUSY_MS = 50


def episodes(n: int, prefix: str = "note") -> list[Episode]:
    return [episode(f"{prefix} {i} " + "x" * 2_000, ts=1_700_000_000.0 + i) for i in range(n)]


def add(store: SQLiteStore, batch: list[Episode]) -> list[bool]:
    matrix = np.random.default_rng(0).standard_normal((len(batch), 8)).astype(np.float32)
    return store.add_episodes(batch, matrix, "m", [""] * len(batch))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    s = SQLiteStore(tmp_path / "agent.db", busy_timeout_ms=BUSY_MS)
    add(s, episodes(2))
    yield s
    s.close()


def fill_disk(store: SQLiteStore) -> None:
    """Cap the file at its current size (this thread's connection), as a full disk would."""
    conn = store.db.conn()
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")


@pytest.fixture
def locked(tmp_path: Path, store: SQLiteStore) -> Iterator[sqlite3.Connection]:
    """Another connection holding the store's write lock (BEGIN EXCLUSIVE) until the test ends."""
    other = sqlite3.connect(tmp_path / "agent.db", isolation_level=None, timeout=0)
    other.execute("BEGIN EXCLUSIVE")
    yield other
    other.execute("ROLLBACK")
    other.close()


WRITES: dict[str, Callable[[SQLiteStore], Any]] = {
    "add_episodes": lambda s: add(s, episodes(50, "more")),
    "put_meta": lambda s: s.put_meta("k", "v" * 100_000),
    "journal_append": lambda s: s.journal_append(1.0, "note", {"text": "y" * 100_000}),
    "record_dispatch": lambda s: s.record_dispatch(
        Dispatch(1.0, "awake", "p", "effectful", "ok", "h", "{}" * 50_000, None, None, None)
    ),
    "add_evidence": lambda s: s.add_evidence(EvidenceRow("e", "x", 1, 1.0, "a")),
}


def test_a_full_disk_is_a_store_error_that_says_so_and_keeps_nothing(store: SQLiteStore) -> None:
    before = store.episode_count()
    fill_disk(store)
    with pytest.raises(StoreError, match="disk is full; free some space"):
        add(store, episodes(50, "more"))
    assert store.episode_count() == before
    assert store.journal_read() == []


@pytest.mark.parametrize("write", sorted(WRITES))
def test_a_lock_held_past_the_busy_timeout_is_a_store_error_for_every_write(
    store: SQLiteStore, locked: sqlite3.Connection, write: str
) -> None:
    with pytest.raises(StoreError, match=r"busy.*busy timeout.*try again") as caught:
        WRITES[write](store)
    assert isinstance(caught.value.__cause__, sqlite3.OperationalError)


def test_the_lock_released_the_same_store_writes_again(store: SQLiteStore, tmp_path: Path) -> None:
    other = sqlite3.connect(tmp_path / "agent.db", isolation_level=None, timeout=0)
    other.execute("BEGIN EXCLUSIVE")
    with pytest.raises(StoreError):
        store.put_meta("k", "v")
    other.execute("ROLLBACK")
    other.close()
    store.put_meta("k", "v")
    assert store.get_meta("k") == "v"


def test_a_read_of_a_damaged_file_is_a_store_error(tmp_path: Path) -> None:
    """A read path, not only writes: pages damaged on disk under an open store."""
    path = tmp_path / "agent.db"
    writer = SQLiteStore(path)
    add(writer, episodes(40))
    writer.close()
    reader = SQLiteStore(path)
    page = reader.db.conn().execute("PRAGMA page_size").fetchone()[0]
    reader.close()
    with path.open("r+b") as handle:
        handle.seek(page * 3)
        handle.write(b"\xff" * page * 20)
    damaged = SQLiteStore(path)
    try:
        with pytest.raises(StoreError, match=r"corrupt|not a SQLite database"):
            damaged.episodes_since(0)
    finally:
        damaged.close()


def test_a_closed_connection_is_a_store_error_not_a_driver_error(store: SQLiteStore) -> None:
    mapped = store.db.translate(sqlite3.ProgrammingError("Cannot operate on a closed database."))
    assert isinstance(mapped, StoreError) and "open it again" in str(mapped)


def test_every_public_store_method_translates_driver_errors() -> None:
    """The mapping is applied by construction: a method added later cannot forget it."""
    public = [
        name
        for name, value in inspect.getmembers(SQLiteStore, inspect.isfunction)
        if not name.startswith("_")
    ]
    assert len(public) > 60
    assert [n for n in public if not hasattr(getattr(SQLiteStore, n), "__wrapped__")] == []


def test_a_defect_still_propagates_as_it_is(store: SQLiteStore) -> None:
    """Only failures a user can fix are translated: SQL the store got wrong stays a driver error."""
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        store.db.conn().execute("SELECT * FROM no_such_table")
    translated = store.db.translate(sqlite3.OperationalError("no such table: x"))
    assert translated is None


def test_a_locked_store_in_the_cli_is_one_line_and_exit_2(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run(monkeypatch, "init")[0] == 0
    config = home / "oneiro.toml"
    config.write_text(config.read_text(encoding="utf-8") + f"\n[store]\nbusy_timeout_ms = {BUSY_MS}\n")
    assert run(monkeypatch, "record", "-", stdin=jsonl([{"text": "first note"}]))[0] == 0
    other = sqlite3.connect(home / "oneiro.db", isolation_level=None, timeout=0)
    other.execute("BEGIN EXCLUSIVE")
    try:
        code, out = run(monkeypatch, "record", "-", stdin=jsonl([{"text": "second note"}]))
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert code == 2 and one_line_error(out), out
    assert "busy" in out and "try again" in out
