"""Evidence rows: which awake episode confirmed (+1) or refuted (-1) which entry, and when.

Only the validator writes here, and only for awake episodes (it checks provenance before calling);
the primary key (entry, episode) makes a second judgement of the same pair a no-op, so re-running
validation over the same episodes cannot inflate a count.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

from oneiro.model import Entry
from oneiro.store import entries
from oneiro.store.cycles import RETURNED_SQL

#: Entries of a cycle count only once RETURN has made the cycle's view active.
_RETURNED = f"(cycle_id IS NULL OR cycle_id IN (SELECT id FROM cycles WHERE status IN {RETURNED_SQL}))"


@dataclass(frozen=True)
class EvidenceRow:
    entry_id: str
    episode_id: str
    polarity: int
    ts: float
    session: str


def insert(conn: sqlite3.Connection, row: EvidenceRow) -> bool:
    """Store one judgement unless that (entry, episode) pair is already judged; True when new."""
    cur = conn.execute(
        "INSERT OR IGNORE INTO evidence (entry_id, episode_id, polarity, ts, session) VALUES (?, ?, ?, ?, ?)",
        (row.entry_id, row.episode_id, row.polarity, row.ts, row.session),
    )
    return cur.rowcount == 1


def for_entries(conn: sqlite3.Connection, ids: Iterable[str]) -> dict[str, list[EvidenceRow]]:
    """Every evidence row of each entry, oldest first."""
    id_list = list(dict.fromkeys(ids))
    out: dict[str, list[EvidenceRow]] = {i: [] for i in id_list}
    for start in range(0, len(id_list), 500):
        chunk = id_list[start : start + 500]
        marks = ",".join("?" * len(chunk))
        for r in conn.execute(
            f"SELECT entry_id, episode_id, polarity, ts, session FROM evidence "
            f"WHERE entry_id IN ({marks}) ORDER BY ts, episode_id",
            chunk,
        ):
            out[r["entry_id"]].append(EvidenceRow(r[0], r[1], int(r[2]), float(r[3]), r[4]))
    return out


def testable(conn: sqlite3.Connection) -> list[Entry]:
    """Hypotheses awake experience may still confirm or refute: staged or validated, carrying a
    ``data.test``, made by a returned cycle (or awake)."""
    return entries.where(
        conn,
        f"status IN ('staged', 'validated') AND json_extract(data, '$.test') IS NOT NULL AND {_RETURNED}",
    )


def expirable(conn: sqlite3.Connection, now: float, expiry_seconds: float) -> list[Entry]:
    """Staged dream-made entries whose support is older than the expiry period."""
    return entries.where(
        conn,
        f"status = 'staged' AND provenance != 'awake' AND COALESCE(expires_at, created_at + ?) <= ? "
        f"AND {_RETURNED}",
        (expiry_seconds, now),
    )


def hypotheses(conn: sqlite3.Connection, statuses: Iterable[str]) -> list[Entry]:
    """Dream-made hypotheses (entries carrying a ``data.test``) in the given statuses."""
    wanted = list(statuses)
    marks = ",".join("?" * len(wanted))
    return entries.where(conn, f"status IN ({marks}) AND json_extract(data, '$.test') IS NOT NULL", wanted)
