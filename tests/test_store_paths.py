"""Where a store lives: what a path names is decided by what is on disk, then by its suffix; a file
that is not an oneiro store is refused untouched; a read-only store opens for reading."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

import oneiro
from conftest import FakeClock
from oneiro.config import locate
from oneiro.errors import NotAStore, StorePathError, StoreReadOnly


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("name", ["memory.sqlite", "m.SQLITE3", "x.db3", "Agent.DB", "plain.db"])
def test_a_new_path_with_a_sqlite_suffix_is_a_store_file(tmp_path: Path, name: str) -> None:
    with oneiro.open(tmp_path / name, embedder="hashing") as memory:
        memory.record({"text": "kept"})
    assert (tmp_path / name).is_file()
    with oneiro.open(tmp_path / name, embedder="hashing") as memory:
        assert memory.store.episode_count() == 1


def test_an_existing_store_file_of_any_name_opens_as_a_store(tmp_path: Path) -> None:
    with oneiro.open(tmp_path / "first.db", embedder="hashing") as memory:
        memory.record({"text": "kept"})
    (tmp_path / "first.db").rename(tmp_path / "agent-memory")
    with oneiro.open(tmp_path / "agent-memory", embedder="hashing") as memory:
        assert memory.store.episode_count() == 1


def test_a_new_path_without_a_suffix_and_an_existing_directory_are_state_directories(tmp_path: Path) -> None:
    assert locate(tmp_path / "state").state_dir == tmp_path / "state"
    (tmp_path / "odd.db").mkdir()
    assert locate(tmp_path / "odd.db").store == str(tmp_path / "odd.db" / "oneiro.db")


def test_a_foreign_sqlite_database_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "crm.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    conn.execute("INSERT INTO customers (name) VALUES ('Ada')")
    conn.commit()
    conn.close()
    before = digest(path)
    with pytest.raises(NotAStore, match=r"not an oneiro store.*customers"):
        oneiro.open(path, embedder="hashing")
    assert digest(path) == before
    assert [r[0] for r in sqlite3.connect(path).execute("SELECT name FROM sqlite_master")] == ["customers"]


def test_a_file_that_is_not_sqlite_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("meeting notes, not a database\n" * 20)
    before = digest(path)
    with pytest.raises(NotAStore, match="not a SQLite database"):
        oneiro.open(path, embedder="hashing")
    assert digest(path) == before and sorted(p.name for p in tmp_path.iterdir()) == ["notes.db"]


@pytest.mark.parametrize("target", ["/dev/null", "file-as-parent"])
def test_a_device_or_a_path_under_a_file_is_a_store_path_error(tmp_path: Path, target: str) -> None:
    (tmp_path / "f").write_text("x")
    path = Path("/dev/null") if target == "/dev/null" else tmp_path / "f" / "state"
    with pytest.raises(StorePathError):
        oneiro.open(path, embedder="hashing")


def test_a_read_only_open_reads_and_refuses_every_write(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with oneiro.open(path, embedder="hashing", clock=FakeClock()) as memory:
        memory.record({"text": "the deploy failed on staging"})
    before = digest(path)
    with oneiro.open(path, embedder="hashing", read_only=True) as memory:
        assert memory.status().read_only is True
        assert memory.recall("deploy")[0].item.text == "the deploy failed on staging"
        with pytest.raises(StoreReadOnly, match="read-only"):
            memory.record({"text": "new"})
        with pytest.raises(StoreReadOnly):
            memory.dream()
    assert digest(path) == before


def test_a_read_only_open_of_a_missing_store_creates_nothing(tmp_path: Path) -> None:
    with pytest.raises(StorePathError, match="no store"):
        oneiro.open(tmp_path / "absent.db", embedder="hashing", read_only=True)
    assert not list(tmp_path.iterdir())


@contextmanager
def immutable(*paths: Path) -> Iterator[None]:
    """Make paths immutable at the OS level (chattr +i), which even root cannot write."""
    if shutil.which("chattr") is None:
        pytest.skip("chattr is not available")
    done = subprocess.run(["chattr", "+i", *map(str, paths)], capture_output=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"this filesystem has no immutable attribute: {done.stderr.decode().strip()}")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", *map(str, paths)], check=True)


@pytest.mark.parametrize("what", ["file", "directory"])
def test_a_store_the_os_will_not_let_us_write_opens_read_only(tmp_path: Path, what: str) -> None:
    home = tmp_path / "home"
    with oneiro.open(home, embedder="hashing", clock=FakeClock()) as memory:
        memory.record({"text": "Maya moved the nightly build"})
    store = home / "oneiro.db"
    before = digest(store)
    with immutable(store if what == "file" else home), oneiro.open(home, embedder="hashing") as memory:
        assert memory.store.read_only
        assert memory.status().episodes == 1
        assert memory.recall("nightly build")[0].item.text == "Maya moved the nightly build"
        with pytest.raises(StoreReadOnly, match="is not writable"):
            memory.record({"text": "more"})
    assert digest(store) == before
