"""The store contract suite: every store implementation runs these same tests.

A store joins by adding a factory to ``FACTORIES``: a callable from a temporary directory to a
fresh, empty store. Tests use the :class:`oneiro.store.Store` protocol only, never a driver.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from oneiro.store import SQLiteStore, Store

StoreFactory = Callable[[Path], Store]

FACTORIES: dict[str, StoreFactory] = {
    "sqlite-memory": lambda _tmp: SQLiteStore(":memory:"),
    "sqlite-file": lambda tmp: SQLiteStore(tmp / "contract.db"),
}


@pytest.fixture(params=sorted(FACTORIES))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    s = FACTORIES[request.param](tmp_path)
    yield s
    s.close()


@pytest.fixture
def file_factory(tmp_path: Path) -> Callable[[], Store]:
    """Open the same file store again (for tests about several handles on one store)."""
    return lambda: SQLiteStore(tmp_path / "shared.db")
