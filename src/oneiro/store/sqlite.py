"""The embedded store: one SQLite file holding episodes, entries, vectors, text index and journal.

All SQL lives in the sibling modules; this class composes them behind the :class:`Store` protocol
and owns transactions. Writes that belong together (an episode batch with its vectors and index
rows; a phase's proposed writes with their journal record) share one transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from oneiro.errors import NotAStore, StoreReadOnly
from oneiro.model import Entry, Episode
from oneiro.store import (
    cycles,
    entries,
    episodes,
    evidence,
    forget,
    fts,
    journal,
    lease,
    meta,
    migrations,
    scored,
    transfer,
    undo,
    vectors,
)
from oneiro.store.db import Database, mapped_errors
from oneiro.store.episodes import Origin
from oneiro.store.lease import Lease
from oneiro.store.protocol import TxHandle
from oneiro.store.sqlite_rows import RowMethods
from oneiro.store.vectors import Matrix, VectorRows

if TYPE_CHECKING:
    from oneiro.forget import ForgetPlan

#: The table every oneiro store has had since its first migration, and its columns.
MIGRATIONS_TABLE = "_migrations"
MIGRATIONS_COLUMNS = ("seq", "name", "applied_at")


def _refuse_foreign(conn: sqlite3.Connection, path: str) -> None:
    """Refuse a database that has tables but no oneiro migration history: another program's file,
    which migrating would fill with oneiro's tables."""
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    if not tables:
        return
    if MIGRATIONS_TABLE in tables:
        columns = tuple(r[1] for r in conn.execute(f"PRAGMA table_info({MIGRATIONS_TABLE})"))
        first = conn.execute(f"SELECT name FROM {MIGRATIONS_TABLE} WHERE seq = 1").fetchone()
        if columns == MIGRATIONS_COLUMNS and first is not None and first[0] == migrations.MIGRATIONS[0].name:
            return
    shown = ", ".join(sorted(tables)[:5]) + (", ..." if len(tables) > 5 else "")
    raise NotAStore(
        f"{path} is a SQLite database but not an oneiro store (it has tables {shown}); "
        "refusing to change it: give a new path or an existing oneiro store"
    )


#: Bumped whenever entry visibility can change (status, confidence, a cycle's status) or vectors
#: are deleted, so in-memory indexes know to refresh.
ENTRIES_VERSION = meta.ENTRIES_VERSION
VECTORS_EPOCH = "vectors_epoch"


