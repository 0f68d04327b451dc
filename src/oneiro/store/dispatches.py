"""The ``dispatches`` table: the immutable record of every effectful dispatch.

A row says which pipeline was asked what (``request``, canonical JSON, and its ``request_hash``), in
which mode, what came back (``response``, JSON text) and how it ended (``status``, ``error``). Rows
are never updated (a trigger refuses it), so replay shadows can answer from them and an audit can
see exactly what went out into the world.

``response`` is SQL NULL when there is no response to replay (an error, a skip, or a value that was
not JSON); a pipeline that returned ``None`` is stored as the JSON text ``null``.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

#: Replay answers only from calls that really went out and came back.
REPLAYABLE_MODE = "awake"
REPLAYABLE_STATUS = "ok"


@dataclass(frozen=True)
class DispatchRow:
    """One recorded dispatch, with ``response`` decoded from JSON."""

    seq: int
    ts: float
    mode: str
    pipeline: str
    effect: str
    status: str
    request_hash: str
    request: str
    response: Any
    has_response: bool
    error: str | None
    cycle_id: str | None


def insert(
    conn: sqlite3.Connection,
    *,
    ts: float,
    mode: str,
    pipeline: str,
    effect: str,
    status: str,
    request_hash: str,
    request: str,
    response: str | None,
    error: str | None,
    cycle_id: str | None,
) -> int:
    """Append one row (inside the caller's write transaction); returns its ``seq``."""
    cur = conn.execute(
        "INSERT INTO dispatches (ts, mode, pipeline, effect, status, request_hash, request, response, "
        "error, cycle_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (ts, mode, pipeline, effect, status, request_hash, request, response, error, cycle_id),
    )
    return int(cur.lastrowid or 0)


def latest_replayable(conn: sqlite3.Connection, pipeline: str, request_hash: str) -> DispatchRow | None:
    """The most recent awake, successful dispatch of ``pipeline`` for this request, if any."""
    row = conn.execute(
        "SELECT * FROM dispatches WHERE pipeline = ? AND request_hash = ? AND mode = ? AND status = ? "
        "AND response IS NOT NULL ORDER BY seq DESC LIMIT 1",
        (pipeline, request_hash, REPLAYABLE_MODE, REPLAYABLE_STATUS),
    ).fetchone()
    return None if row is None else _row(row)


def recent(
    conn: sqlite3.Connection, *, pipeline: str | None = None, mode: str | None = None, limit: int = 100
) -> list[DispatchRow]:
    """The newest rows first, optionally for one pipeline and/or one mode."""
    clauses, params = _filters(pipeline, mode)
    rows = conn.execute(
        f"SELECT * FROM dispatches WHERE {clauses} ORDER BY seq DESC LIMIT ?", (*params, limit)
    ).fetchall()
    return [_row(r) for r in rows]


def count(conn: sqlite3.Connection, *, pipeline: str | None = None, mode: str | None = None) -> int:
    clauses, params = _filters(pipeline, mode)
    return int(conn.execute(f"SELECT COUNT(*) FROM dispatches WHERE {clauses}", params).fetchone()[0])


def _filters(pipeline: str | None, mode: str | None) -> tuple[str, tuple[str, ...]]:
    clauses = ["1"]
    params: list[str] = []
    if pipeline is not None:
        clauses.append("pipeline = ?")
        params.append(pipeline)
    if mode is not None:
        clauses.append("mode = ?")
        params.append(mode)
    return " AND ".join(clauses), tuple(params)


def _row(row: sqlite3.Row) -> DispatchRow:
    raw = row["response"]
    return DispatchRow(
        seq=int(row["seq"]),
        ts=float(row["ts"]),
        mode=str(row["mode"]),
        pipeline=str(row["pipeline"]),
        effect=str(row["effect"]),
        status=str(row["status"]),
        request_hash=str(row["request_hash"]),
        request=str(row["request"]),
        response=None if raw is None else json.loads(raw),
        has_response=raw is not None,
        error=row["error"],
        cycle_id=row["cycle_id"],
    )
