"""The SQL the row modules write, read by PostgreSQL.

The row modules under :mod:`oneiro.store` write portable SQL over a DB-API connection, with a
handful of SQLite spellings. :func:`rewrite` turns each statement into PostgreSQL's, so both
stores run the same statements and cannot drift apart:

* ``?`` placeholders (outside quotes) become ``%s``, and every ``%`` becomes ``%%`` (statements
  always go with a parameter list, so psycopg reads them the same way);
* ``INSERT OR IGNORE`` becomes ``INSERT ... ON CONFLICT DO NOTHING``;
* a bare ``1``/``0`` condition (``WHERE 1``, ``AND 0``) becomes ``TRUE``/``FALSE``;
* the unary ``+`` that keeps SQLite off an index (``+status``) is dropped;
* the catalogue questions (``sqlite_master`` tables, ``PRAGMA table_info``) read
  ``information_schema`` of the agent's schema, and ``PRAGMA integrity_check`` answers ``ok``;
* a single-row ``INSERT`` into a table with a row number returns it (``lastrowid``).

``json_extract``, ``instr`` and ``oneiro_text_key`` are SQL functions the PostgreSQL schema
defines (:mod:`oneiro.store.postgres.schema`), so the row modules' expressions need no rewriting.
"""

from __future__ import annotations

import re
from functools import lru_cache

#: Tables whose rows carry a row number an INSERT should hand back, and its column (SQLite's
#: ``INTEGER PRIMARY KEY`` tables name it ``seq``; the others have ``rowid``).
ROW_NUMBER = {
    "dispatches": "seq",
    "journal": "seq",
    "undo_log": "seq",
    "playbook_revisions": "seq",
    "episodes": "rowid",
    "entries": "rowid",
    "evidence": "rowid",
    "vectors": "rowid",
    "search": "rowid",
    "cycles": "rowid",
}

_TOKENS = re.compile(r"('(?:[^']|'')*'|\"(?:[^\"]|\"\")*\")|(\?)|(%)")
_BOOLEAN = re.compile(r"\b(WHERE|AND|OR)\s+([01])(?=\s+(?:AND|OR|ORDER|LIMIT|GROUP)\b|\s*\)|\s*$)")
_UNARY_PLUS = re.compile(r"(?<=[\s(])\+(?=[A-Za-z_])")
_OR_IGNORE = re.compile(r"^\s*INSERT\s+OR\s+IGNORE\s+INTO\b", re.IGNORECASE)
_INSERT_INTO = re.compile(r"^\s*INSERT\s+INTO\s+\"?(\w+)\"?", re.IGNORECASE)
_TABLE_INFO = re.compile(r"^\s*PRAGMA\s+table_info\(\"?(\w+)\"?\)\s*$", re.IGNORECASE)
_SQLITE_MASTER = re.compile(r"\bsqlite_master\b")
#: ``sqlite_master`` as far as the row modules read it: the agent schema's tables.
TABLES_SQL = (
    "(SELECT table_name::text AS name, 'table'::text AS type FROM information_schema.tables "
    "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE') AS sqlite_master"
)
COLUMNS_SQL = (
    "SELECT ordinal_position - 1 AS cid, column_name AS name FROM information_schema.columns "
    "WHERE table_schema = current_schema() AND table_name = '{table}' ORDER BY ordinal_position"
)


def _placeholders(sql: str) -> str:
    def swap(match: re.Match[str]) -> str:
        if match.group(1):  # psycopg reads % everywhere, string literals included
            return match.group(1).replace("%", "%%")
        return "%s" if match.group(2) else "%%"

    return _TOKENS.sub(swap, sql)


@lru_cache(maxsize=4096)
def rewrite(sql: str, returning: bool = True) -> str:
    """PostgreSQL's spelling of one statement of the row modules (``returning`` False for a
    statement run many times, whose row numbers nobody reads)."""
    info = _TABLE_INFO.match(sql)
    if info:
        return COLUMNS_SQL.format(table=info.group(1))
    sql = _SQLITE_MASTER.sub(TABLES_SQL, sql)
    if re.match(r"^\s*PRAGMA\s+integrity_check", sql, re.IGNORECASE):
        return "SELECT 'ok'"
    out = _placeholders(sql)
    ignore = bool(_OR_IGNORE.match(out))
    if ignore:
        out = _OR_IGNORE.sub("INSERT INTO", out, count=1)
    out = _BOOLEAN.sub(lambda m: f"{m.group(1)} {'TRUE' if m.group(2) == '1' else 'FALSE'}", out)
    out = _UNARY_PLUS.sub("", out)
    table = _INSERT_INTO.match(out)
    if ignore:
        out += " ON CONFLICT DO NOTHING"
    if returning and table and table.group(1) in ROW_NUMBER and "RETURNING" not in out.upper():
        out += f" RETURNING {ROW_NUMBER[table.group(1)]}"
    return out
