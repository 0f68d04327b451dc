"""The store contract suite: every store implementation runs these same tests.

A store joins by adding a factory to ``FACTORIES``: a callable from a temporary directory to a
fresh, empty store. Tests use the :class:`oneiro.store.Store` protocol only, never a driver.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from oneiro.store import SQLiteStore, Store
from pgtest import agent_url

StoreFactory = Callable[[Path], Store]


def _postgres(_tmp: Path) -> Store:
    from oneiro.store.factory import open_url

    return open_url(agent_url())


FACTORIES: dict[str, StoreFactory] = {
    "sqlite-memory": lambda _tmp: SQLiteStore(":memory:"),
    "sqlite-file": lambda tmp: SQLiteStore(tmp / "contract.db"),
    "postgresql": _postgres,
}


@pytest.fixture(params=sorted(FACTORIES))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    s = FACTORIES[request.param](tmp_path)
    yield s
    s.close()


@pytest.fixture(params=["sqlite-file", "postgresql"])
def file_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], Store]:
    """Open the same store again (for tests about several handles on one store)."""
    if request.param == "postgresql":
        from oneiro.store.factory import open_url

        url = agent_url()
        return lambda: open_url(url)
    return lambda: SQLiteStore(tmp_path / "shared.db")
