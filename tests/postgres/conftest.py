"""PostgreSQL tests share the session's server (:mod:`pgtest`): each test makes its own agents,
so tests never see each other's rows."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from oneiro.store.postgres import PostgresStore
from pgtest import agent_url


@pytest.fixture
def open_pg() -> Iterator[Callable[..., PostgresStore]]:
    """Open PostgreSQL stores (a fresh agent unless a URL is given), all closed at the end."""
    opened: list[PostgresStore] = []

    def make(url: str | None = None, **kw: object) -> PostgresStore:
        store = PostgresStore(url or agent_url(), **kw)  # type: ignore[arg-type]
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()
