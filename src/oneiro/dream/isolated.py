"""A dream in a separate process with no network: atonia at the OS level.

``Memory.dream(isolate=True)`` runs :func:`dream_in_child` through
:func:`oneiro.isolation.run_isolated`, so even a pipeline that lies about its effect class cannot
reach the network while the cycle runs. The child opens the same store file with the same
configuration and returns the cycle's report as JSON.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from oneiro.config import load_config


def dream_in_child(store_path: str, state_dir: str, reason: str) -> dict[str, Any]:
    """Entry point run inside the sandbox."""
    from oneiro.memory import open_memory

    config = load_config(Path(state_dir))
    with open_memory(store_path, config=config) as memory:
        return memory.dream(reason=reason).to_dict()
