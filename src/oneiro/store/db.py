"""SQLite connections: WAL, foreign keys, busy timeout, one write transaction at a time.

File stores get one connection per thread (sqlite3 connections are not shared across threads),
so awake writers in other threads and a dreaming cycle each read their own consistent snapshot.
In-memory stores (``:memory:``) have a single connection guarded by a lock, since a second
connection would see a different database.

Read-only stores: a store whose file or directory this process may not write (or one opened with
``read_only=True``) is opened through a ``mode=ro`` URI, and never switched to WAL or migrated.
SQLite reads a WAL database through its ``-shm`` file, which a read-only connection still has to
create when it is absent; where the directory is not writable either, the file is opened
``immutable=1`` (no locks, no ``-shm``), which is exact as long as no other process writes it
and no write-ahead log is left beside it (a store closed cleanly leaves none; one that is left
and cannot be read is refused). Every write asked of a read-only store raises
:class:`~oneiro.errors.StoreReadOnly` before touching the file.

SQLite's own failures that a user can meet (read-only, busy, full disk, I/O error, not a
database) become :class:`~oneiro.errors.StoreError` leaves where they arise; any other
``sqlite3`` error is a defect and propagates as it is.
"""

from __future__ import annotations

import functools
import inspect
import os
import sqlite3
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, TypeVar

from oneiro.errors import NotAStore, StoreError, StorePathError, StoreReadOnly
from oneiro.store import entries

MEMORY = ":memory:"
#: The first 16 bytes of every SQLite database file (https://www.sqlite.org/fileformat.html).
SQLITE_HEADER = b"SQLite format 3\x00"
#: SQLite result codes (primary, low byte) a user can cause and fix; anything else is a defect.
_READONLY = {sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM}
_USER_CODES = {
    sqlite3.SQLITE_BUSY: (
        "is busy: another process held its lock past the busy timeout (store.busy_timeout_ms); "
        "try again when that process is done, or raise the timeout"
    ),
    sqlite3.SQLITE_LOCKED: "is locked by another connection of this process; try again",
    sqlite3.SQLITE_FULL: "cannot grow: the disk is full; free some space and try again",
    sqlite3.SQLITE_IOERR: "could not be read or written (I/O error); check the disk and the file",
    sqlite3.SQLITE_CANTOPEN: "cannot be opened (check the path and its permissions)",
    sqlite3.SQLITE_NOTADB: "is not a SQLite database",
    sqlite3.SQLITE_CORRUPT: "is corrupt (SQLite says its pages are malformed); restore it from an export",
}
#: What ``sqlite3`` says when a closed connection is used (it carries no result code).
_CLOSED = "closed database"
T = TypeVar("T")


