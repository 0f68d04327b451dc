"""Opening a store from a URL: the schemes, the paths, and clear refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from oneiro.errors import InvalidInput
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
        ("mysql://db/agent", "available: sqlite://"),
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