@mapped_errors
class SQLiteStore(RowMethods):
    """A store in one SQLite file (or in memory with ``path=":memory:"``).

    Opening checks what the file is before changing it: an empty database becomes a new store, an
    oneiro store is migrated to the current schema, and any other SQLite database (tables, but no
    oneiro migration history) is refused untouched. A read-only store (``read_only=True``, or a
    file this process may not write) is never migrated: it must already be at the current schema.

    Every public method, reads included, passes SQLite's failures through
    :meth:`~oneiro.store.db.Database.translate` (:func:`~oneiro.store.db.mapped_errors`): a caller
    meets a :class:`~oneiro.errors.StoreError` leaf saying what to do, never a driver error.
    """

    def __init__(
        self,
        path: Path | str,
        *,
        synchronous: str = "NORMAL",
        busy_timeout_ms: int = 60_000,
        read_only: bool | None = None,
    ):
        self.db = Database(
            path,
            synchronous=synchronous,
            busy_timeout_ms=busy_timeout_ms,
            read_only=read_only,
            accept=_refuse_foreign,
        )
        try:
            with self.db.errors():
                self._open()
        except sqlite3.DatabaseError as exc:
            self.db.close()
            raise NotAStore(f"{path} is not an oneiro store: {exc}") from exc
        except BaseException:
            self.db.close()
            raise

    def _open(self) -> None:
        conn = self.db.conn()
        if not self.db.read_only:
            migrations.apply(conn)
            return
        todo = migrations.pending(conn)
        if todo:
            raise StoreReadOnly(
                f"store {self.db.path} is read-only and needs {len(todo)} schema migration(s) "
                f"({', '.join(m.name for m in todo)}); open it once where it can be written"
            )

    @property
    def path(self) -> str:
        return self.db.path

    @property
    def read_only(self) -> bool:
        """True when this store refuses writes (see :class:`~oneiro.store.db.Database`)."""
        return self.db.read_only

    def refuse_write(self) -> None:
        """Raise StoreReadOnly, saying why, when this store is open read-only."""
        self.db.refuse_write()

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[TxHandle]:
        """A write transaction; nested calls join the outer one, and so does every method called
        inside the block on this thread."""
        with self.db.write():
            yield TxHandle(self.db.path, writable=True)

    @contextmanager
    def snapshot(self) -> Iterator[TxHandle]:
        """A read transaction over one consistent snapshot (inside a write transaction, that one)."""
        with self.db.read():
            yield TxHandle(self.db.path, writable=False)

    # -- episodes ---------------------------------------------------------------------------
    def add_episodes(
        self,
        batch: Sequence[Episode],
        matrix: Matrix,
        model: str,
        keys: Sequence[str],
        recorded_at: float | None = None,
    ) -> list[bool]:
        """Store a batch of episodes with their vectors and index rows: all or nothing. Every new
        episode is stamped with ``recorded_at``, the recording process's clock (now if not given)."""
        with self.db.write() as conn:
            fresh = episodes.insert(conn, batch, recorded_at)
            new_idx = [i for i, f in enumerate(fresh) if f]
            if new_idx:
                vectors.put(conn, [(batch[i].id, "episode") for i in new_idx], matrix[new_idx], model)
                fts.add(conn, [(batch[i].id, "episode", batch[i].text, keys[i]) for i in new_idx])
            return fresh

    def episodes(self, ids: Sequence[str]) -> dict[str, Episode]:
        return episodes.get(self.db.conn(), ids)

    def episodes_since(self, after_rowid: int, limit: int | None = None) -> list[tuple[int, Episode]]:
        return episodes.since(self.db.conn(), after_rowid, limit=limit)

    def episodes_in_sessions(self, sessions: Sequence[str]) -> list[Episode]:
        return episodes.in_sessions(self.db.conn(), sessions)

    def episodes_around(self, session: str, ts_from: float, ts_to: float, width: int) -> list[Episode]:
        return episodes.around(self.db.conn(), session, ts_from, ts_to, width)

    def episode_origins(self, ids: Sequence[str]) -> dict[str, Origin]:
        """The store-vouched origin (record time, party) of each stored episode of ``ids``."""
        return episodes.origins(self.db.conn(), ids)

    def episodes_scored_below(
        self, scorer: str, version: int, after_rowid: int, upto_rowid: int, limit: int
    ) -> list[tuple[int, Episode]]:
        """Awake episodes in ``(after_rowid, upto_rowid]`` whose score names ``scorer`` at a
        version below ``version`` (:func:`oneiro.store.scored.below`), in one read snapshot."""
        with self.db.read() as conn:
            return scored.below(conn, scorer, version, after_rowid, upto_rowid, limit)

    def episode_count(self) -> int:
        return episodes.count(self.db.conn())

    def episode_max_rowid(self) -> int:
        return episodes.max_rowid(self.db.conn())

    def backlog(self, after_rowid: int) -> tuple[int, float, float]:
        return episodes.importance_since(self.db.conn(), after_rowid)

    def last_awake_ts(self) -> float | None:
        return episodes.last_ts(self.db.conn())

    # -- entries ----------------------------------------------------------------------------
    def add_entries(
        self,
        batch: Sequence[Entry],
        matrix: Matrix | None,
        model: str,
        cycle_id: str | None = None,
    ) -> list[bool]:
        with self.db.write() as conn:
            fresh = entries.insert(conn, batch, cycle_id)
            new_idx = [i for i, f in enumerate(fresh) if f]
            if new_idx:
                if matrix is not None:
                    vectors.put(conn, [(batch[i].id, "entry") for i in new_idx], matrix[new_idx], model)
                fts.add(
                    conn, [(batch[i].id, "entry", batch[i].text, " ".join(batch[i].keys)) for i in new_idx]
                )
                meta.bump(conn, ENTRIES_VERSION)
            return fresh

    def update_entry(self, entry_id: str, changes: dict[str, Any], cycle_id: str | None = None) -> None:
        with self.db.write() as conn:
            entries.update(conn, entry_id, changes, cycle_id)
            meta.bump(conn, ENTRIES_VERSION)

    def update_entries(self, updates: Mapping[str, dict[str, Any]], cycle_id: str | None = None) -> None:
        """Several :meth:`update_entry` calls in one transaction, with one version bump."""
        with self.db.write() as conn:
            for entry_id, changes in updates.items():
                entries.update(conn, entry_id, changes, cycle_id)
            if updates:
                meta.bump(conn, ENTRIES_VERSION)

    def entries(self, ids: Sequence[str]) -> dict[str, Entry]:
        return entries.get(self.db.conn(), ids)

    def count_entry_uses(self, counts: Mapping[str, tuple[int, int, int]]) -> int:
        """Add recall's uses and outcomes' credit to entries (no entries-version bump: counters
        change no entry's visibility, so recall's cached view stays valid)."""
        with self.db.write() as conn:
            return entries.count_uses(conn, counts)

    def entries_citing(self, episode_ids: Sequence[str]) -> dict[str, list[str]]:
        return entries.citing(self.db.conn(), episode_ids)

    def visible_entries(self, ids: Sequence[str], floor: float) -> set[str]:
        return entries.visible(self.db.conn(), ids, floor)

    def entry_counts(self) -> dict[str, int]:
        return entries.count_by_status(self.db.conn())

    # -- vectors and text -------------------------------------------------------------------
    def load_vectors(self, model: str, after_rowid: int = 0) -> VectorRows:
        return vectors.load(self.db.conn(), model, after_rowid)

    def vectors_for(self, ids: Sequence[str], model: str) -> dict[str, Any]:
        return vectors.get(self.db.conn(), ids, model)

    def built_with(self) -> tuple[str, int] | None:
        """(model, dimension) of the store's vectors; None while it has none."""
        return vectors._built_with(self.db.conn())

    def check_embedder(self, model: str, dim: int) -> None:
        vectors.check_dim(self.db.conn(), model, dim)

    def search_text(self, query: str, limit: int) -> list[tuple[str, str, float]]:
        return fts.search(self.db.conn(), query, limit)

    def versions(self) -> tuple[int, int, int]:
        """(vectors max rowid, vectors epoch, entries version): cheap change detection."""
        conn = self.db.conn()
        return (
            vectors.max_rowid(conn),
            int(meta.get(conn, VECTORS_EPOCH, "0") or 0),
            int(meta.get(conn, ENTRIES_VERSION, "0") or 0),
        )

    # -- meta, journal, cycles --------------------------------------------------------------
    def get_meta(self, key: str, default: str | None = None) -> str | None:
        return meta.get(self.db.conn(), key, default)

    def put_meta(self, key: str, value: str) -> None:
        with self.db.write() as conn:
            meta.put(conn, key, value)

    def journal_append(
        self,
        ts: float,
        kind: str,
        payload: dict[str, Any],
        *,
        cycle_id: str | None = None,
        phase: str | None = None,
    ) -> journal.Record:
        with self.db.write() as conn:
            return journal.append(conn, ts, kind, payload, cycle_id=cycle_id, phase=phase)

    def journal_read(self, **filters: Any) -> list[journal.Record]:
        return journal.read(self.db.conn(), **filters)

    def journal_verify(self) -> int:
        with self.db.read() as conn:
            return journal.verify(conn)

    def create_cycle(
        self,
        cycle_id: str,
        started_at: float,
        budget: dict[str, Any],
        reason: str,
        pid: int,
        checkpoint: dict[str, Any],
    ) -> None:
        with self.db.write() as conn:
            cycles.create(conn, cycle_id, started_at, budget, reason, pid)
            cycles.update(conn, cycle_id, checkpoint=checkpoint)

    def update_cycle(self, cycle_id: str, **changes: Any) -> None:
        with self.db.write() as conn:
            cycles.update(conn, cycle_id, **changes)
            if "status" in changes:
                meta.bump(conn, ENTRIES_VERSION)

    def cycle(self, cycle_id: str) -> cycles.CycleRow | None:
        return cycles.get(self.db.conn(), cycle_id)

    def cycles_with_status(self, *statuses: str) -> list[cycles.CycleRow]:
        return cycles.with_status(self.db.conn(), *statuses)

    def recent_cycles(self, limit: int = 20) -> list[cycles.CycleRow]:
        return cycles.recent(self.db.conn(), limit)

    def cycle_count(self) -> int:
        """How many cycles the store holds, whatever their status (no checkpoint is read)."""
        return cycles.count(self.db.conn())

    def revert_writes(self, cycle_id: str) -> int:
        """Undo every write logged for ``cycle_id`` (inside the caller's transaction)."""
        with self.db.write() as conn:
            n = undo.revert(conn, cycle_id)
            meta.bump(conn, ENTRIES_VERSION)
            meta.bump(conn, VECTORS_EPOCH)
            return n

    # -- forgetting -------------------------------------------------------------------------
    def forget_select(self, ids: Sequence[str], actor: str | None, session: str | None) -> list[Episode]:
        return forget.select(self.db.conn(), ids, actor, session)

    def forget_citing(self, source_ids: Sequence[str]) -> set[str]:
        return forget.citing(self.db.conn(), source_ids)

    def forget_quoting(self, texts: Sequence[str]) -> set[str]:
        return forget.quoting(self.db.conn(), texts)

    def evidence_for(self, entry_ids: Sequence[str]) -> dict[str, list[evidence.EvidenceRow]]:
        return evidence.for_entries(self.db.conn(), entry_ids)

    def journal_containing(self, needles: Sequence[str]) -> list[int]:
        return journal.containing(self.db.conn(), needles)

    def forget_apply(self, plan: ForgetPlan) -> None:
        """Carry out a forget plan (:mod:`oneiro.forget`) in one write transaction."""
        with self.db.write() as conn:
            forget.apply(conn, plan.episodes, plan.removed_entries, plan.trimmed, plan.rejudged, plan.journal)

    def scrub(self) -> None:
        """Merge the text index, checkpoint and vacuum, so deleted bytes leave the file."""
        if not self.db.in_memory:
            forget.scrub(self.db.conn())

    # -- the dream lease ------------------------------------------------------------------------
    def lease_acquire(
        self, holder: str, host: str, pid: int, now: float, ttl: float
    ) -> tuple[bool, Lease | None]:
        """Take the dream lease atomically (:mod:`oneiro.store.lease`)."""
        with self.db.write() as conn:
            return lease.acquire(conn, holder, host, pid, now, ttl)

    def lease_renew(self, holder: str, now: float, ttl: float) -> bool:
        with self.db.write() as conn:
            return lease.renew(conn, holder, now, ttl)

    def lease_release(self, holder: str) -> bool:
        with self.db.write() as conn:
            return lease.release(conn, holder)

    def lease_holder(self) -> Lease | None:
        return lease.get(self.db.conn())

    # -- export and import --------------------------------------------------------------------
    def export_lines(self, model: str | None) -> Iterator[str]:
        """The store as JSON lines (:mod:`oneiro.store.transfer`), from one read snapshot."""
        with self.db.read() as conn:
            yield from transfer.export_lines(conn, model)

    def import_lines(self, lines: Iterable[str]) -> dict[str, int]:
        """Load an export into this (empty) store, all or nothing."""
        with self.db.write() as conn:
            counts = transfer.import_lines(conn, lines)
            meta.bump(conn, ENTRIES_VERSION)
            meta.bump(conn, VECTORS_EPOCH)
            return counts

    def integrity_check(self) -> str:
        """'ok', or what is wrong. A check that cannot run to its end (it evaluates a damaged value
        for an index or a constraint, such as malformed JSON) reports that, never raises."""
        try:
            return str(self.db.conn().execute("PRAGMA integrity_check").fetchone()[0])
        except sqlite3.DatabaseError as exc:
            return f"the check stopped on damaged data: {exc}"

    def schema_version(self) -> int:
        return migrations.current_version(self.db.conn())
