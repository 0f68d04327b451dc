"""Prediction rows: what a dream expects, with the checkpoint (``due_at``) by which awake
experience must resolve it.

Status moves ``open`` -> ``confirmed`` | ``refuted`` (an awake episode resolved it before its
checkpoint) | ``lapsed`` (the checkpoint passed unresolved). The cycle inserts predictions inside
its transaction, undo-logged, so reverting the cycle removes them.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from oneiro.dream.writes import Prediction
from oneiro.model import canonical_json
from oneiro.store import undo
from oneiro.store.cycles import RETURNED_SQL

OPEN = "open"


@dataclass(frozen=True)
class PredictionRow:
    id: str
    cycle_id: str | None
    entry_id: str | None
    text: str
    due_at: float
    status: str
    made_at: float
    data: dict[str, Any] = field(default_factory=dict)
    resolved_by: str | None = None
    resolved_at: float | None = None


def insert(conn: sqlite3.Connection, predictions: Sequence[Prediction], cycle_id: str) -> None:
    """Store a cycle's predictions (ids already stored are kept as they are)."""
    for p in predictions:
        cur = conn.execute(
            "INSERT OR IGNORE INTO predictions (id, cycle_id, entry_id, text, data, due_at, status) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (p.id, cycle_id, p.entry_id, p.text, canonical_json(p.data), p.due_at, OPEN),
        )
        if cur.rowcount == 1:
            undo.record_insert(conn, cycle_id, "predictions", p.id)


def _row(r: sqlite3.Row) -> PredictionRow:
    return PredictionRow(
        id=r["id"],
        cycle_id=r["cycle_id"],
        entry_id=r["entry_id"],
        text=r["text"],
        due_at=r["due_at"],
        status=r["status"],
        made_at=r["made_at"],
        data=json.loads(r["data"]),
        resolved_by=r["resolved_by"],
        resolved_at=r["resolved_at"],
    )


def select(conn: sqlite3.Connection, status: str | None = None) -> list[PredictionRow]:
    """Predictions of returned cycles (or made awake), by checkpoint; ``made_at`` is when the
    cycle started."""
    sql = (
        "SELECT p.*, COALESCE(c.started_at, 0) AS made_at FROM predictions p "
        f"LEFT JOIN cycles c ON c.id = p.cycle_id WHERE (p.cycle_id IS NULL OR c.status IN {RETURNED_SQL})"
    )
    params: list[Any] = []
    if status is not None:
        sql += " AND p.status = ?"
        params.append(status)
    return [_row(r) for r in conn.execute(sql + " ORDER BY p.due_at, p.id", params)]


def resolve(conn: sqlite3.Connection, prediction_id: str, status: str, by: str | None, at: float) -> None:
    conn.execute(
        "UPDATE predictions SET status = ?, resolved_by = ?, resolved_at = ? WHERE id = ? AND status = ?",
        (status, by, at, prediction_id, OPEN),
    )
