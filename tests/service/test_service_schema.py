"""schemathesis against the published OpenAPI schema: generated valid and invalid requests at
every operation never get a 5xx, and every response is one the schema documents. (The case count
of a long run is a benchmark figure: bench/service_schemathesis.py.)"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from svc_support import TOKEN, held, server, store_memory  # noqa: F401

from oneiro import demo
from oneiro.memory import Memory
from oneiro.service.live import LiveServer

try:
    import schemathesis  # noqa: F401
except ImportError:  # pragma: no cover - the service-test extra is missing
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        raise
    pytest.skip("schemathesis is not installed (the service-test extra)", allow_module_level=True)
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


def test_generated_requests_never_get_a_server_error(
    server: LiveServer, store_memory: Memory, tmp_path: Path
) -> None:
    store_memory.record_many(demo.episodes())
    store_memory.dream()
    command = [
        sys.executable, "-m", "schemathesis.cli", "run", f"{server.url}/openapi.json",
        "--checks", CHECKS, "--exclude-path", "/v1/events", "-H", f"Authorization: Bearer {TOKEN}",
        "--phases", "coverage,fuzzing", "--max-examples", "2", "--seed", "7", "--no-color",
    ]  # fmt: skip
    out = subprocess.run(command, capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert out.returncode == 0, out.stdout[-4000:]
    assert "generated" in out.stdout
    assert server.thread.is_alive()
