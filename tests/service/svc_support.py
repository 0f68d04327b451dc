"""Fixtures of the service tests: a file store with the hashing embedder, a fake dream operation
a test can hold open, and the app on a real uvicorn server on 127.0.0.1. Each test module imports
them (a conftest.py here would replace the root one's module, which other tests import by name)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import oneiro
from oneiro.dream.phase import Context, Outcome, Snapshot
from oneiro.memory import Memory
from oneiro.model import Tier
from oneiro.plugins import hookimpl
from oneiro.service.app import create_app
from oneiro.service.live import LiveServer

TOKEN = "test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
#: Seconds a held operation waits for release before letting the cycle go on regardless.
HOLD_SECONDS = 30.0
#: When the episodes of :func:`day` happen (2026-02-25), so the same call records the same ids.
DAY_START = 1_772_000_000.0


class Held:
    """A REM operation that blocks until ``release()`` (so a test sees a dream while it runs)."""

    name = "held"
    tier = Tier.T0

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.released = threading.Event()

    def run(self, snap: Snapshot, ctx: Context, carry: dict[str, Any]) -> Outcome:
        self.entered.set()
        self.released.wait(HOLD_SECONDS)
        return Outcome(did={"held": 1})

    def release(self) -> None:
        self.released.set()


class HoldPlugin:
    def __init__(self, op: Held) -> None:
        self.op = op

    @hookimpl
    def register_operations(self, register: Any) -> None:
        register("rem", self.op, order=99)


def day(n: int, start: int = 0) -> list[dict[str, Any]]:
    return [
        {
            "text": f"episode {i}: the deploy of service {i % 7} took {i % 5} minutes",
            "session": f"s{i % 4}",
            "ts": DAY_START + 60.0 * i,
        }
        for i in range(start, start + n)
    ]


@pytest.fixture
def held() -> Iterator[Held]:
    op = Held()
    yield op
    op.release()


@pytest.fixture
def store_memory(tmp_path: Path, held: Held) -> Iterator[Memory]:
    m = oneiro.open(tmp_path / "store.db", embedder="hashing", plugins=[HoldPlugin(held)])
    yield m
    m.close()


@pytest.fixture
def server(store_memory: Memory, held: Held) -> Iterator[LiveServer]:
    held.release()  # dreams pass straight through unless a test holds them (held.released.clear())
    with LiveServer(create_app(store_memory, token=TOKEN)) as live:
        yield live


@pytest.fixture
def client(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30.0) as c:
        yield c
