"""A local Ray cluster for the fleet tests: started once per session on this machine (loopback,
no dashboard), its workers importing this oneiro, and shut down at the end. Where Ray is missing
the Ray tests are skipped, saying so, except in CI (``CI=true``), where that is a failure."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import oneiro

#: Workers of the local cluster: the machine's cores, as a cycle is one core's work.
RAY_CPUS = 2
#: Ray's shared object store, kept small: tasks pass only small outcome rows.
OBJECT_STORE_BYTES = 80 * 1024 * 1024


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[Any]:
    try:
        import ray
    except ImportError as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI needs the fleet tests: install oneiro[fleet] ({exc})")
        pytest.skip(f"ray is not installed ({exc})")
    # This oneiro, and the tests (whose callables the tasks unpickle by module name).
    paths = [str(Path(oneiro.__file__).resolve().parents[1]), str(Path(__file__).resolve().parents[1])]
    ray.init(
        num_cpus=RAY_CPUS,
        include_dashboard=False,
        object_store_memory=OBJECT_STORE_BYTES,
        log_to_driver=False,
        _node_ip_address="127.0.0.1",
        runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join(paths), "HF_HUB_OFFLINE": "1"}},
    )
    try:
        yield ray
    finally:
        ray.shutdown()
