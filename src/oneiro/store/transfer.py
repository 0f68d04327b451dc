"""Export and import: a store as JSON lines, row by row, so a round trip reproduces every hash.

The first line is a header (format version, schema version, the embedding model); each further
line is ``{"table": name, "row": {column: value}}`` with blobs as ``{"$b64": ...}``. Rows keep
their keys and rowids, so episode ids, the journal's chain and the consolidation watermark come
back exactly; the full-text index is carried as its rows (text, keys, item), not its segments.
What belongs to a running process (the store's mode and who holds it) is not exported: an
imported store starts awake.

Importing refuses a store that already holds anything and an export of another schema version,
and writes everything in one transaction (a bad line leaves the store as it was).
"""

from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import Iterable, Iterator
from typing import Any

from oneiro.errors import InvalidInput, JournalCorrupt
from oneiro.store import journal, migrations

FORMAT = "oneiro-export"
FORMAT_VERSION = 1
#: Meta keys that describe a live process or tell caches to refresh, not the store's content.
TRANSIENT_META = frozenset(["mode", "mode_holder", "forgetting", "entries_version", "vectors_epoch"])
#: The full-text table is exported through these columns; its shadow tables are derived.
SEARCH_COLUMNS = ("rowid", "text", "keys", "item_id", "item_type")
_SKIP_PREFIXES = ("sqlite_", "search_")
_SKIP = frozenset(["_migrations"])
#: Tables whose rows must exist before others reference them (foreign keys).
_FIRST = ("meta", "episodes", "entries", "cycles")


def tables(conn: sqlite3.Connection) -> list[str]:
    names = [
        str(r[0])
        for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        if not str(r[0]).startswith(_SKIP_PREFIXES) and r[0] not in _SKIP
    ]
    return [*[t for t in _FIRST if t in names], *[t for t in names if t not in _FIRST]]


def _encode(value: Any) -> Any:
    return {"$b64": base64.b64encode(value).decode("ascii")} if isinstance(value, bytes) else value


def _decode(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"$b64"}:
        return base64.b64decode(value["$b64"])
    return value


def _order(conn: sqlite3.Connection, table: str) -> str:
    columns = [str(r[1]) for r in conn.execute(f'PRAGMA table_info("{table}")')]
    return ", ".join(f'"{c}"' for c in columns) if table != "search" else "rowid"


def export_lines(conn: sqlite3.Connection, model: str | None) -> Iterator[str]:
    """The store as JSON lines, header first; call inside a read transaction."""
    header = {"format": FORMAT, "version": FORMAT_VERSION, "schema": migrations.current_version(conn)}
    yield json.dumps({**header, "model": model}, ensure_ascii=False, sort_keys=True)
    for table in tables(conn):
        select = ", ".join(SEARCH_COLUMNS) if table == "search" else "*"
        where = f" WHERE key NOT IN ({','.join('?' * len(TRANSIENT_META))})" if table == "meta" else ""
        params = sorted(TRANSIENT_META) if table == "meta" else []
        sql = f'SELECT {select} FROM "{table}"{where} ORDER BY {_order(conn, table)}'
        for row in conn.execute(sql, params):
            record = {k: _encode(row[k]) for k in row.keys()}  # noqa: SIM118 (sqlite3.Row)
            yield json.dumps({"table": table, "row": record}, ensure_ascii=False, sort_keys=True)


def _parse(lines: Iterable[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except (json.JSONDecodeError, RecursionError) as exc:
            raise InvalidInput(f"line {number} is not JSON: {exc}", field="export", line=number) from None
        if not isinstance(value, dict):
            raise InvalidInput(f"line {number} is not a JSON object", field="export", line=number)
        yield number, value


def _check_header(header: dict[str, Any], conn: sqlite3.Connection) -> None:
    if header.get("format") != FORMAT or header.get("version") != FORMAT_VERSION:
        raise InvalidInput("the first line is not an oneiro export header", field="export", line=1)
    schema = migrations.current_version(conn)
    if header.get("schema") != schema:
        raise InvalidInput(
            f"the export has schema version {header.get('schema')}, this store {schema}: "
            "import it with the oneiro version that exported it, then export again",
            field="export",
            line=1,
        )


def _check_empty(conn: sqlite3.Connection) -> None:
    for table in ("episodes", "entries", "journal", "playbook_revisions"):
        if conn.execute(f'SELECT 1 FROM "{table}" LIMIT 1').fetchone():
            raise InvalidInput(f"import needs an empty store; this one has {table}", field="store")


def import_lines(conn: sqlite3.Connection, lines: Iterable[str]) -> dict[str, int]:
    """Load an export into an empty store inside the caller's write transaction; return the rows
    per table. The journal must verify afterwards, or nothing is kept."""
    parsed = _parse(lines)
    first = next(parsed, None)
    if first is None:
        raise InvalidInput("the export is empty", field="export")
    _check_header(first[1], conn)
    _check_empty(conn)
    known = set(tables(conn))
    conn.execute("DELETE FROM meta")  # a new store's own bookkeeping gives way to the export's
    counts: dict[str, int] = {}
    for number, value in parsed:
        table, row = value.get("table"), value.get("row")
        if table not in known or not isinstance(row, dict) or not row:
            raise InvalidInput(f"line {number} names no known table and row", field="export", line=number)
        columns = ", ".join(f'"{c}"' for c in row)
        try:
            conn.execute(
                f'INSERT INTO "{table}" ({columns}) VALUES ({",".join("?" * len(row))})',
                [_decode(v) for v in row.values()],
            )
        except (sqlite3.Error, OverflowError) as exc:
            raise InvalidInput(
                f"line {number} does not fit table {table}: {exc}", field="export", line=number
            ) from None
        counts[str(table)] = counts.get(str(table), 0) + 1
    try:
        journal.verify(conn)
    except JournalCorrupt as exc:
        raise InvalidInput(f"the imported journal does not verify: {exc}", field="export") from exc
    return counts
