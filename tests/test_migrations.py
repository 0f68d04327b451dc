"""Migrations: named, ordered, transactional, recorded in ``_migrations``; newer stores refused."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from oneiro.errors import MigrationError, SchemaTooNew, StoreError
from oneiro.store import SQLiteStore, migrations
from oneiro.store.migrations import MIGRATIONS, Migration


def blank() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.row_factory = sqlite3.Row
    return conn


def tables(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'trigger')")}


def test_migrations_are_named_and_strictly_ordered() -> None:
    seqs = [m.seq for m in MIGRATIONS]
    assert seqs == list(range(1, len(MIGRATIONS) + 1))
    names = [m.name for m in MIGRATIONS]
    assert all(names) and len(set(names)) == len(names)


def test_blank_database_gets_every_migration_recorded() -> None:
    conn = blank()
    assert migrations.current_version(conn) == 0
    assert [m.name for m in migrations.pending(conn)] == [m.name for m in MIGRATIONS]
    done = migrations.apply(conn)
    assert done == [m.name for m in MIGRATIONS]
    rows = conn.execute("SELECT seq, name FROM _migrations ORDER BY seq").fetchall()
    assert [(r["seq"], r["name"]) for r in rows] == [(m.seq, m.name) for m in MIGRATIONS]
    assert migrations.current_version(conn) == MIGRATIONS[-1].seq
    assert {"episodes", "entries", "vectors", "journal", "undo_log", "cycles"} <= tables(conn)


def test_pending_only_reads_and_apply_is_idempotent() -> None:
    conn = blank()
    migrations.pending(conn)
    assert tables(conn) == set()
    migrations.apply(conn)
    assert migrations.pending(conn) == []
    assert migrations.apply(conn) == []
    assert conn.execute("SELECT COUNT(*) FROM _migrations").fetchone()[0] == len(MIGRATIONS)


def _add_table(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TABLE extra (x INTEGER)")


def _broken_sql(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TABLE half_done (x INTEGER)")
    conn.execute("INSERT INTO no_such_table VALUES (1)")


def _broken_python(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TABLE half_done (x INTEGER)")
    raise RuntimeError("a bug in a data migration")


@pytest.mark.parametrize("broken", [_broken_sql, _broken_python])
def test_a_failing_migration_leaves_the_store_at_the_last_good_version(broken: object) -> None:
    conn = blank()
    migrations.apply(conn)
    base = MIGRATIONS[-1].seq
    later = (*MIGRATIONS, Migration(base + 1, "extra", _add_table), Migration(base + 2, "broken", broken))  # type: ignore[arg-type]
    with pytest.raises(MigrationError, match="rolled back"):
        migrations.apply(conn, later)
    assert not conn.in_transaction
    assert migrations.current_version(conn) == base
    assert "extra" not in tables(conn) and "half_done" not in tables(conn)
    # the store stays usable: the good migration applies once the broken one is fixed
    fixed = (*MIGRATIONS, Migration(base + 1, "extra", _add_table))
    assert migrations.apply(conn, fixed) == ["extra"]


def test_store_made_by_a_newer_schema_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    SQLiteStore(path).close()
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO _migrations (seq, name, applied_at) VALUES (999, 'from_the_future', 0)")
    conn.commit()
    conn.close()
    with pytest.raises(SchemaTooNew, match=r"schema version 999.*upgrade oneiro"):
        SQLiteStore(path)
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT MAX(seq) FROM _migrations").fetchone()[0] == 999
    conn.close()


def test_a_file_that_is_not_a_store_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(b"these are my notes, not a database" * 100)
    with pytest.raises(StoreError, match="not an oneiro store"):
        SQLiteStore(path)
    assert path.read_bytes().startswith(b"these are my notes")


def test_schema_version_is_reported(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    try:
        assert store.schema_version() == MIGRATIONS[-1].seq
    finally:
        store.close()
