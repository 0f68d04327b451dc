"""Copy a SQLite store into a PostgreSQL agent schema: chunked, resumable, verified.

The invariant: a target is either empty, *being copied* (``meta.migrating_from`` set, which every
other opener refuses: :data:`~oneiro.store.postgres.store.MIGRATING_KEY`), or a verified copy. So
an interrupted copy is never mistaken for a store, and running the copy again resumes it.

* :func:`plan` reads both sides and says what would happen (refusing a non-empty target that is
  not an unfinished copy of this same source, and a source that changed since the copy began);
* :func:`copy` runs the plan: each table in an order that satisfies foreign keys, by SQLite row
  number, :data:`CHUNK_ROWS` rows per transaction, each transaction also recording how far it
  got; then it gives vectors their pgvector copies, moves the row counters past the copied rows,
  and verifies: every table's row count and content digest match the source's (episodes and the
  journal included), and the journal chain verifies to the source's head. Only then is the
  marker removed.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from oneiro.errors import InvalidInput, MigrationError
from oneiro.store import journal, meta
from oneiro.store.postgres import store as pg_store
from oneiro.store.postgres import vectors as pgvectors
from oneiro.store.postgres.store import MIGRATING_KEY, PostgresStore
from oneiro.store.sqlite import SQLiteStore

#: Rows per copy transaction: large enough that commits do not dominate, small enough that an
#: interruption loses little (measured: ~1k episode rows with vectors commit in well under 1s).
CHUNK_ROWS = 1000
#: Tables copied first (others reference them), then the rest by name.
FIRST = ("meta", "dispatches", "episodes", "entries", "cycles")
#: Columns that exist only in PostgreSQL (derived there) and so are never compared.
DERIVED_COLUMNS = frozenset(["tsv"])
SKIP = frozenset(["_migrations"])
#: Tables whose rows are derived in PostgreSQL from copied ones.
DERIVED_TABLES = frozenset(["search_vectors"])


@dataclass
class Plan:
    """What a copy will do: from scratch or resuming (``done`` rows per table already copied)."""

    source: str
    target: str
    fingerprint: str
    tables: list[str]
    counts: dict[str, int]
    done: dict[str, int] = field(default_factory=dict)

    @property
    def resuming(self) -> bool:
        return bool(self.done)


@dataclass(frozen=True)
class Report:
    source: str
    target: str
    counts: dict[str, int]
    digests: dict[str, str]
    journal_records: int
    resumed: bool


def _sqlite_tables(conn: sqlite3.Connection) -> list[str]:
    names = [
        str(r[0])
        for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        if not str(r[0]).startswith(("sqlite_", "search_")) and r[0] not in SKIP
    ]
    return [*[t for t in FIRST if t in names], *[t for t in names if t not in FIRST]]


def _columns(conn: Any, table: str) -> list[str]:
    return [str(r[1]) for r in conn.execute(f'PRAGMA table_info("{table}")')]


def _fingerprint(conn: sqlite3.Connection, tables: list[str]) -> tuple[str, dict[str, int]]:
    """The source's shape: rows and last row number per table, and the journal head."""
    counts: dict[str, int] = {}
    shape: list[Any] = []
    for table in tables:
        n, top = conn.execute(f'SELECT COUNT(*), COALESCE(MAX(rowid), 0) FROM "{table}"').fetchone()
        counts[table] = int(n)
        shape.append([table, int(n), int(top)])
    head = conn.execute("SELECT value FROM meta WHERE key = ?", (journal.HEAD_KEY,)).fetchone()
    shape.append(None if head is None else str(head[0]))
    digest = hashlib.sha256(json.dumps(shape).encode()).hexdigest()
    return digest, counts


def plan(source: SQLiteStore, target: PostgresStore) -> Plan:
    """Check both sides and say what :func:`copy` would do; writes nothing."""
    with source.db.read() as conn:
        tables = _sqlite_tables(conn)
        fingerprint, counts = _fingerprint(conn, tables)
    marker = target.get_meta(MIGRATING_KEY)
    if marker is None:
        busy = {t: n for t, n in target.entry_counts().items() if n}
        if target.episode_count() or busy or target.journal_read(limit=1) or target.cycle_count():
            raise InvalidInput(
                f"{target.path} is not empty; copy into a new agent (…?agent=NEW) or an empty database",
                field="to",
            )
        return Plan(source.path, target.path, fingerprint, tables, counts)
    state = json.loads(marker)
    if state.get("source") != source.path or state.get("fingerprint") != fingerprint:
        raise InvalidInput(
            f"{target.path} holds an unfinished copy of {state.get('source')} taken when it looked "
            "different; drop that agent's schema (or choose a new agent) and copy again",
            field="to",
        )
    return Plan(source.path, target.path, fingerprint, tables, counts, dict(state.get("done", {})))


