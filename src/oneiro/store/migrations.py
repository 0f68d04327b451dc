"""Named, ordered, transactional migrations with a version table.

``pending()`` reads; ``apply()`` writes all pending migrations in one transaction, each recorded in
``_migrations``. A store whose highest applied migration is beyond what this code knows was made
by a newer oneiro and is refused rather than guessed at.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass

from oneiro.errors import MigrationError, SchemaTooNew
from oneiro.store import undo


@dataclass(frozen=True)
class Migration:
    seq: int
    name: str
    apply: Callable[[sqlite3.Connection], None]


def _script(sql: str) -> Callable[[sqlite3.Connection], None]:
    def run(conn: sqlite3.Connection) -> None:
        for statement in _split(sql):
            conn.execute(statement)

    return run


def _split(sql: str) -> list[str]:
    """Split on ``;`` at line ends, keeping trigger bodies (which end in ``END;``) whole."""
    out: list[str] = []
    buf: list[str] = []
    in_trigger = False
    for line in sql.splitlines():
        if not line.strip():
            continue
        buf.append(line)
        upper = line.strip().upper()
        if upper.startswith("CREATE TRIGGER"):
            in_trigger = True
        if upper.endswith(";") and (not in_trigger or upper == "END;"):
            out.append("\n".join(buf))
            buf = []
            in_trigger = False
    if buf:
        out.append("\n".join(buf))
    return out


INITIAL = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE episodes (
  rowid INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  ts REAL NOT NULL,
  session TEXT NOT NULL,
  actor TEXT NOT NULL,
  kind TEXT NOT NULL,
  text TEXT NOT NULL,
  data TEXT NOT NULL,
  context TEXT NOT NULL,
  affect_p REAL, affect_a REAL, affect_d REAL,
  prediction REAL, outcome REAL, feedback REAL,
  refs TEXT NOT NULL,
  provenance TEXT NOT NULL,
  importance REAL NOT NULL,
  recorded_at REAL NOT NULL
);
CREATE INDEX episodes_ts ON episodes(ts);
CREATE INDEX episodes_session ON episodes(session, ts);
CREATE TRIGGER episodes_immutable BEFORE UPDATE ON episodes
BEGIN
  SELECT RAISE(ABORT, 'episodes are immutable: record a correction instead');
END;
CREATE TRIGGER episodes_undeletable BEFORE DELETE ON episodes
BEGIN
  SELECT RAISE(ABORT, 'episodes are never deleted');
END;
CREATE TABLE entries (
  rowid INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL,
  text TEXT NOT NULL,
  data TEXT NOT NULL,
  keys TEXT NOT NULL,
  provenance TEXT NOT NULL,
  tier TEXT NOT NULL,
  cycle_id TEXT,
  confidence REAL NOT NULL,
  status TEXT NOT NULL,
  created_at REAL NOT NULL,
  valid_from REAL, valid_to REAL,
  superseded_by TEXT,
  fitness REAL NOT NULL DEFAULT 0, previous_fitness REAL NOT NULL DEFAULT 0,
  generation INTEGER NOT NULL DEFAULT 0, uses INTEGER NOT NULL DEFAULT 0,
  helpful INTEGER NOT NULL DEFAULT 0, harmful INTEGER NOT NULL DEFAULT 0,
  confirmations INTEGER NOT NULL DEFAULT 0, refutations INTEGER NOT NULL DEFAULT 0,
  expires_at REAL
);
CREATE INDEX entries_status ON entries(status, confidence);
CREATE INDEX entries_cycle ON entries(cycle_id);
CREATE TABLE entry_sources (
  entry_id TEXT NOT NULL REFERENCES entries(id) ON DELETE CASCADE,
  pos INTEGER NOT NULL,
  source_id TEXT NOT NULL,
  PRIMARY KEY (entry_id, pos)
);
CREATE INDEX entry_sources_source ON entry_sources(source_id);
CREATE TABLE evidence (
  entry_id TEXT NOT NULL REFERENCES entries(id) ON DELETE CASCADE,
  episode_id TEXT NOT NULL REFERENCES episodes(id),
  polarity INTEGER NOT NULL CHECK (polarity IN (-1, 1)),
  ts REAL NOT NULL,
  session TEXT NOT NULL,
  PRIMARY KEY (entry_id, episode_id)
);
CREATE TABLE predictions (
  id TEXT PRIMARY KEY,
  cycle_id TEXT,
  entry_id TEXT,
  text TEXT NOT NULL,
  data TEXT NOT NULL,
  due_at REAL NOT NULL,
  status TEXT NOT NULL,
  resolved_by TEXT,
  resolved_at REAL
);
CREATE TABLE cycles (
  id TEXT PRIMARY KEY,
  started_at REAL NOT NULL,
  ended_at REAL,
  status TEXT NOT NULL,
  phase TEXT,
  checkpoint TEXT NOT NULL,
  budget TEXT NOT NULL,
  reason TEXT NOT NULL,
  pid INTEGER,
  heartbeat REAL
);
CREATE TABLE undo_log (
  seq INTEGER PRIMARY KEY,
  cycle_id TEXT NOT NULL,
  tbl TEXT NOT NULL,
  key TEXT NOT NULL,
  before TEXT
);
CREATE INDEX undo_log_cycle ON undo_log(cycle_id, seq);
CREATE TABLE journal (
  seq INTEGER PRIMARY KEY,
  ts REAL NOT NULL,
  cycle_id TEXT,
  phase TEXT,
  kind TEXT NOT NULL,
  payload TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL
);
CREATE INDEX journal_cycle ON journal(cycle_id, seq);
CREATE TRIGGER journal_append_only BEFORE UPDATE ON journal
BEGIN
  SELECT RAISE(ABORT, 'the journal is append-only');
END;
CREATE TABLE dispatches (
  seq INTEGER PRIMARY KEY,
  ts REAL NOT NULL,
  mode TEXT NOT NULL,
  pipeline TEXT NOT NULL,
  effect TEXT NOT NULL,
  status TEXT NOT NULL,
  request_hash TEXT NOT NULL,
  request TEXT NOT NULL,
  response TEXT,
  error TEXT,
  cycle_id TEXT
);
CREATE INDEX dispatches_request ON dispatches(pipeline, request_hash, seq);
CREATE TRIGGER dispatches_immutable BEFORE UPDATE ON dispatches
BEGIN
  SELECT RAISE(ABORT, 'dispatches are immutable');
END;
CREATE TABLE vectors (
  rowid INTEGER PRIMARY KEY,
  item_id TEXT NOT NULL,
  item_type TEXT NOT NULL CHECK (item_type IN ('episode', 'entry')),
  model TEXT NOT NULL,
  dim INTEGER NOT NULL,
  vec BLOB NOT NULL,
  UNIQUE (item_id, model)
);
CREATE VIRTUAL TABLE search USING fts5(
  text, keys, item_id UNINDEXED, item_type UNINDEXED, tokenize = 'porter unicode61'
);
"""

