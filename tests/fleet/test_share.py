"""Sharing between related agents: only what the sender validated, staged again in the receiver
at lower confidence with its origin, once, and never echoed back."""

from __future__ import annotations

from pathlib import Path

import pytest

import oneiro
from oneiro import demo
from oneiro.fleet import share as sharing
from oneiro.memory import Memory
from oneiro.model import EntryStatus
from oneiro.store.query import EntryQuery


@pytest.fixture
def sender(home: Path) -> Path:
    path = home / "sender.db"
    clock = demo.ScenarioClock()
    with oneiro.open(str(path), embedder="hashing", clock=clock) as memory:
        assert demo.run(memory, say=lambda _line: None, clock=clock).validated
    return path


def _share(a: Memory, b: Memory, sender: str = "a", receiver: str = "b") -> sharing.Shared:
    return sharing.share(sender, a.store, receiver, b.store, 5.0, b.embedder.name, b.embedder.embed)


def test_validated_entries_enter_the_receiver_staged_low_with_their_origin(sender: Path, home: Path) -> None:
    with (
        oneiro.open(str(sender), embedder="hashing") as a,
        oneiro.open(str(home / "b.db"), embedder="hashing") as b,
    ):
        b.record({"text": "the receiver's own day", "ts": 1.77e9})
        validated = {e.id: e for e in a.store.entries_matching(EntryQuery(statuses=(EntryStatus.VALIDATED,)))}
        done = _share(a, b)
        assert done.offered == done.staged == len(sharing.shareable(a.store)) > 0
        got = [e for e in b.store.entries_matching(EntryQuery()) if sharing.ORIGIN_KEY in e.data]
        assert len(got) == done.staged
        for entry in got:
            origin = entry.data[sharing.ORIGIN_KEY]
            assert origin["agent"] == "a" and origin["entry"] in validated
            assert entry.sources[0] == origin["entry"]
            assert (entry.status, entry.confidence) == (EntryStatus.STAGED, sharing.SHARED_CONFIDENCE)
            assert b.store.evidence_grounds(entry.id).episodes == frozenset()  # none of B's evidence
        assert _share(a, b).staged == 0  # staged once


def test_unvalidated_and_received_entries_are_never_shared(sender: Path, home: Path) -> None:
    with (
        oneiro.open(str(sender), embedder="hashing") as a,
        oneiro.open(str(home / "b.db"), embedder="hashing") as b,
    ):
        others = [e for e in a.store.entries_matching(EntryQuery()) if e.status != EntryStatus.VALIDATED]
        assert others and not {e.id for e in others} & {e.id for e in sharing.shareable(a.store)}
        _share(a, b)
        for entry in b.store.entries_matching(EntryQuery()):
            b.store.update_entry(entry.id, {"status": EntryStatus.VALIDATED})
        assert _share(b, a, "b", "a").offered == 0  # what B received, B cannot pass back


def test_pairs_are_every_ordered_pair_within_a_group() -> None:
    assert sharing.share_within([("a", "b", "c"), ("c", "d")]) == [
        ("a", "b"),
        ("a", "c"),
        ("b", "a"),
        ("b", "c"),
        ("c", "a"),
        ("c", "b"),
        ("c", "d"),
        ("d", "c"),
    ]