def _rows(conn: sqlite3.Connection, table: str, after: int) -> Iterator[list[tuple[Any, ...]]]:
    columns = _columns(conn, table) if table != "search" else ["text", "keys", "item_id", "item_type"]
    select = ", ".join(f'"{c}"' for c in columns)
    while True:
        chunk = conn.execute(
            f'SELECT rowid, {select} FROM "{table}" WHERE rowid > ? ORDER BY rowid LIMIT ?',
            (after, CHUNK_ROWS),
        ).fetchall()
        if not chunk:
            return
        yield [tuple(r) for r in chunk]
        after = int(chunk[-1][0])


def _marker(p: Plan) -> str:
    return json.dumps({"source": p.source, "fingerprint": p.fingerprint, "done": p.done}, sort_keys=True)


def copy(
    source: SQLiteStore,
    target: PostgresStore,
    *,
    progress: Callable[[str, int, int], None] | None = None,
) -> Report:
    """Run :func:`plan`'s copy, resuming where an earlier run stopped, then verify it."""
    p = plan(source, target)
    resumed = p.resuming
    with target.db.write() as pg:
        if not p.resuming:  # a new store's own bookkeeping gives way to the source's
            pg.execute("DELETE FROM meta")
        meta.put(pg, MIGRATING_KEY, _marker(p))
    with source.db.read() as conn:
        for table in p.tables:
            _copy_table(conn, target, p, table, progress)
    with target.db.write() as pg:
        pgvectors.fill(pg, None)
        pg_store._reset_identities(pg)
    report = verify(source, target, p, resumed=resumed)
    with target.db.write() as pg:
        pg.execute("DELETE FROM meta WHERE key = ?", (MIGRATING_KEY,))
    return report


def _copy_table(
    conn: sqlite3.Connection,
    target: PostgresStore,
    p: Plan,
    table: str,
    progress: Callable[[str, int, int], None] | None,
) -> None:
    with target.db.read() as pg:
        pg_columns = set(_columns(pg, table))
    source_columns = _columns(conn, table) if table != "search" else ["text", "keys", "item_id", "item_type"]
    keep_rowid = "rowid" in pg_columns and "rowid" not in source_columns
    names = (["rowid"] if keep_rowid else []) + source_columns
    marks = ", ".join("?" for _ in names)
    conflict = " ON CONFLICT (key) DO UPDATE SET value = excluded.value" if table == "meta" else ""
    quoted = ", ".join(f'"{n}"' for n in names)
    insert = f'INSERT INTO "{table}" ({quoted}) VALUES ({marks}){conflict}'
    copied = p.done.get(table, 0)
    for chunk in _rows(conn, table, copied):
        rows = [r if keep_rowid else r[1:] for r in chunk]
        if table == "meta":
            rows = [r for r in rows if r[0] != MIGRATING_KEY]
        p.done[table] = int(chunk[-1][0])
        with target.db.write() as pg:
            pg.executemany(insert, rows)
            pg.execute("UPDATE meta SET value = ? WHERE key = ?", (_marker(p), MIGRATING_KEY))
        if progress is not None:
            progress(table, p.done[table], p.counts[table])


def _digest_rows(rows: list[tuple[Any, ...]]) -> str:
    def norm(v: Any) -> Any:
        return v.hex() if isinstance(v, bytes | memoryview) else v

    lines = sorted(json.dumps([norm(v) for v in r], sort_keys=True) for r in rows)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def _table_digest(conn: Any, table: str, columns: list[str]) -> tuple[int, str]:
    select = ", ".join(f'"{c}"' for c in columns)
    rows = [tuple(r) for r in conn.execute(f'SELECT {select} FROM "{table}"').fetchall()]
    if table == "meta":
        rows = [r for r in rows if r[0] != MIGRATING_KEY]
    return len(rows), _digest_rows(rows)


def verify(source: SQLiteStore, target: PostgresStore, p: Plan, *, resumed: bool = False) -> Report:
    """Counts and content digests of every table, and the journal chain, on both sides."""
    counts: dict[str, int] = {}
    digests: dict[str, str] = {}
    with source.db.read() as conn, target.db.read() as pg:
        for table in p.tables:
            columns = _columns(conn, table) if table != "search" else ["text", "keys", "item_id", "item_type"]
            columns = [c for c in columns if c not in DERIVED_COLUMNS]
            want = _table_digest(conn, table, columns)
            got = _table_digest(pg, table, columns)
            if want != got:
                raise MigrationError(
                    f"the copy of table {table} does not match its source ({want[0]} rows there, "
                    f"{got[0]} here, or their contents differ); the target stays marked unfinished"
                )
            counts[table], digests[table] = want
    records = target.journal_verify()
    if records != source.journal_verify():
        raise MigrationError("the copied journal does not end where the source's does")
    return Report(p.source, p.target, counts, digests, records, resumed)
