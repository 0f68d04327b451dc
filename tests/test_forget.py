"""Forgetting: what goes, what stays, and that no forgotten text survives anywhere."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

import oneiro
from conftest import FakeClock
from oneiro.errors import InvalidInput
from oneiro.memory import Memory

SECRET = "quokkaberry"
DAY = 86_400.0


def converse(memory: Memory, clock: FakeClock) -> None:
    """Two actors in three sessions; only maya ever says the secret word."""
    for i in range(12):
        memory.record(
            {
                "text": f"maya says the vault passphrase is {SECRET} number {i % 3} for the audit",
                "actor": "maya",
                "session": f"s{i % 3}",
                "ts": clock.now + i * 60,
            }
        )
        memory.record(
            {
                "text": f"omar booked the audit room for thursday morning slot {i % 4}",
                "actor": "omar",
                "session": f"s{i % 3}",
                "ts": clock.now + i * 60 + 30,
            }
        )
    clock.advance(DAY)
    memory.dream()


def file_bytes(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


@pytest.fixture
def store_file(tmp_path: Path, clock: FakeClock) -> Path:
    path = tmp_path / "agent.db"
    with oneiro.open(path, embedder="hashing", clock=clock) as m:
        converse(m, clock)
    return path


def test_forgotten_text_is_gone_from_recall_the_file_and_the_journal(
    store_file: Path, clock: FakeClock
) -> None:
    with oneiro.open(store_file, embedder="hashing", clock=clock) as m:
        assert any(SECRET in h.item.text for h in m.recall(f"vault passphrase {SECRET}", k=20))
        before = m.status()
        report = m.forget(actor="maya")
        assert len(report.episodes) == 12 and report.removed_entries
        hits = m.recall(f"vault passphrase {SECRET}", k=50)
        assert hits and all(SECRET not in h.item.text for h in hits)
        assert all(getattr(h.item, "actor", None) != "maya" for h in hits)
        assert m.verify_journal() > 0
        assert m.status().episodes == before.episodes - 12
        omar = m.recall("who booked the audit room", k=5)
        assert any("omar" in h.item.text for h in omar)
    assert SECRET.encode() not in file_bytes(store_file)
    conn = sqlite3.connect(store_file)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("SELECT COUNT(*) FROM episodes WHERE actor = 'maya'").fetchone()[0] == 0
    assert conn.execute("SELECT COUNT(*) FROM episodes WHERE actor = 'omar'").fetchone()[0] == 12


def test_a_dry_run_lists_what_would_go_and_writes_nothing(store_file: Path, clock: FakeClock) -> None:
    before = file_bytes(store_file)
    with oneiro.open(store_file, embedder="hashing", clock=clock) as m:
        dry = m.forget(session="s1", dry_run=True)
        assert dry.episodes and not set(dry.episodes) & {e for e in dry.removed_entries}
        assert m.status().episodes == 24
    conn = sqlite3.connect(store_file)
    assert conn.execute("SELECT COUNT(*) FROM episodes").fetchone()[0] == 24
    conn.close()
    assert SECRET.encode() in before


def test_entries_with_other_sources_are_trimmed_not_removed(memory: Memory, clock: FakeClock) -> None:
    a = memory.record(
        {"text": "the staging bucket lives in eu-west-1", "actor": "ana", "session": "x", "ts": clock.now}
    )
    b = memory.record(
        {
            "text": "the staging bucket lives in eu-west-1 region",
            "actor": "ben",
            "session": "y",
            "ts": clock.now + 5,
        }
    )
    clock.advance(DAY)
    memory.dream()
    citing_both = [
        e
        for e in memory.store.entries(sorted(memory.store.forget_citing([a.id]))).values()
        if b.id in e.sources
    ]
    memory.forget([a.id])
    kept = memory.store.entries([e.id for e in citing_both])
    for entry in kept.values():
        assert a.id not in entry.sources and b.id in entry.sources
    assert memory.store.episodes([a.id]) == {}
    assert memory.store.episodes([b.id])


def test_forget_needs_a_selector_and_refuses_empty_names(memory: Memory) -> None:
    with pytest.raises(InvalidInput):
        memory.forget()
    with pytest.raises(InvalidInput):
        memory.forget(actor="  ")


def test_forgetting_nothing_that_exists_changes_nothing(memory: Memory) -> None:
    memory.record({"text": "hello there", "actor": "a"})
    plan = memory.forget(actor="nobody")
    assert plan.empty and memory.status().episodes == 1
    assert not memory.journal(kind="forgotten")


def test_episodes_stay_undeletable_outside_forget(store_file: Path) -> None:
    conn = sqlite3.connect(store_file)
    with pytest.raises(sqlite3.IntegrityError, match="never deleted"):
        conn.execute("DELETE FROM episodes")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("""UPDATE journal SET payload = '{"_forgotten":true}' WHERE seq = 1""")


def test_a_record_blanked_behind_forgets_back_fails_verification(store_file: Path, clock: FakeClock) -> None:
    conn = sqlite3.connect(store_file, isolation_level=None)
    conn.execute("BEGIN")
    conn.execute("INSERT INTO meta (key, value) VALUES ('forgetting', '1')")
    conn.execute("""UPDATE journal SET payload = '{"_forgotten":true}' WHERE seq = 2""")
    conn.execute("DELETE FROM meta WHERE key = 'forgetting'")
    conn.execute("COMMIT")
    conn.close()
    with (
        oneiro.open(store_file, embedder="hashing", clock=clock) as m,
        pytest.raises(oneiro.OneiroError, match="blanked"),
    ):
        m.verify_journal()


def test_forget_is_refused_while_a_cycle_holds_the_lease_and_holds_it_while_it_works(
    store_file: Path, clock: FakeClock
) -> None:
    import os
    import socket
    import time

    with oneiro.open(store_file, embedder="hashing", clock=clock) as m:
        host = socket.gethostname()
        assert m.store.lease_acquire("c-busy", host, os.getpid(), time.time(), 600.0)[0]
        with pytest.raises(InvalidInput, match=r"already dreaming: .*c-busy"):
            m.forget(actor="maya")
        assert m.status().episodes == 24
        assert m.store.lease_release("c-busy")
        m.forget(actor="maya")
        assert m.store.lease_holder() is None and m.status().episodes == 12