PLAYBOOK = """
CREATE TABLE playbook_items (
  id TEXT PRIMARY KEY,
  pos INTEGER NOT NULL,
  section TEXT NOT NULL,
  text TEXT NOT NULL,
  params TEXT NOT NULL,
  helpful INTEGER NOT NULL DEFAULT 0,
  harmful INTEGER NOT NULL DEFAULT 0,
  version INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE playbook_revisions (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  op TEXT NOT NULL CHECK (op IN ('add', 'edit', 'remove')),
  item_id TEXT,
  section TEXT NOT NULL,
  text TEXT NOT NULL,
  params TEXT NOT NULL,
  reason TEXT NOT NULL,
  evidence TEXT NOT NULL,
  base_version INTEGER,
  base_sha TEXT NOT NULL,
  diff TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('proposed', 'active', 'rejected', 'rolled_back')),
  proposed_by TEXT NOT NULL,
  decided_by TEXT,
  decided_at REAL,
  decision TEXT,
  validated_sha TEXT,
  probes TEXT,
  before_items TEXT,
  activated_at REAL,
  cycle_id TEXT,
  created_at REAL NOT NULL
);
CREATE INDEX playbook_revisions_status ON playbook_revisions(status, seq);
CREATE TABLE constraints (
  name TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  spec TEXT NOT NULL,
  source TEXT NOT NULL,
  created_at REAL NOT NULL
);
"""

#: The journal was append-only for updates only; a deleted record is as much a forgery.
JOURNAL_UNDELETABLE = """
CREATE TRIGGER journal_undeletable BEFORE DELETE ON journal
BEGIN
  SELECT RAISE(ABORT, 'the journal is append-only');
END;
"""

#: An episode may report the outcome of one awake effectful dispatch. The store checks the link when
#: it records the episode and keeps it outside the writer's ``data``; one dispatch backs at most one
#: episode, so a real observation cannot be multiplied by citing it again.
EPISODE_OBSERVATION = """
ALTER TABLE episodes ADD COLUMN dispatch_seq INTEGER REFERENCES dispatches(seq);
CREATE UNIQUE INDEX episodes_dispatch ON episodes(dispatch_seq) WHERE dispatch_seq IS NOT NULL;
"""

