"""Versioned adapters beside the store, blue-green: one active, candidates staged, one-step swaps.

Layout under ``<state dir>/adapters/``: one folder per version (``v0001``...) holding
``adapter.safetensors`` and ``meta.json`` (its sha256, base, cost, probe verdict), and ``active.json``
(the active version and the ones before it, for rollback). Every stage, promotion and rollback is
journaled with the adapter's sha256. Invariants: the active pointer changes only by an atomic
file replace (``os.replace``), so a crash leaves the old or the new pointer, never half of one; a
candidate whose probes failed is never promoted; an adapter whose bytes no longer match the hash
recorded when it was staged is refused (AdapterCorrupt) and never served.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from oneiro.errors import InvalidInput, StoreError
from oneiro.train.trainer import Adapter

ADAPTERS_DIR = "adapters"
WEIGHTS_FILE = "adapter.safetensors"
META_FILE = "meta.json"
ACTIVE_FILE = "active.json"

Journal = Callable[[str, dict[str, Any]], None]


class AdapterCorrupt(StoreError):
    """An adapter file whose sha256 differs from the one recorded when it was staged."""


class AdapterRefused(InvalidInput):
    """An unknown version, or a candidate that did not pass its probes."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def prune(weights: Mapping[str, Any], fraction: float) -> dict[str, Any]:
    """Magnitude pruning: in each tensor, zero the ``fraction`` of entries smallest in |value|."""
    import torch

    if not 0.0 <= fraction < 1.0:
        raise InvalidInput(f"must be in [0, 1), got {fraction}", field="prune_fraction")
    out: dict[str, Any] = {}
    for name, tensor in weights.items():
        k = int(tensor.numel() * fraction)
        if k == 0:
            out[name] = tensor.clone()
            continue
        threshold = tensor.abs().flatten().kthvalue(k).values
        out[name] = torch.where(tensor.abs() <= threshold, torch.zeros_like(tensor), tensor)
    return out


def nonzero(weights: Mapping[str, Any]) -> int:
    return sum(int((t != 0).sum()) for t in weights.values())


@dataclass(frozen=True)
class Version:
    name: str
    sha256: str
    meta: dict[str, Any]

    @property
    def passed(self) -> bool:
        return bool(self.meta.get("verdict", {}).get("passed"))


class AdapterStore:
    """The adapters of one state directory."""

    def __init__(self, state_dir: Path, journal: Journal) -> None:
        self.root = Path(state_dir) / ADAPTERS_DIR
        self.journal = journal

    def versions(self) -> list[Version]:
        if not self.root.is_dir():
            return []
        found = []
        for folder in sorted(p for p in self.root.iterdir() if p.is_dir() and (p / META_FILE).is_file()):
            meta = json.loads((folder / META_FILE).read_text())
            found.append(Version(folder.name, str(meta["sha256"]), meta))
        return found

    def version(self, name: str) -> Version:
        for v in self.versions():
            if v.name == name:
                return v
        raise AdapterRefused(f"no adapter version '{name}'; see `oneiro model status`", field="version")

    def stage(self, adapter: Adapter, verdict: Mapping[str, Any], *, cycle_id: str | None = None) -> Version:
        """Write a candidate (never active on its own) and journal its hash."""
        from safetensors.torch import save_file

        names = [v.name for v in self.versions()]
        name = f"v{len(names) + 1:04d}"
        folder = self.root / name
        folder.mkdir(parents=True, exist_ok=False)
        save_file({k: v.contiguous() for k, v in adapter.weights.items()}, str(folder / WEIGHTS_FILE))
        sha = sha256_file(folder / WEIGHTS_FILE)
        meta = {
            "sha256": sha,
            "base": adapter.base,
            "steps": adapter.steps,
            "seconds": adapter.seconds,
            "settings": dict(adapter.settings),
            "verdict": dict(verdict),
            "cycle_id": cycle_id,
            "nonzero": nonzero(adapter.weights),
        }
        _write_atomic(folder / META_FILE, meta)
        self.journal("adapter_staged", {"version": name, "sha256": sha, "verdict": dict(verdict)})
        return Version(name, sha, meta)

    def load(self, name: str) -> Adapter:
        """The adapter's tensors, after checking its bytes against the recorded hash."""
        from safetensors.torch import load_file

        version = self.version(name)
        path = self.root / name / WEIGHTS_FILE
        if not path.is_file() or sha256_file(path) != version.sha256:
            raise AdapterCorrupt(
                f"adapter {name} does not match its recorded sha256 {version.sha256[:12]}; it is refused. "
                "Roll back (`oneiro model rollback`) or train a new candidate"
            )
        meta = version.meta
        return Adapter(
            load_file(str(path)),
            int(meta["steps"]),
            float(meta["seconds"]),
            str(meta["base"]),
            dict(meta["settings"]),
        )

    def _pointer(self) -> dict[str, Any]:
        path = self.root / ACTIVE_FILE
        if not path.is_file():
            return {"active": None, "previous": []}
        data: dict[str, Any] = json.loads(path.read_text())
        return data

    def active(self) -> str | None:
        value = self._pointer()["active"]
        return None if value is None else str(value)

    def active_adapter(self) -> Adapter | None:
        name = self.active()
        return None if name is None else self.load(name)

    def promote(self, name: str | None = None) -> Version:
        """Make a passed candidate active in one step (the newest passed one by default)."""
        version = self.version(name) if name else self._newest_passed()
        if not version.passed:
            raise AdapterRefused(f"adapter {version.name} did not pass its probes; it stays a candidate")
        self.load(version.name)  # refuses a corrupted file before it can serve
        pointer = self._pointer()
        previous = (
            [*pointer["previous"], pointer["active"]] if pointer["active"] else list(pointer["previous"])
        )
        self._swap({"active": version.name, "previous": previous})
        self.journal(
            "adapter_promoted",
            {"version": version.name, "sha256": version.sha256, "replaced": pointer["active"]},
        )
        return version

    def rollback(self) -> str | None:
        """Back to the adapter active before this one (none: the base model alone)."""
        pointer = self._pointer()
        if pointer["active"] is None:
            raise AdapterRefused("no active adapter to roll back")
        previous = list(pointer["previous"])
        back = previous.pop() if previous else None
        self._swap({"active": back, "previous": previous})
        self.journal("adapter_rolled_back", {"from": pointer["active"], "to": back})
        return back

    def _newest_passed(self) -> Version:
        active = self.active()
        for v in reversed(self.versions()):
            if v.passed and v.name != active:
                return v
        raise AdapterRefused("no candidate adapter has passed its probes")

    def _swap(self, pointer: dict[str, Any]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        _write_atomic(self.root / ACTIVE_FILE, pointer)


def _write_atomic(path: Path, value: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(value, sort_keys=True, indent=1))
    os.replace(tmp, path)


def for_memory(memory: Any) -> AdapterStore:
    """The adapters beside an open :class:`oneiro.Memory`, journaling into its store."""

    def journal(kind: str, payload: dict[str, Any]) -> None:
        memory.store.journal_append(memory.clock(), kind, payload)

    return AdapterStore(memory.config.state_dir, journal)
