"""A cycle whose lease could not be given back (the disk was full at its last write) must not lock
its own process out: once space is back, the next ``dream()`` runs instead of being refused with
CycleRunning naming the dead cycle until the lease's ttl lapses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import oneiro
from oneiro.errors import StoreError


def test_a_failed_lease_release_does_not_refuse_the_next_cycle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with oneiro.open(tmp_path / "store.db", embedder="hashing") as memory:
        memory.record_many([{"text": f"note {i} about the deploy"} for i in range(5)])
        real = memory.store.lease_release
        calls: list[str] = []

        def full_once(cycle_id: str, *args: Any) -> Any:
            calls.append(cycle_id)
            if len(calls) == 1:
                raise StoreError("cannot grow: the disk is full; free some space and try again")
            return real(cycle_id, *args)

        monkeypatch.setattr(memory.store, "lease_release", full_once)
        with pytest.raises(StoreError):
            memory.dream()
        first = calls[0]
        assert memory.store.lease_holder() is not None  # the row still names the ended cycle
        report = memory.dream()  # space is back
        assert report.status == "completed" and report.cycle_id != first
        assert memory.store.lease_holder() is None
