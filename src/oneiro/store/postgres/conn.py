"""PostgreSQL connections for one agent's store: a psycopg 3 pool, transactions per thread.

:class:`PgDatabase` offers what the row modules and the SQLite store's methods expect of
:class:`~oneiro.store.db.Database` (``conn()``, ``write()``, ``read()``), over a connection
pool:

* a write transaction (``write()``) holds one pooled connection for its thread and first takes
  the agent's transaction-scoped advisory lock, so one agent's writers commit one after another:
  its episode row numbers and its journal chain are handed out in commit order, which is what
  ``episodes_since`` cursors and ``journal.verify`` rely on (a row number committed after a larger
  one would be skipped by a cycle that had already read past it). Other agents' writers, and every
  reader, never wait for it;
* a read snapshot (``read()``) is a ``REPEATABLE READ`` transaction: one consistent view;
* a statement outside both borrows a connection for that statement alone (autocommit).

Every connection's ``search_path`` is the agent's schema (then ``public``, where pgvector's types
live), so the row modules' unqualified table names are this agent's tables and no other's.

Failures a user can meet (server unreachable, credentials refused, database missing, server
gone, a lock or serialization conflict) become :class:`~oneiro.errors.StoreError` leaves naming
the store; any other driver error is a defect and propagates as it is.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg import sql
from psycopg_pool import ConnectionPool, PoolTimeout

from oneiro.errors import StoreError, StoreReadOnly
from oneiro.store.postgres import dialect
from oneiro.store.postgres.url import Target

#: Seconds to wait for the server to answer a new connection, and for a free pooled connection.
CONNECT_TIMEOUT_S = 10
POOL_TIMEOUT_S = 60.0
#: SQLSTATE classes a user can cause and fix (https://www.postgresql.org/docs/current/errcodes-appendix.html).
_CLASS_MESSAGES = {
    "08": "cannot be reached (connection failure); check the host, port and that the server runs",
    "28": "refused the credentials (invalid authorization); check the user name and password",
    "3D": "names a database that does not exist; create it or fix the URL",
    "53": "is out of resources (disk, memory or connections); free some and try again",
    "57": "was shut down or cancelled the statement; try again when the server is back",
    "40": "hit a serialization conflict or deadlock with another writer; try again",
    "55": "is locked by another session (lock not available); try again",
}


class Row(tuple[Any, ...]):
    """A result row readable by position and by column name, as ``sqlite3.Row`` is."""

    _names: dict[str, int]

    def __new__(cls, names: dict[str, int], values: Sequence[Any]) -> Row:
        row = super().__new__(cls, values)
        row._names = names
        return row

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, self._names[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._names)


def _row_factory(cursor: psycopg.Cursor[Any]) -> Any:
    names = {c.name: i for i, c in enumerate(cursor.description or ())}
    return lambda values: Row(names, values)


class Result:
    """What a statement returned, fetched in full (so its connection can go back to the pool)."""

    def __init__(self, rows: list[Row], rowcount: int, lastrowid: int | None):
        self._rows = rows
        self.rowcount = rowcount
        self.lastrowid = lastrowid

    def fetchone(self) -> Row | None:
        return self._rows[0] if self._rows else None

    def fetchall(self) -> list[Row]:
        return list(self._rows)

    def __iter__(self) -> Iterator[Row]:
        return iter(self._rows)


def _run(raw: psycopg.Connection[Any], statement: str, params: Sequence[Any] | None) -> Result:
    query = dialect.rewrite(statement)
    cur = raw.execute(query.encode(), list(params or ()), prepare=False)
    rows: list[Row] = cur.fetchall() if cur.description is not None else []
    last = None
    if "RETURNING" in query and rows and query.lstrip().upper().startswith("INSERT"):
        last = int(rows[0][0])
    return Result(rows, cur.rowcount, last)


class PgConn:
    """The connection the row modules are handed: ``execute``/``executemany`` in SQLite's
    dialect, run on a pinned connection (inside a transaction) or on a borrowed one."""

    def __init__(self, db: PgDatabase, raw: psycopg.Connection[Any] | None):
        self._db = db
        self._raw = raw

    @property
    def in_transaction(self) -> bool:
        return self._raw is not None

    def execute(self, statement: str, params: Sequence[Any] | None = None) -> Result:
        if self._raw is not None:
            return _run(self._raw, statement, params)
        with self._db.borrow() as raw:
            return _run(raw, statement, params)

    def executemany(self, statement: str, rows: Sequence[Sequence[Any]] | Iterator[Sequence[Any]]) -> None:
        query = dialect.rewrite(statement, returning=False)
        batch = [list(r) for r in rows]
        if not batch:
            return
        if self._raw is not None:
            self._raw.cursor().executemany(query.encode(), batch)
            return
        with self._db.write() as conn:
            conn.executemany(statement, batch)


class PgDatabase:
    """One agent's schema on a PostgreSQL server, through a pool of connections."""

    def __init__(self, target: Target, *, read_only: bool = False):
        self.target = target
        self.path = target.shown
        self.read_only = bool(read_only)
        self.in_memory = False
        self._local = threading.local()
        self._lock_key = f"oneiro:{target.schema}"
        self.pool: ConnectionPool[psycopg.Connection[Any]] | None = None

    # -- connections --------------------------------------------------------------------------
    def connect(self) -> psycopg.Connection[Any]:
        """A new autocommit connection on the agent's schema (the pool's, and the bootstrap's)."""
        try:
            raw = psycopg.connect(self.target.conninfo, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)
        except psycopg.Error as exc:
            raise self.translate(exc) or StoreError(f"cannot open store {self.path}: {exc}") from exc
        raw.row_factory = _row_factory
        raw.execute(sql.SQL("SET search_path TO {}, public").format(sql.Identifier(self.target.schema)))
        return raw

    def open_pool(self, configure: Any = None) -> None:
        def make(raw: psycopg.Connection[Any]) -> None:
            raw.row_factory = _row_factory
            raw.execute(sql.SQL("SET search_path TO {}, public").format(sql.Identifier(self.target.schema)))
            if configure is not None:
                configure(raw)

        self.pool = ConnectionPool(
            self.target.conninfo,
            min_size=1,
            max_size=self.target.pool,
            kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT_S},
            configure=make,
            timeout=POOL_TIMEOUT_S,
            open=True,
            name=self.target.schema,
        )

    @contextmanager
    def borrow(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection for one statement (outside any transaction of this thread)."""
        if self.pool is None or self.pool.closed:
            raise StoreError(f"store {self.path} was closed; open it again to use it")
        try:
            with self.pool.connection() as raw:
                yield raw
        except PoolTimeout as exc:
            raise StoreError(
                f"store {self.path} has no free connection after {POOL_TIMEOUT_S:.0f}s "
                "(raise pool= in the URL, or run fewer writers)"
            ) from exc
        except psycopg.Error as exc:
            mapped = self.translate(exc)
            if mapped is None:
                raise
            raise mapped from exc

    def conn(self) -> PgConn:
        """This thread's open transaction, or a connection borrowed per statement."""
        return PgConn(self, getattr(self._local, "raw", None))

    # -- transactions -------------------------------------------------------------------------
    @contextmanager
    def _transaction(self, begin: str, lock: bool) -> Iterator[PgConn]:
        with self.borrow() as raw:
            raw.execute(begin)
            self._local.raw, self._local.writable = raw, lock
            try:
                if lock:
                    self.take_write_lock(raw)
                yield PgConn(self, raw)
            except BaseException:
                with suppress(psycopg.Error):
                    raw.execute("ROLLBACK")
                raise
            else:
                raw.execute("COMMIT")
            finally:
                self._local.raw, self._local.writable = None, False

    def take_write_lock(self, raw: psycopg.Connection[Any]) -> None:
        raw.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (self._lock_key,))

    @contextmanager
    def write(self) -> Iterator[PgConn]:
        """One write transaction holding the agent's writer lock; a nested ``write()`` (or one
        inside a ``read()`` of this thread) joins the open transaction."""
        self.refuse_write()
        raw = getattr(self._local, "raw", None)
        if raw is not None:
            if not getattr(self._local, "writable", False):
                self.take_write_lock(raw)
                self._local.writable = True
            yield PgConn(self, raw)
            return
        with self._transaction("BEGIN ISOLATION LEVEL READ COMMITTED", lock=True) as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[PgConn]:
        """A read transaction over one snapshot (inside an open transaction, that one)."""
        if getattr(self._local, "raw", None) is not None:
            yield self.conn()
            return
        with self._transaction("BEGIN ISOLATION LEVEL REPEATABLE READ", lock=False) as conn:
            yield conn

    def refuse_write(self) -> None:
        if self.read_only:
            raise StoreReadOnly(f"store {self.path} is read-only (opened read-only)")

    @contextmanager
    def errors(self) -> Iterator[None]:
        try:
            yield
        except psycopg.Error as exc:
            mapped = self.translate(exc)
            if mapped is None:
                raise
            raise mapped from exc

    def translate(self, exc: BaseException) -> StoreError | None:
        """The StoreError leaf for a failure a user can meet; None for a defect."""
        if isinstance(exc, pg_errors.ReadOnlySqlTransaction | pg_errors.InsufficientPrivilege):
            return StoreReadOnly(f"store {self.path} may not be written by this user: {_first(exc)}")
        state = getattr(exc, "sqlstate", None) or ""
        if not state and isinstance(exc, psycopg.OperationalError):
            return StoreError(f"store {self.path} {_classify(str(exc))} ({_first(exc)})")
        message = _CLASS_MESSAGES.get(state[:2])
        if message is None:
            return None
        return StoreError(f"store {self.path} {message} ({_first(exc)})")

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()


def _first(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _classify(text: str) -> str:
    """What a connection failure without a SQLSTATE means (libpq reports these as text)."""
    lowered = text.lower()
    if "password" in lowered or "authentication" in lowered or "role" in lowered:
        return _CLASS_MESSAGES["28"]
    if "database" in lowered and "does not exist" in lowered:
        return _CLASS_MESSAGES["3D"]
    return _CLASS_MESSAGES["08"]
