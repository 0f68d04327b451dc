"""Evidence rows: which awake episode confirmed (+1) or refuted (-1) which entry.

Only the validator writes here, and only for awake episodes (it checks provenance before calling);
the primary key (entry, episode) makes a second judgement of the same pair a no-op, so re-running
validation over the same episodes cannot inflate a count.

Rows are read back with the judging episode's store-vouched origin (its record time and party,
:class:`oneiro.store.episodes.Origin`), joined from ``episodes`` rather than taken from the row's
own ``ts`` and ``session`` columns: rows written before record time and parties existed then count
the same way as new ones.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

from oneiro.model import Entry, EntryStatus
from oneiro.store import entries
from oneiro.store.episodes import party_of
from oneiro.store.query import EntryQuery
from oneiro.store.query import hypotheses as hypotheses_query

#: Hypotheses awake experience may still judge.
TESTABLE = EntryQuery(
    statuses=(EntryStatus.STAGED, EntryStatus.VALIDATED), data_keys=("test",), returned=True
)


@dataclass(frozen=True)
class EvidenceRow:
    """One judgement: ``recorded_at`` is the judging episode's record time (store clock) and
    ``party`` who or what produced it (an actor, or a dispatch the agent observed)."""

    entry_id: str
    episode_id: str
    polarity: int
    recorded_at: float
    party: str


@dataclass(frozen=True)
class Grounds:
    """What a hypothesis rests on, followed through source entries down to episodes: the episode
    ids and the parties that produced them."""

    episodes: frozenset[str]
    parties: frozenset[str]


def insert(conn: sqlite3.Connection, row: EvidenceRow) -> bool:
    """Store one judgement unless that (entry, episode) pair is already judged; True when new."""
    cur = conn.execute(
        "INSERT OR IGNORE INTO evidence (entry_id, episode_id, polarity, ts, session) VALUES (?, ?, ?, ?, ?)",
        (row.entry_id, row.episode_id, row.polarity, row.recorded_at, row.party),
    )
    return cur.rowcount == 1


def for_entries(conn: sqlite3.Connection, ids: Iterable[str]) -> dict[str, list[EvidenceRow]]:
    """Every evidence row of each entry, oldest record time first."""
    id_list = list(dict.fromkeys(ids))
    out: dict[str, list[EvidenceRow]] = {i: [] for i in id_list}
    for start in range(0, len(id_list), 500):
        chunk = id_list[start : start + 500]
        marks = ",".join("?" * len(chunk))
        for r in conn.execute(
            "SELECT v.entry_id, v.episode_id, v.polarity, e.recorded_at, e.actor, e.dispatch_seq "
            f"FROM evidence v JOIN episodes e ON e.id = v.episode_id WHERE v.entry_id IN ({marks}) "
            "ORDER BY e.recorded_at, v.episode_id",
            chunk,
        ):
            out[r[0]].append(EvidenceRow(r[0], r[1], int(r[2]), float(r[3]), party_of(r[4], r[5])))
    return out


def grounds(conn: sqlite3.Connection, entry_id: str) -> Grounds:
    """The episodes ``entry_id`` rests on, through any depth of source entries (a source cycle
    cannot loop: each entry is visited once), and their parties."""
    rows = conn.execute(
        "WITH RECURSIVE walk(id) AS ("
        " SELECT source_id FROM entry_sources WHERE entry_id = ?"
        " UNION SELECT s.source_id FROM entry_sources s JOIN walk w ON s.entry_id = w.id)"
        " SELECT e.id, e.actor, e.dispatch_seq FROM walk JOIN episodes e ON e.id = walk.id",
        (entry_id,),
    ).fetchall()
    return Grounds(frozenset(r[0] for r in rows), frozenset(party_of(r[1], r[2]) for r in rows))


def testable(conn: sqlite3.Connection) -> list[Entry]:
    """Hypotheses awake experience may still confirm or refute: staged or validated, carrying a
    ``data.test``, made by a returned cycle (or awake)."""
    return entries.select(conn, TESTABLE)


def expirable(conn: sqlite3.Connection, now: float, expiry_seconds: float) -> list[Entry]:
    """Staged dream-made entries whose support is older than the expiry period. ``expires_at`` is
    set by the validator from record times, so a writer's timestamp cannot postpone it."""
    return entries.where(
        conn,
        f"status = 'staged' AND provenance != 'awake' AND COALESCE(expires_at, created_at + ?) <= ? "
        f"AND {entries.RETURNED_CLAUSE}",
        (expiry_seconds, now),
    )


def hypotheses(conn: sqlite3.Connection, statuses: Iterable[str]) -> list[Entry]:
    """Dream-made hypotheses (entries carrying a ``data.test``) in the given statuses."""
    return entries.select(conn, hypotheses_query(statuses))