class Database:
    """Owns the connections to one SQLite file and hands out transactions."""

    def __init__(
        self,
        path: Path | str,
        *,
        synchronous: str = "NORMAL",
        busy_timeout_ms: int = 60_000,
        read_only: bool | None = None,
        accept: Callable[[sqlite3.Connection, str], None] | None = None,
    ):
        """Open ``path`` (created if absent, unless read-only). ``read_only`` None decides by what
        this process may write: the file and its directory. ``accept`` inspects the first
        connection before anything is written (even the WAL switch, which rewrites the header) and
        raises to refuse the file."""
        self.path = str(path)
        self.synchronous = synchronous.upper()
        self.busy_timeout_ms = busy_timeout_ms
        self._local = threading.local()
        self._lock = threading.RLock()
        self._all: list[sqlite3.Connection] = []
        self._shared: sqlite3.Connection | None = None
        self.read_only, self._why_read_only = False, ""
        self._uri: str | None = None
        self._accept = accept
        if self.path != MEMORY:
            self._prepare(Path(self.path), read_only)

    def _prepare(self, path: Path, read_only: bool | None) -> None:
        """Check the file, create its directory, and choose how to connect."""
        check_store_file(path)
        if not path.exists():
            if read_only:
                raise StorePathError(f"no store at {path} to open read-only")
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StorePathError(f"cannot create the directory of store {path}: {exc.strerror}") from exc
        why = _not_writable(path)
        if read_only or why:
            self.read_only, self._why_read_only = True, why or "opened read-only"
            self._uri = _read_only_uri(path)

    @property
    def in_memory(self) -> bool:
        return self.path == MEMORY

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                self._uri or self.path,
                isolation_level=None,
                check_same_thread=not self.in_memory,
                timeout=self.busy_timeout_ms / 1000,
                uri=self._uri is not None,
            )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open store {self.path}: {exc}") from exc
        try:
            with self.errors():
                self._configure(conn)
        except BaseException:
            conn.close()
            raise
        with self._lock:
            self._all.append(conn)
        return conn

    def _configure(self, conn: sqlite3.Connection) -> None:
        conn.row_factory = sqlite3.Row
        entries.register_functions(conn)
        conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
        conn.execute("PRAGMA foreign_keys = ON")
        if self._accept is not None:
            self._accept(conn, self.path)
            self._accept = None
        if not self.in_memory and not self.read_only:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreError(f"store {self.path} could not switch to WAL (got {mode})")
        conn.execute(f"PRAGMA synchronous = {self.synchronous}")

    @contextmanager
    def errors(self) -> Iterator[None]:
        """Turn SQLite failures a user can meet into StoreError leaves naming this store."""
        try:
            yield
        except sqlite3.Error as exc:
            mapped = self.translate(exc)
            if mapped is None:
                raise
            raise mapped from exc

    def translate(self, exc: sqlite3.Error) -> StoreError | None:
        """The StoreError leaf for a SQLite failure a user can meet (and fix), saying what to do;
        None for any other, which is a defect and must propagate as it is."""
        code = getattr(exc, "sqlite_errorcode", -1) & 0xFF
        if code in _READONLY:
            return StoreReadOnly(
                f"store {self.path} is read-only: {exc}; open it where it can be written "
                "(read commands still work)"
            )
        if code == sqlite3.SQLITE_NOTADB:
            return NotAStore(f"{self.path} is not a SQLite database")
        if code in _USER_CODES:
            return StoreError(f"store {self.path} {_USER_CODES[code]} ({exc})")
        if isinstance(exc, sqlite3.ProgrammingError) and _CLOSED in str(exc):
            return StoreError(f"store {self.path} was closed; open it again to use it")
        return None

    def refuse_write(self) -> None:
        """Raise StoreReadOnly when this store is open read-only."""
        if self.read_only:
            raise StoreReadOnly(
                f"store {self.path} is read-only ({self._why_read_only}); read commands "
                "(status, recall, journal, brief, hypotheses) still work"
            )

    def conn(self) -> sqlite3.Connection:
        """This thread's connection (the shared one for in-memory stores)."""
        if self.in_memory:
            if self._shared is None:
                self._shared = self._connect()
            return self._shared
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
        return conn

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE): all of it commits or none of it does.

        Re-entrant within a thread: a nested ``write()`` joins the outer transaction.
        """
        self.refuse_write()
        with self._lock if self.in_memory else _null():
            conn = self.conn()
            depth = getattr(self._local, "depth", 0)
            if depth:
                self._local.depth = depth + 1
                try:
                    yield conn
                finally:
                    self._local.depth = depth
                return
            with self.errors():
                conn.execute("BEGIN IMMEDIATE")
                self._local.depth = 1
                try:
                    yield conn
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
                else:
                    conn.execute("COMMIT")
                finally:
                    self._local.depth = 0

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: every query inside sees one consistent snapshot."""
        with self._lock if self.in_memory else _null():
            conn = self.conn()
            if getattr(self._local, "depth", 0) or conn.in_transaction:
                yield conn
                return
            with self.errors():
                conn.execute("BEGIN")
                self._local.depth = 1
                try:
                    yield conn
                finally:
                    self._local.depth = 0
                    if conn.in_transaction:
                        conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                with suppress(sqlite3.Error):
                    conn.close()
            self._all.clear()
            self._shared = None
            self._local = threading.local()


@contextmanager
def _null() -> Iterator[None]:
    yield


def _mapped(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` (a method of a class owning ``db``) with SQLite failures translated."""
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
        except sqlite3.Error as exc:
            mapped = self.db.translate(exc)
            if mapped is None:
                raise
            raise mapped from exc

    return call


def mapped_errors(cls: type[T]) -> type[T]:
    """Route every public method of ``cls`` (and of its bases) through
    :meth:`Database.translate`, so no read or write path can leak a driver error. Context
    managers are covered by :meth:`Database.write` and :meth:`Database.read`, which translate
    around the block they open."""
    names = {
        name
        for klass in cls.__mro__[:-1]
        for name, value in vars(klass).items()
        if not name.startswith("_") and inspect.isfunction(value)
    }
    for name in sorted(names):
        setattr(cls, name, _mapped(getattr(cls, name)))
    return cls


def check_store_file(path: Path) -> None:
    """Refuse a path that cannot be a store file: a directory, a device or pipe, or a file that
    is neither empty nor a SQLite database. An absent path is fine (it will be created)."""
    try:
        if not path.exists():
            return
        if path.is_dir():
            raise StorePathError(f"{path} is a directory, not a store file")
        if not path.is_file():
            raise StorePathError(f"{path} is not a regular file (a device or pipe cannot hold a store)")
        with path.open("rb") as handle:
            head = handle.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise StorePathError(f"cannot read store {path}: {exc.strerror}") from exc
    if head and head != SQLITE_HEADER:
        raise NotAStore(f"{path} is not a SQLite database (so not an oneiro store); refusing to touch it")


def _not_writable(path: Path) -> str:
    """Why this process may not write the store at ``path`` (empty when it may)."""
    if path.exists() and not os.access(path, os.W_OK):
        return f"{path} is not writable"
    directory = path.parent
    if not os.access(directory, os.W_OK):
        return f"its directory {directory} is not writable"
    return ""


def _read_only_uri(path: Path) -> str:
    """The URI that reads ``path`` without writing anything (see the module docstring)."""
    quoted = urllib.parse.quote(str(path.resolve()))
    if os.access(path.parent, os.W_OK):
        return f"file:{quoted}?mode=ro"
    wal = Path(f"{path}-wal")
    if wal.exists() and wal.stat().st_size > 0:
        if Path(f"{path}-shm").exists():
            return f"file:{quoted}?mode=ro"
        raise StoreReadOnly(
            f"store {path} has an unapplied write-ahead log and its directory is not writable; "
            "open it once where it can be written"
        )
    return f"file:{quoted}?mode=ro&immutable=1"
