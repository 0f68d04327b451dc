"""What the reliability suite found: a recall filter of the wrong type was a TypeError from deep
inside recall; a damaged store file and a hand-edited journal were reported without saying what to
do, ``journal --verify`` did not look at the file at all, and a damaged JSON value made
``integrity_check`` itself raise. Each is now a clear OneiroError that
names the field or says what to do, with the store unchanged."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import dump_file
from oneiro.errors import InvalidInput, JournalCorrupt, StoreError
from oneiro.memory import DAMAGED_ADVICE, Memory

#: Values that are neither a string nor a collection of strings.
NOT_STRINGS = st.one_of(
    st.integers(),
    st.floats(),
    st.booleans(),
    st.dictionaries(st.text(max_size=4), st.integers(), min_size=1, max_size=3),
    st.lists(st.integers() | st.none() | st.floats(), min_size=1, max_size=3),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(["session", "actor", "kind"]), value=NOT_STRINGS)
def test_a_recall_filter_that_is_not_strings_is_invalid_input_naming_it(
    file_memory: Memory, tmp_path: Path, name: str, value: Any
) -> None:
    file_memory.record({"text": "the deploy failed on staging", "actor": "maya", "session": "s1"})
    before = dump_file(tmp_path / "store.db")
    with pytest.raises(InvalidInput) as err:
        file_memory.recall("deploy", **{name: value})
    assert err.value.field == name
    assert dump_file(tmp_path / "store.db") == before


def _edit_journal(path: Path) -> None:
    """Edit a journal record by hand, as someone with the file would: past the append-only triggers."""
    with sqlite3.connect(path) as conn:
        triggers = conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'journal'"
        ).fetchall()
        for name, _ in triggers:
            conn.execute(f'DROP TRIGGER "{name}"')
        conn.execute("UPDATE journal SET payload = payload || ' ' WHERE seq = 1")
        for _, sql in triggers:
            conn.execute(sql)


def test_a_hand_edited_journal_is_reported_with_what_to_do(tmp_path: Path) -> None:
    import oneiro

    path = tmp_path / "store.db"
    with oneiro.open(path, embedder="hashing") as memory:
        memory.record({"text": "the deploy failed on staging"})
        memory.dream()
    _edit_journal(path)
    with oneiro.open(path, embedder="hashing") as memory, pytest.raises(JournalCorrupt) as err:
        memory.verify_journal()
    assert err.value.seq == 1
    assert "edited outside oneiro" in str(err.value) and DAMAGED_ADVICE in str(err.value)


def test_journal_verify_reports_a_damaged_file_with_what_to_do(tmp_path: Path) -> None:
    import oneiro

    path = tmp_path / "store.db"
    with oneiro.open(path, embedder="hashing") as memory:
        memory.record_many([{"text": f"note {i} about the deploy"} for i in range(200)])
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        # the root page of an index: the table still reads, the index no longer matches it
        page, size = (
            conn.execute(
                "SELECT rootpage FROM sqlite_master WHERE type = 'index' AND tbl_name = 'episodes'"
            ).fetchone()[0],
            conn.execute("PRAGMA page_size").fetchone()[0],
        )
    data = bytearray(path.read_bytes())
    data[page * size - 1] ^= 0x01  # the last byte of the page: a key of the index's last cell
    path.write_bytes(bytes(data))
    with oneiro.open(path, embedder="hashing") as memory, pytest.raises(StoreError) as err:
        memory.verify_journal()
    assert "integrity_check" in str(err.value) and DAMAGED_ADVICE in str(err.value)


def test_integrity_check_reports_a_damaged_json_value_instead_of_raising(tmp_path: Path) -> None:
    """A flipped byte inside an entry's JSON made ``PRAGMA integrity_check`` itself raise (an
    index evaluates ``json_extract`` on it): the check must say the store is damaged."""
    import oneiro

    path = tmp_path / "store.db"
    with oneiro.open(path, embedder="hashing") as memory:
        memory.record_many(
            [{"text": f"the deploy failed on staging, try {i}", "actor": "ops"} for i in range(30)]
        )
        memory.dream()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        data = [str(r[0]) for r in conn.execute("SELECT data FROM entries WHERE data LIKE '{%'")]
    raw = path.read_bytes()
    # Many entries may share one JSON value (the same fact recorded thirty times): damage one copy.
    target = min((d.encode() for d in data if d.encode() in raw), key=raw.count)
    path.write_bytes(raw.replace(target, b"x" + target[1:], 1))
    with oneiro.open(path, embedder="hashing") as memory:
        assert memory.store.integrity_check() != "ok"
        with pytest.raises(StoreError, match="integrity_check"):
            memory.verify_journal()
