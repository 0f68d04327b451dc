"""Opening a store from a URL: the schemes, the paths, and clear refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

import oneiro
from oneiro.errors import InvalidInput, OneiroError
from oneiro.store import SQLiteStore
from oneiro.store.factory import open_url, schemes, sqlite_path


def test_sqlite_urls_name_absolute_relative_and_memory_stores(tmp_path: Path) -> None:
    assert sqlite_path(f"sqlite://{tmp_path}/a.db") == f"{tmp_path}/a.db"  # tmp_path starts with /
    assert sqlite_path("sqlite://rel/a.db") == "rel/a.db"
    assert sqlite_path("sqlite://:memory:") == ":memory:"
    store = open_url(f"sqlite://{tmp_path}/a.db")
    try:
        assert store.schema_version() > 0 and (tmp_path / "a.db").exists()
    finally:
        store.close()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://db/agent", "available: .*sqlite://"),
        ("sqlite:///no/such/dir/agent.db", "does not exist"),
        ("sqlite://", "name a file"),
        ("sqlite:///tmp/a.db?mode=ro", "no query"),
    ],
)
def test_bad_urls_are_refused_by_name_and_create_nothing(url: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        open_url(url)
    assert not Path("/no/such/dir").exists()


def test_sqlite_is_registered() -> None:
    assert "sqlite" in schemes()


# -- oneiro.open through the factory ----------------------------------------------------------
def _options(memory: oneiro.Memory) -> tuple[str, int, bool, str]:
    store = memory.store
    assert isinstance(store, SQLiteStore)
    conn = store.db.conn()
    synchronous = int(conn.execute("PRAGMA synchronous").fetchone()[0])
    busy = int(conn.execute("PRAGMA busy_timeout").fetchone()[0])
    return store.db.synchronous, busy, store.read_only, f"{synchronous}"


def test_open_takes_a_url_and_opens_the_same_store_as_the_bare_path(tmp_path: Path) -> None:
    path = tmp_path / "agent.db"
    settings = {"store": {"synchronous": "FULL", "busy_timeout_ms": 1234}}
    with oneiro.open(f"sqlite://{path}", embedder="hashing", overrides=settings) as by_url:
        episode = by_url.record({"text": "the nightly build moved to 02:00"})
        url_options = _options(by_url)
    with oneiro.open(str(path), embedder="hashing", overrides=settings) as by_path:
        assert by_path.store.episodes([episode.id])
        assert _options(by_path) == url_options == ("FULL", 1234, False, "2")
    for target in (f"sqlite://{path}", str(path)):
        with oneiro.open(target, embedder="hashing", read_only=True) as reader:
            assert reader.store.read_only and reader.recall("nightly build", k=1)


def test_open_takes_sqlite_urls_for_relative_and_in_memory_stores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with oneiro.open("sqlite://rel.db", embedder="hashing") as memory:
        memory.record({"text": "relative"})
    assert (tmp_path / "rel.db").exists()
    for url in ("sqlite://:memory:", "sqlite:///:memory:"):
        with oneiro.open(url, embedder="hashing") as memory:
            assert memory.store.path == ":memory:"
    assert not (tmp_path / ":memory:").exists()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://db/agent", "no store for mysql:// URLs; available: .*sqlite://"),
        ("postgresql://host/db", "cannot be reached"),
        ("sqlite:///{tmp}/missing/dir/agent.db", "missing/dir does not exist"),
        ("sqlite:///{tmp}", "is a directory"),
    ],
)
def test_open_refuses_bad_urls_by_name_and_creates_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str, message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    target = url.replace("/{tmp}", str(tmp_path))
    with pytest.raises(OneiroError, match=message):
        oneiro.open(target, embedder="hashing")
    assert list(tmp_path.iterdir()) == []


def test_bare_paths_keep_their_rules(tmp_path: Path) -> None:
    """A bare path still creates its directories and may name a state directory; only a URL is
    held to an existing directory."""
    with oneiro.open(tmp_path / "new" / "dir" / "agent.db", embedder="hashing"):
        pass
    with oneiro.open(tmp_path / "home", embedder="hashing") as memory:
        assert memory.store.path == str(tmp_path / "home" / "oneiro.db")
