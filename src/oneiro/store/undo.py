"""The undo log: how a whole cycle is reverted as one unit.

Every write a cycle makes goes through here first: an insert records its key, an update records
the before-image of the columns it changes. ``revert`` replays the log backwards, so after it the
tables a cycle touched hold exactly what they held before the cycle. Episodes and the journal are
never in the log: a cycle does not write episodes, and the journal keeps its record of the cycle.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

#: Tables a cycle may write, with their key column. Vectors and full-text rows of an entry go
#: with the entry.
KEY_COLUMNS: dict[str, str] = {"entries": "id", "predictions": "id", "evidence": "rowid"}


def _key_column(table: str) -> str:
    try:
        return KEY_COLUMNS[table]
    except KeyError:
        raise ValueError(f"table {table!r} is not undoable") from None


def register(table: str, key_column: str) -> None:
    """Let a later module (playbook, predictions) make its own tables undoable."""
    KEY_COLUMNS[table] = key_column


def record_insert(conn: sqlite3.Connection, cycle_id: str, table: str, key: str) -> None:
    _key_column(table)
    conn.execute(
        "INSERT INTO undo_log (cycle_id, tbl, key, before) VALUES (?, ?, ?, NULL)",
        (cycle_id, table, key),
    )


def update(
    conn: sqlite3.Connection, table: str, key: str, changes: dict[str, Any], cycle_id: str | None
) -> None:
    """Apply ``changes`` to one row, logging its before-image when a cycle makes the change."""
    column = _key_column(table)
    names = list(changes)
    if cycle_id is not None:
        row = conn.execute(f"SELECT {', '.join(names)} FROM {table} WHERE {column} = ?", (key,)).fetchone()
        if row is None:
            return
        before = {n: row[n] for n in names}
        conn.execute(
            "INSERT INTO undo_log (cycle_id, tbl, key, before) VALUES (?, ?, ?, ?)",
            (cycle_id, table, key, json.dumps(before)),
        )
    sets = ", ".join(f"{n} = ?" for n in names)
    conn.execute(f"UPDATE {table} SET {sets} WHERE {column} = ?", [*changes.values(), key])


def revert(conn: sqlite3.Connection, cycle_id: str) -> int:
    """Undo every logged write of ``cycle_id``, newest first; return how many were undone."""
    rows = conn.execute(
        "SELECT seq, tbl, key, before FROM undo_log WHERE cycle_id = ? ORDER BY seq DESC",
        (cycle_id,),
    ).fetchall()
    for row in rows:
        table, key = row["tbl"], row["key"]
        column = _key_column(table)
        if row["before"] is None:
            if table == "entries":
                conn.execute("DELETE FROM vectors WHERE item_id = ?", (key,))
                conn.execute("DELETE FROM search WHERE item_id = ?", (key,))
            conn.execute(f"DELETE FROM {table} WHERE {column} = ?", (key,))
        else:
            before = json.loads(row["before"])
            sets = ", ".join(f"{n} = ?" for n in before)
            conn.execute(f"UPDATE {table} SET {sets} WHERE {column} = ?", [*before.values(), key])
    conn.execute("DELETE FROM undo_log WHERE cycle_id = ?", (cycle_id,))
    return len(rows)
