"""The journal's hash chain: append, verify, and tampering an attacker with SQL access could do."""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from oneiro.errors import JournalCorrupt
from oneiro.store import SQLiteStore, journal


@pytest.fixture
def store() -> Iterator[SQLiteStore]:
    s = SQLiteStore(":memory:")
    for i in range(1, 6):
        s.journal_append(1000.0 + i, "phase", {"n": i, "note": f"record {i}"}, cycle_id="c1", phase="nrem")
    yield s
    s.close()


def tamper(store: SQLiteStore, *sql: str) -> None:
    """What an attacker with the file would do: drop the guards, then rewrite rows."""
    conn = store.db.conn()
    conn.execute("DROP TRIGGER IF EXISTS journal_append_only")
    conn.execute("DROP TRIGGER IF EXISTS journal_undeletable")
    for statement in sql:
        conn.execute(statement)


def test_append_chains_records_and_verify_counts_them(store: SQLiteStore) -> None:
    records = store.journal_read()
    assert [r.seq for r in records] == [1, 2, 3, 4, 5]
    assert records[0].prev_hash == journal.GENESIS
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(records))
    assert records[2].payload == {"n": 3, "note": "record 3"}
    assert store.journal_verify() == 5
    assert [r.seq for r in store.journal_read(after_seq=3)] == [4, 5]
    assert store.journal_read(kind="other") == []


def test_empty_journal_verifies() -> None:
    with_nothing = SQLiteStore(":memory:")
    assert with_nothing.journal_verify() == 0
    with_nothing.close()


def test_the_store_refuses_updates_and_deletes(store: SQLiteStore) -> None:
    conn = store.db.conn()
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE journal SET kind = 'x' WHERE seq = 2")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM journal WHERE seq = 5")
    assert store.journal_verify() == 5


def test_an_edited_payload_is_found(store: SQLiteStore) -> None:
    tamper(store, """UPDATE journal SET payload = '{"n":3,"note":"nothing happened"}' WHERE seq = 3""")
    with pytest.raises(JournalCorrupt, match="altered") as err:
        store.journal_verify()
    assert err.value.seq == 3


def test_an_edited_time_is_found(store: SQLiteStore) -> None:
    tamper(store, "UPDATE journal SET ts = ts + 1 WHERE seq = 4")
    with pytest.raises(JournalCorrupt) as err:
        store.journal_verify()
    assert err.value.seq == 4


def test_an_edit_with_a_recomputed_hash_breaks_the_next_link(store: SQLiteStore) -> None:
    row = store.db.conn().execute("SELECT * FROM journal WHERE seq = 2").fetchone()
    payload = '{"n":2,"note":"forged"}'
    sha = journal.body_digest(payload)
    forged = journal._digest(
        2, row["ts"], row["cycle_id"], row["phase"], row["kind"], "sha256:" + sha, row["prev_hash"]
    )
    tamper(
        store,
        f"UPDATE journal SET payload = '{payload}', body_sha = '{sha}', hash = '{forged}' WHERE seq = 2",
    )
    with pytest.raises(JournalCorrupt, match="does not follow") as err:
        store.journal_verify()
    assert err.value.seq == 3


def test_a_dropped_middle_record_is_found(store: SQLiteStore) -> None:
    tamper(store, "DELETE FROM journal WHERE seq = 3")
    with pytest.raises(JournalCorrupt, match="missing") as err:
        store.journal_verify()
    assert err.value.seq == 3


def test_a_dropped_middle_record_renumbered_is_found(store: SQLiteStore) -> None:
    tamper(
        store,
        "DELETE FROM journal WHERE seq = 3",
        "UPDATE journal SET seq = seq - 1 WHERE seq > 3",
    )
    with pytest.raises(JournalCorrupt) as err:
        store.journal_verify()
    assert err.value.seq == 3


@pytest.mark.parametrize("dropped", [1, 2])
def test_a_dropped_tail_is_found(store: SQLiteStore, dropped: int) -> None:
    tamper(store, f"DELETE FROM journal WHERE seq > {5 - dropped}")
    with pytest.raises(JournalCorrupt, match="dropped from the end") as err:
        store.journal_verify()
    assert err.value.seq == 6 - dropped


def test_an_emptied_journal_is_found(store: SQLiteStore) -> None:
    tamper(store, "DELETE FROM journal")
    with pytest.raises(JournalCorrupt) as err:
        store.journal_verify()
    assert err.value.seq == 1


def test_reordered_records_are_found(store: SQLiteStore) -> None:
    tamper(
        store,
        "UPDATE journal SET seq = -2 WHERE seq = 2",
        "UPDATE journal SET seq = 2 WHERE seq = 3",
        "UPDATE journal SET seq = 3 WHERE seq = -2",
    )
    with pytest.raises(JournalCorrupt) as err:
        store.journal_verify()
    assert err.value.seq == 2


def test_appends_continue_a_verified_chain_after_reopen(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    first = SQLiteStore(path)
    first.journal_append(1.0, "mode", {"to": "dream"})
    first.close()
    second = SQLiteStore(path)
    rec = second.journal_append(2.0, "mode", {"to": "awake"})
    assert rec.seq == 2
    assert second.journal_verify() == 2
    second.close()
