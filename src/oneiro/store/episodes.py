"""Episode rows: insert once by content address, read by id, rowid or filter."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Sequence

from oneiro.model import Affect, Episode, Provenance, canonical_json

COLUMNS = (
    "id, ts, session, actor, kind, text, data, context, affect_p, affect_a, affect_d, "
    "prediction, outcome, feedback, refs, provenance, importance"
)


def insert(conn: sqlite3.Connection, episodes: Sequence[Episode]) -> list[bool]:
    """Insert episodes not already stored; True for each one that is new."""
    now = time.time()
    fresh: list[bool] = []
    for ep in episodes:
        a = ep.affect
        cur = conn.execute(
            f"INSERT OR IGNORE INTO episodes ({COLUMNS}, recorded_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                ep.id,
                ep.ts,
                ep.session,
                ep.actor,
                ep.kind,
                ep.text,
                canonical_json(ep.data),
                canonical_json(ep.context),
                None if a is None else a.pleasure,
                None if a is None else a.arousal,
                None if a is None else a.dominance,
                ep.prediction,
                ep.outcome,
                ep.feedback,
                canonical_json(list(ep.refs)),
                ep.provenance.value,
                ep.importance,
                now,
            ),
        )
        fresh.append(cur.rowcount == 1)
    return fresh


def from_row(row: sqlite3.Row) -> Episode:
    affect = None
    if row["affect_a"] is not None:
        affect = Affect(row["affect_p"], row["affect_a"], row["affect_d"])
    return Episode(
        id=row["id"],
        ts=row["ts"],
        text=row["text"],
        session=row["session"],
        actor=row["actor"],
        kind=row["kind"],
        data=json.loads(row["data"]),
        context=json.loads(row["context"]),
        affect=affect,
        prediction=row["prediction"],
        outcome=row["outcome"],
        feedback=row["feedback"],
        refs=tuple(json.loads(row["refs"])),
        provenance=Provenance(row["provenance"]),
        importance=row["importance"],
    )


def get(conn: sqlite3.Connection, ids: Iterable[str]) -> dict[str, Episode]:
    out: dict[str, Episode] = {}
    id_list = list(dict.fromkeys(ids))
    for start in range(0, len(id_list), 500):
        chunk = id_list[start : start + 500]
        marks = ",".join("?" * len(chunk))
        for row in conn.execute(f"SELECT {COLUMNS} FROM episodes WHERE id IN ({marks})", chunk):
            out[row["id"]] = from_row(row)
    return out


def since(
    conn: sqlite3.Connection, after_rowid: int, *, limit: int | None = None
) -> list[tuple[int, Episode]]:
    """Episodes recorded after ``after_rowid``, oldest first, with their rowids."""
    sql = f"SELECT rowid, {COLUMNS} FROM episodes WHERE rowid > ? ORDER BY rowid"
    params: list[object] = [after_rowid]
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    return [(row["rowid"], from_row(row)) for row in conn.execute(sql, params)]


def in_sessions(conn: sqlite3.Connection, sessions: Iterable[str]) -> list[Episode]:
    """Every episode of the given sessions, in time order (for context around new turns)."""
    names = list(dict.fromkeys(sessions))
    out: list[Episode] = []
    for start in range(0, len(names), 500):
        chunk = names[start : start + 500]
        marks = ",".join("?" * len(chunk))
        rows = conn.execute(
            f"SELECT {COLUMNS} FROM episodes WHERE session IN ({marks}) ORDER BY ts, rowid", chunk
        )
        out.extend(from_row(r) for r in rows)
    return out


def around(conn: sqlite3.Connection, session: str, ts_from: float, ts_to: float, width: int) -> list[Episode]:
    """The episodes of ``session`` with ``ts_from <= ts <= ts_to``, plus ``width`` before and after,
    in time order: the context of new turns without reading a whole long session."""
    before = conn.execute(
        f"SELECT {COLUMNS} FROM episodes WHERE session = ? AND ts < ? ORDER BY ts DESC, rowid DESC LIMIT ?",
        (session, ts_from, width),
    ).fetchall()
    inside = conn.execute(
        f"SELECT {COLUMNS} FROM episodes WHERE session = ? AND ts >= ? AND ts <= ? ORDER BY ts, rowid",
        (session, ts_from, ts_to),
    ).fetchall()
    after = conn.execute(
        f"SELECT {COLUMNS} FROM episodes WHERE session = ? AND ts > ? ORDER BY ts, rowid LIMIT ?",
        (session, ts_to, width),
    ).fetchall()
    return [from_row(r) for r in [*reversed(before), *inside, *after]]


def count(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT COUNT(*) FROM episodes").fetchone()[0])


def max_rowid(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT COALESCE(MAX(rowid), 0) FROM episodes").fetchone()[0])


def importance_since(conn: sqlite3.Connection, after_rowid: int) -> tuple[int, float, float]:
    """(count, importance sum, |residual| sum) of awake episodes after ``after_rowid``."""
    row = conn.execute(
        "SELECT COUNT(*), COALESCE(SUM(importance), 0), "
        "COALESCE(SUM(ABS(outcome - prediction)), 0) FROM episodes "
        "WHERE rowid > ? AND provenance = 'awake'",
        (after_rowid,),
    ).fetchone()
    return int(row[0]), float(row[1]), float(row[2])


def last_ts(conn: sqlite3.Connection) -> float | None:
    row = conn.execute("SELECT MAX(recorded_at) FROM episodes WHERE provenance = 'awake'").fetchone()
    return None if row[0] is None else float(row[0])
