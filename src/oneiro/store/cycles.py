"""Cycle rows: one per dream, with its status, current phase and last checkpoint.

Status moves ``running`` -> ``completed`` (RETURN made its view active), ``running`` -> ``partial``
(RETURN made its view active, but the budget ran out first: part of its backlog is left for the next
cycle), or ``running`` -> ``interrupted`` (woken; resumable) / ``failed``; any of them ->
``reverted``.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from oneiro.store import meta

#: Statuses of a cycle whose view is active: its entries are visible and what it consolidated
#: counts as consolidated.
RETURNED_STATUSES: tuple[str, ...] = ("completed", "partial")
#: The same, as an SQL list for ``status IN (...)``.
RETURNED_SQL = "(" + ", ".join(f"'{s}'" for s in RETURNED_STATUSES) + ")"


@dataclass(frozen=True)
class CycleRow:
    id: str
    started_at: float
    ended_at: float | None
    status: str
    phase: str | None
    checkpoint: dict[str, Any]
    budget: dict[str, Any]
    reason: str
    pid: int | None
    heartbeat: float | None


def _row(r: sqlite3.Row) -> CycleRow:
    return CycleRow(
        r["id"],
        r["started_at"],
        r["ended_at"],
        r["status"],
        r["phase"],
        json.loads(r["checkpoint"]),
        json.loads(r["budget"]),
        r["reason"],
        r["pid"],
        r["heartbeat"],
    )


def create(
    conn: sqlite3.Connection, cycle_id: str, started_at: float, budget: dict[str, Any], reason: str, pid: int
) -> None:
    conn.execute(
        "INSERT INTO cycles (id, started_at, status, phase, checkpoint, budget, reason, pid, heartbeat) "
        "VALUES (?, ?, 'running', NULL, '{}', ?, ?, ?, ?)",
        (cycle_id, started_at, json.dumps(budget), reason, pid, started_at),
    )


def get(conn: sqlite3.Connection, cycle_id: str) -> CycleRow | None:
    r = conn.execute("SELECT * FROM cycles WHERE id = ?", (cycle_id,)).fetchone()
    return None if r is None else _row(r)


def update(conn: sqlite3.Connection, cycle_id: str, **changes: Any) -> None:
    """Change a cycle's columns. A status change decides whether the cycle's entries are visible
    (only a completed cycle's are), so it also tells in-memory indexes to refresh."""
    values = {k: (json.dumps(v) if k in {"checkpoint", "budget"} else v) for k, v in changes.items()}
    sets = ", ".join(f"{k} = ?" for k in values)
    conn.execute(f"UPDATE cycles SET {sets} WHERE id = ?", [*values.values(), cycle_id])
    if "status" in changes:
        meta.bump(conn, meta.ENTRIES_VERSION)


def with_status(conn: sqlite3.Connection, *statuses: str) -> list[CycleRow]:
    marks = ",".join("?" * len(statuses))
    return [
        _row(r)
        for r in conn.execute(f"SELECT * FROM cycles WHERE status IN ({marks}) ORDER BY started_at", statuses)
    ]


def count(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT COUNT(*) FROM cycles").fetchone()[0])


def recent(conn: sqlite3.Connection, limit: int = 20) -> list[CycleRow]:
    return [
        _row(r)
        for r in conn.execute("SELECT * FROM cycles ORDER BY started_at DESC, rowid DESC LIMIT ?", (limit,))
    ]
