"""OS-level atonia: an isolated child cannot reach a server on the parent's 127.0.0.1.

The functions at the top are the children's targets, imported by name in the child process.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from loopback import CountingServer
from oneiro.errors import InvalidInput, IsolationUnavailable
from oneiro.gate import Gate, current_cycle, current_mode
from oneiro.isolation import (
    IsolatedRunFailed,
    isolation_available,
    run_in_subprocess,
    run_isolated,
)
from oneiro.store import SQLiteStore

#: Seconds a child waits for the loopback server before calling it unreachable.
CONNECT_TIMEOUT_S = 3.0


def try_connect(url: str) -> dict[str, Any]:
    try:
        with urllib.request.urlopen(url, timeout=CONNECT_TIMEOUT_S) as response:
            return {"reached": True, "status": response.status}
    except (urllib.error.URLError, OSError) as exc:
        return {"reached": False, "error": str(exc)}


def report_mode() -> dict[str, Any]:
    return {"mode": current_mode().value, "cycle": current_cycle()}


def fail(message: str) -> None:
    raise ValueError(message)


def noisy(n: int) -> int:
    print("this goes to stderr, not into the result")
    return n + 1


requires_bwrap = pytest.mark.skipif(not isolation_available()[0], reason=isolation_available()[1])


@pytest.fixture
def server() -> Iterator[CountingServer]:
    with CountingServer() as s:
        yield s


def test_plain_child_reaches_the_server(server: CountingServer) -> None:
    """The control: without isolation the same target does reach the server."""
    assert run_in_subprocess(try_connect, server.url + "/ping", timeout=60)["reached"] is True
    assert server.count() == 1


@requires_bwrap
def test_isolated_child_cannot_reach_the_parents_loopback(server: CountingServer) -> None:
    result = run_isolated(try_connect, server.url + "/ping", timeout=60)
    assert result["reached"] is False
    assert server.count() == 0


@requires_bwrap
def test_child_inherits_dream_mode(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    gate = Gate(store, lambda: 0.0)
    try:
        assert run_isolated("test_isolation:report_mode", timeout=60) == {"mode": "awake", "cycle": None}
        with gate.dreaming("c42"):
            assert run_isolated(report_mode, timeout=60) == {"mode": "dream", "cycle": "c42"}
    finally:
        store.close()


@requires_bwrap
def test_child_errors_and_output(server: CountingServer) -> None:
    with pytest.raises(IsolatedRunFailed, match="ValueError: boom"):
        run_isolated(fail, "boom", timeout=60)
    assert run_isolated("test_isolation.noisy", kwargs={"n": 1}, timeout=60) == 2


def test_missing_bubblewrap_refuses_instead_of_falling_back(server: CountingServer) -> None:
    ok, why = isolation_available("/nonexistent/bwrap")
    assert not ok and "apt-get install -y bubblewrap" in why
    with pytest.raises(IsolationUnavailable, match="without network"):
        run_isolated(try_connect, server.url, executable="/nonexistent/bwrap")
    assert server.count() == 0


def test_unimportable_targets_are_refused() -> None:
    with pytest.raises(InvalidInput, match="cannot be imported"):
        run_in_subprocess(lambda: 1)
    with pytest.raises(InvalidInput, match=r"package\.module:function"):
        run_in_subprocess(":nothing")
    with pytest.raises(InvalidInput, match="JSON"):
        run_in_subprocess(report_mode, {1, 2})
