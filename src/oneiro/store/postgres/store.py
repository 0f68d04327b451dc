"""The PostgreSQL + pgvector store: one agent's schema on a server the user runs.

It runs the same row modules as the SQLite store (:mod:`oneiro.store.episodes`, ``entries``,
``journal``, ...), over :class:`~oneiro.store.postgres.conn.PgDatabase`, whose connections speak
their SQL through :mod:`oneiro.store.postgres.dialect`; so both stores answer every protocol
method with the same statements and cannot drift apart. It replaces only what is SQLite's own:
vectors (pgvector, HNSW), the text index (``tsvector``), the score filter (``jsonb``), the
schema's migrations (:mod:`oneiro.store.postgres.schema`) and maintenance (``VACUUM``).

Opening checks the server before changing anything: it must answer, accept the credentials,
have pgvector (created if the user may), and hold either no schema for the agent, an oneiro
schema at a version this code knows (older ones are migrated), or nothing else: a schema of that
name with other tables is refused untouched, a newer one with :class:`~oneiro.errors.SchemaTooNew`.
"""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import numpy.typing as npt
import psycopg
from psycopg import sql

from oneiro.errors import MigrationError, NotAStore, SchemaTooNew, StoreError, StoreReadOnly
from oneiro.model import Entry, Episode
from oneiro.store import entries, episodes, fts, meta, transfer
from oneiro.store.episodes import COLUMNS, from_row
from oneiro.store.postgres import schema, text
from oneiro.store.postgres import vectors as pgvectors
from oneiro.store.postgres.conn import PgDatabase
from oneiro.store.postgres.url import Target, parse
from oneiro.store.protocol import TxHandle
from oneiro.store.sqlite import ENTRIES_VERSION, VECTORS_EPOCH, SQLiteStore
from oneiro.store.vectors import Matrix, VectorRows

#: Set in ``meta`` while ``oneiro migrate`` copies a store in; such a store is refused by every
#: other opener until the copy has been verified (:mod:`oneiro.cli.migrate`).
MIGRATING_KEY = "migrating_from"
_EXTENSION_LOCK = "oneiro:extension"


