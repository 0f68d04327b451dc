"""Small key/value settings of a store (schema facts, the persisted mode, counters)."""

from __future__ import annotations

import sqlite3

#: Bumped whenever entry visibility can change (an entry's status or confidence, a cycle's status)
#: so that in-memory indexes know to refresh.
ENTRIES_VERSION = "entries_version"


def get(conn: sqlite3.Connection, key: str, default: str | None = None) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return default if row is None else str(row[0])


def put(conn: sqlite3.Connection, key: str, value: str) -> None:
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


def bump(conn: sqlite3.Connection, key: str) -> int:
    """Increment an integer counter (used to tell in-memory caches that rows changed)."""
    value = int(get(conn, key, "0") or 0) + 1
    put(conn, key, str(value))
    return value