#: Forgetting: the only path that may delete an episode or blank a journal record's payload. It
#: sets ``meta.forgetting`` inside its own write transaction (so no other connection ever sees the
#: key) and the triggers let exactly that through: an episode delete, and a journal update that
#: replaces the payload by the tombstone while keeping every hashed column. Records appended from
#: here on hash their payload's digest (``hash_v = 2``), so a tombstoned record still verifies.
FORGETTING = """
DROP TRIGGER episodes_undeletable;
CREATE TRIGGER episodes_undeletable BEFORE DELETE ON episodes
WHEN (SELECT value FROM meta WHERE key = 'forgetting') IS NULL
BEGIN
  SELECT RAISE(ABORT, 'episodes are never deleted (only forget removes them)');
END;
ALTER TABLE journal ADD COLUMN body_sha TEXT;
ALTER TABLE journal ADD COLUMN hash_v INTEGER NOT NULL DEFAULT 1;
DROP TRIGGER journal_append_only;
CREATE TRIGGER journal_append_only BEFORE UPDATE ON journal
WHEN (SELECT value FROM meta WHERE key = 'forgetting') IS NULL
  OR NEW.payload IS NOT '{"_forgotten":true}'
  OR NEW.seq IS NOT OLD.seq OR NEW.ts IS NOT OLD.ts OR NEW.cycle_id IS NOT OLD.cycle_id
  OR NEW.phase IS NOT OLD.phase OR NEW.kind IS NOT OLD.kind OR NEW.prev_hash IS NOT OLD.prev_hash
  OR NEW.hash IS NOT OLD.hash OR NEW.hash_v IS NOT OLD.hash_v
  OR (OLD.body_sha IS NOT NULL AND NEW.body_sha IS NOT OLD.body_sha)
BEGIN
  SELECT RAISE(ABORT, 'the journal is append-only');
END;
"""

#: Which cycle holds the store (:mod:`oneiro.store.lease`): a row, not process state.
LEASES = """
CREATE TABLE leases (
  name TEXT PRIMARY KEY,
  holder TEXT NOT NULL,
  host TEXT NOT NULL,
  pid INTEGER NOT NULL,
  started REAL NOT NULL,
  heartbeat REAL NOT NULL,
  expires REAL NOT NULL
);
"""

#: Supersession hypotheses looked up by the claim they make (``data.identity``), so that asking
#: whether a claim is already live reads that claim's rows, not every live entry. The expression
#: is the one :func:`oneiro.store.entries.translate` writes for ``data_has=(("identity", ...),)``.
ENTRY_IDENTITY = """
CREATE INDEX entries_data_identity ON entries(json_extract(data, '$.identity'));
"""

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "initial", _script(INITIAL)),
    Migration(2, "playbook", _script(PLAYBOOK)),
    Migration(3, "journal_undeletable", _script(JOURNAL_UNDELETABLE)),
    Migration(4, "episode_observation", _script(EPISODE_OBSERVATION)),
    Migration(5, "forgetting", _script(FORGETTING)),
    Migration(6, "leases", _script(LEASES)),
    Migration(7, "entry_identity", _script(ENTRY_IDENTITY)),
)

# A cycle's playbook proposals revert with the cycle, like its entries.
undo.register("playbook_items", "id")
undo.register("playbook_revisions", "id")
undo.register("constraints", "name")


def _ensure_table(conn: sqlite3.Connection) -> None:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS _migrations "
        "(seq INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)"
    )


def current_version(conn: sqlite3.Connection) -> int:
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_migrations'"
    ).fetchone()
    if not exists:
        return 0
    row = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM _migrations").fetchone()
    return int(row[0])


def pending(conn: sqlite3.Connection, migrations: tuple[Migration, ...] = MIGRATIONS) -> list[Migration]:
    """Migrations not yet applied, in order. Raises SchemaTooNew for a newer store."""
    version = current_version(conn)
    latest = migrations[-1].seq if migrations else 0
    if version > latest:
        raise SchemaTooNew(
            f"this store has schema version {version}, but this oneiro knows only up to {latest}; "
            "upgrade oneiro to open it"
        )
    return [m for m in migrations if m.seq > version]


def apply(conn: sqlite3.Connection, migrations: tuple[Migration, ...] = MIGRATIONS) -> list[str]:
    """Apply every pending migration in one transaction; return their names.

    Any failure (SQL or Python, even an interrupt) rolls the whole batch back, so the store is
    left at the version it had and the connection is not left inside a transaction.
    """
    done: list[str] = []
    conn.execute("BEGIN IMMEDIATE")
    try:
        _ensure_table(conn)
        todo = pending(conn, migrations)
        for migration in todo:
            migration.apply(conn)
            conn.execute(
                "INSERT INTO _migrations (seq, name, applied_at) VALUES (?, ?, ?)",
                (migration.seq, migration.name, time.time()),
            )
            done.append(migration.name)
        conn.execute("COMMIT")
    except SchemaTooNew:
        conn.execute("ROLLBACK")
        raise
    except Exception as exc:
        conn.execute("ROLLBACK")
        raise MigrationError(f"migration failed and was rolled back: {exc}") from exc
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return done