def _pg_mapped(fn: Callable[..., Any]) -> Callable[..., Any]:
    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def generate(self: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
            with self.db.errors():
                yield from fn(self, *args, **kwargs)

        return generate

    @functools.wraps(fn)
    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(self, *args, **kwargs)
        except psycopg.Error as exc:
            mapped = self.db.translate(exc)
            if mapped is None:
                raise
            raise mapped from exc

    return call


def _pg_errors(cls: type[PostgresStore]) -> type[PostgresStore]:
    """Every public method of the store (its own and those it runs from the SQLite store) meets
    the server's failures as StoreError leaves (:meth:`PgDatabase.translate`)."""
    names = {
        name
        for klass in cls.__mro__[:-1]
        for name, value in vars(klass).items()
        if not name.startswith("_") and inspect.isfunction(value)
    }
    for name in sorted(names):
        setattr(cls, name, _pg_mapped(getattr(cls, name)))
    return cls


class PostgresStore(SQLiteStore):
    """One agent's store in a PostgreSQL database (``postgresql://...?agent=NAME``)."""

    def __init__(self, url: str | Target, *, read_only: bool | None = None, resume_migration: bool = False):
        target = parse(url) if isinstance(url, str) else url
        self.db = PgDatabase(target, read_only=bool(read_only))  # type: ignore[assignment]
        self.target = target
        try:
            self._bootstrap(resume_migration)
            self._pg.open_pool(configure=_register_vector)
            if self._pg.pool is not None:
                self._pg.pool.wait(timeout=30.0)
        except BaseException:
            self._pg.close()
            raise

    @property
    def _pg(self) -> PgDatabase:
        return self.db  # type: ignore[return-value]

    # -- opening ------------------------------------------------------------------------------
    def _bootstrap(self, resume_migration: bool) -> None:
        with self._pg.connect() as raw:
            try:
                self._ensure_extension(raw)
                if self._pg.read_only:
                    self._check_current(raw)
                else:
                    self._migrate(raw)
                if not resume_migration:
                    self._refuse_unfinished(raw)
            except psycopg.Error as exc:
                mapped = self._pg.translate(exc)
                if mapped is None:
                    raise
                raise mapped from exc

    def _ensure_extension(self, raw: psycopg.Connection[Any]) -> None:
        have = raw.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'").fetchone()
        if have is not None:
            return
        available = raw.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'").fetchone()
        if available is None:
            raise StoreError(
                f"store {self._pg.path}: the server has no pgvector extension; install pgvector "
                "(https://github.com/pgvector/pgvector) on it"
            )
        try:
            with raw.transaction():
                raw.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (_EXTENSION_LOCK,))
                raw.execute("CREATE EXTENSION IF NOT EXISTS vector")
        except psycopg.errors.InsufficientPrivilege as exc:
            raise StoreError(
                f"store {self._pg.path}: pgvector is installed but not enabled in this database, and "
                "this user may not enable it; ask an administrator to run CREATE EXTENSION vector"
            ) from exc

    def _tables(self, raw: psycopg.Connection[Any]) -> list[str]:
        rows = raw.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            (self.target.schema,),
        ).fetchall()
        return sorted(str(r[0]) for r in rows)

    def _version(self, raw: psycopg.Connection[Any]) -> int:
        tables = self._tables(raw)
        if not tables:
            return 0
        if "_migrations" not in tables:
            shown = ", ".join(tables[:5]) + (", ..." if len(tables) > 5 else "")
            raise NotAStore(
                f"schema {self.target.schema} of {self._pg.path} holds tables ({shown}) but is not an "
                "oneiro store; refusing to change it: choose another agent name"
            )
        row = raw.execute("SELECT COALESCE(MAX(seq), 0), MIN(name) FILTER (WHERE seq = 1) FROM _migrations")
        version, first = row.fetchone() or (0, None)
        if int(version) and first != schema.known()[0].name:
            raise NotAStore(f"schema {self.target.schema} of {self._pg.path} is not an oneiro store")
        latest = schema.known()[-1].seq
        if int(version) > latest:
            raise SchemaTooNew(
                f"store {self._pg.path} has schema version {version}, but this oneiro knows only up to "
                f"{latest}; upgrade oneiro to open it"
            )
        return int(version)

    def _check_current(self, raw: psycopg.Connection[Any]) -> None:
        version = self._version(raw)
        todo = [m for m in schema.known() if m.seq > version]
        if todo:
            raise StoreReadOnly(
                f"store {self._pg.path} is opened read-only and needs {len(todo)} schema migration(s) "
                f"({', '.join(m.name for m in todo)}); open it once for writing"
            )

    def _migrate(self, raw: psycopg.Connection[Any]) -> None:
        """Every pending migration in one transaction under the agent's writer lock."""
        ident = sql.Identifier(self.target.schema)
        try:
            with raw.transaction():
                self._pg.take_write_lock(raw)
                raw.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(ident))
                version = self._version(raw)
                todo = [m for m in schema.known() if m.seq > version]
                scripts = [(m, schema.script(m)) for m in todo]
                if not version:
                    raw.execute(schema.MIGRATIONS_TABLE.encode())
                for migration, script in scripts:
                    raw.execute(script.encode())
                    raw.execute(
                        "INSERT INTO _migrations (seq, name, applied_at) VALUES (%s, %s, %s)",
                        (migration.seq, migration.name, time.time()),
                    )
        except (SchemaTooNew, NotAStore, MigrationError):
            raise
        except psycopg.Error as exc:
            if self._pg.translate(exc) is not None:
                raise
            raise MigrationError(f"migration failed and was rolled back: {exc}") from exc

    def _refuse_unfinished(self, raw: psycopg.Connection[Any]) -> None:
        row = raw.execute("SELECT value FROM meta WHERE key = %s", (MIGRATING_KEY,)).fetchone()
        if row is not None:
            raise StoreError(
                f"store {self._pg.path} is being copied from {row[0]} and the copy is not verified "
                "yet; run `oneiro migrate` again to finish it"
            )

    # -- transactions -------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[TxHandle]:
        with self._pg.write():
            yield TxHandle(self._pg.path, writable=True)

    @contextmanager
    def snapshot(self) -> Iterator[TxHandle]:
        with self._pg.read():
            yield TxHandle(self._pg.path, writable=False)

    # -- what SQLite does its own way -----------------------------------------------------------
    def add_episodes(
        self,
        batch: Sequence[Episode],
        matrix: Matrix,
        model: str,
        keys: Sequence[str],
        recorded_at: float | None = None,
    ) -> list[bool]:
        """A batch of episodes with their vectors and index rows: all or nothing."""
        with self._pg.write() as conn:
            fresh = episodes.insert(conn, batch, recorded_at)  # type: ignore[arg-type]
            new_idx = [i for i, f in enumerate(fresh) if f]
            if new_idx:
                pgvectors.put(conn, [(batch[i].id, "episode") for i in new_idx], matrix[new_idx], model)
                fts.add(conn, [(batch[i].id, "episode", batch[i].text, keys[i]) for i in new_idx])  # type: ignore[arg-type]
            return fresh

    def add_entries(
        self, batch: Sequence[Entry], matrix: Matrix | None, model: str, cycle_id: str | None = None
    ) -> list[bool]:
        with self._pg.write() as conn:
            fresh = entries.insert(conn, batch, cycle_id)  # type: ignore[arg-type]
            new_idx = [i for i, f in enumerate(fresh) if f]
            if new_idx:
                if matrix is not None:
                    pgvectors.put(conn, [(batch[i].id, "entry") for i in new_idx], matrix[new_idx], model)
                fts.add(
                    conn,  # type: ignore[arg-type]
                    [(batch[i].id, "entry", batch[i].text, " ".join(batch[i].keys)) for i in new_idx],
                )
                meta.bump(conn, ENTRIES_VERSION)  # type: ignore[arg-type]
            return fresh

    def load_vectors(self, model: str, after_rowid: int = 0) -> VectorRows:
        with self._pg.read() as conn:
            return pgvectors.load(conn, model, after_rowid)

    def vectors_for(self, ids: Sequence[str], model: str) -> dict[str, Any]:
        return pgvectors.get(self._pg.conn(), ids, model)

    def nearest(
        self, model: str, query: npt.NDArray[np.float32], k: int, item_type: str | None = None
    ) -> list[tuple[str, str, float]]:
        """The ``k`` vectors nearest ``query`` by cosine through the HNSW index (PostgreSQL only:
        the SQLite store's recall searches its in-memory index)."""
        with self._pg.read() as conn:
            return pgvectors.nearest(conn, model, query, k, item_type)

    def search_text(self, query: str, limit: int) -> list[tuple[str, str, float]]:
        return text.search(self._pg.conn(), query, limit)

    def forget_quoting(self, texts: Sequence[str]) -> set[str]:
        return text.quoting(self._pg.conn(), texts)

    def episodes_scored_below(
        self, scorer: str, version: int, after_rowid: int, upto_rowid: int, limit: int
    ) -> list[tuple[int, Episode]]:
        """As :func:`oneiro.store.scored.below`, with ``jsonb`` reading the score record."""
        field = "(data::jsonb -> 'score')"
        query = (
            f"SELECT rowid, {COLUMNS} FROM episodes WHERE rowid > ? AND rowid <= ? "
            "AND provenance = 'awake' AND strpos(data, '\"score\"') > 0 "
            f"AND jsonb_typeof({field}) = 'object' AND {field} ->> 'scorer' = ? "
            f"AND jsonb_typeof({field} -> 'version') = 'number' "
            f"AND ({field} ->> 'version') ~ '^-?[0-9]+$' AND ({field} ->> 'version')::numeric < ? "
            "ORDER BY rowid LIMIT ?"
        )
        with self._pg.read() as conn:
            rows = conn.execute(query, (after_rowid, upto_rowid, scorer, version, limit))
            return [(int(r["rowid"]), from_row(r)) for r in rows]  # type: ignore[arg-type]

    def import_lines(self, lines: Iterable[str]) -> dict[str, int]:
        """Load an export into this (empty) store, all or nothing, with pgvector copies."""
        with self._pg.write() as conn:
            counts = transfer.import_lines(conn, lines)  # type: ignore[arg-type]
            pgvectors.fill(conn, None)
            _reset_identities(conn)
            meta.bump(conn, ENTRIES_VERSION)  # type: ignore[arg-type]
            meta.bump(conn, VECTORS_EPOCH)  # type: ignore[arg-type]
            return counts

    def scrub(self) -> None:
        """Vacuum the agent's tables, so deleted rows leave the server's pages."""
        with self._pg.borrow() as raw:
            for table in self._tables(raw):
                raw.execute(
                    sql.SQL("VACUUM {}.{}").format(sql.Identifier(self.target.schema), sql.Identifier(table))
                )

    def integrity_check(self) -> str:
        """``ok`` when every table the migrations made is present (the server checks pages)."""
        with self._pg.borrow() as raw:
            tables = set(self._tables(raw))
        missing = sorted({"meta", "episodes", "entries", "journal", "vectors", "search"} - tables)
        return "ok" if not missing else f"missing tables: {', '.join(missing)}"

    def schema_version(self) -> int:
        row = self._pg.conn().execute("SELECT COALESCE(MAX(seq), 0) FROM _migrations").fetchone()
        return 0 if row is None else int(row[0])


def _reset_identities(conn: Any) -> None:
    """After rows came in with their own row numbers, new rows must number after them."""
    for table, column in (
        ("episodes", "rowid"),
        ("entries", "rowid"),
        ("evidence", "rowid"),
        ("cycles", "rowid"),
        ("vectors", "rowid"),
        ("search", "rowid"),
        ("undo_log", "seq"),
        ("dispatches", "seq"),
        ("playbook_revisions", "seq"),
    ):
        conn.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "
            f"COALESCE((SELECT MAX({column}) FROM {table}), 0) + 1, false)"
        )


def _register_vector(raw: psycopg.Connection[Any]) -> None:
    from pgvector.psycopg import register_vector

    register_vector(raw)


_pg_errors(PostgresStore)
