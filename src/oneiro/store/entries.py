"""Entry rows and their sources. Every write may be tagged with the cycle that makes it, so that
the cycle can be reverted (see :mod:`oneiro.store.undo`)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from oneiro.errors import InvalidInput
from oneiro.model import Entry, EntryStatus, Provenance, Tier, canonical_json
from oneiro.store import cycles, undo
from oneiro.store.query import EntryQuery, text_key

COLUMNS = (
    "id, kind, text, data, keys, provenance, tier, cycle_id, confidence, status, created_at, "
    "valid_from, valid_to, superseded_by, fitness, previous_fitness, generation, uses, helpful, "
    "harmful, confirmations, refutations, expires_at"
)
#: The SQL function computing :func:`oneiro.store.query.text_key` of an entry's text.
TEXT_KEY_FUNCTION = "oneiro_text_key"


def register_functions(conn: sqlite3.Connection) -> None:
    """Give ``conn`` the SQL functions entry queries use (deterministic, so SQLite may cache
    and reorder their calls)."""
    conn.create_function(TEXT_KEY_FUNCTION, 1, _text_key_or_null, deterministic=True)


def _text_key_or_null(text: object) -> str | None:
    return text_key(text) if isinstance(text, str) else None


#: Columns an update may change; identity (id, kind, text, sources, provenance) never changes.
MUTABLE = frozenset(
    [
        "confidence",
        "status",
        "valid_from",
        "valid_to",
        "superseded_by",
        "fitness",
        "previous_fitness",
        "generation",
        "uses",
        "helpful",
        "harmful",
        "confirmations",
        "refutations",
        "expires_at",
        "keys",
        "data",
    ]
)


def insert(conn: sqlite3.Connection, entries: Sequence[Entry], cycle_id: str | None = None) -> list[bool]:
    """Insert entries not already stored (by id); True for each new one.

    An entry written by a cycle belongs to it: when the entry names no cycle itself, the row takes
    ``cycle_id``, so it stays invisible to recall until that cycle completes.
    """
    fresh: list[bool] = []
    for e in entries:
        if e.provenance != Provenance.AWAKE and not e.sources:
            raise InvalidInput("a derived entry needs at least one source", field="sources")
        cur = conn.execute(
            f"INSERT OR IGNORE INTO entries ({COLUMNS}) VALUES "
            "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                e.id,
                e.kind,
                e.text,
                canonical_json(e.data),
                canonical_json(list(e.keys)),
                e.provenance.value,
                e.tier.value,
                e.cycle_id or cycle_id,
                e.confidence,
                e.status.value,
                e.created_at,
                e.valid_from,
                e.valid_to,
                e.superseded_by,
                e.fitness,
                e.previous_fitness,
                e.generation,
                e.uses,
                e.helpful,
                e.harmful,
                e.confirmations,
                e.refutations,
                e.expires_at,
            ),
        )
        new = cur.rowcount == 1
        fresh.append(new)
        if not new:
            continue
        conn.executemany(
            "INSERT INTO entry_sources (entry_id, pos, source_id) VALUES (?, ?, ?)",
            [(e.id, i, s) for i, s in enumerate(e.sources)],
        )
        if cycle_id is not None:
            undo.record_insert(conn, cycle_id, "entries", e.id)
    return fresh


def update(
    conn: sqlite3.Connection, entry_id: str, changes: dict[str, Any], cycle_id: str | None = None
) -> None:
    bad = set(changes) - MUTABLE
    if bad:
        raise ValueError(f"entry columns {sorted(bad)} cannot change")
    values = {
        k: (
            canonical_json(list(v))
            if k == "keys"
            else canonical_json(v)
            if k == "data"
            else v.value
            if isinstance(v, EntryStatus)
            else v
        )
        for k, v in changes.items()
    }
    undo.update(conn, "entries", entry_id, values, cycle_id)


def count_uses(conn: sqlite3.Connection, counts: Mapping[str, tuple[int, int, int]]) -> int:
    """Add ``(uses, helpful, harmful)`` to each named entry's counters, in one statement per
    entry; return how many entries exist to count. Awake accounting, not undo-logged: a reverted
    cycle does not take back what recall used (it was used)."""
    rows = [(max(u, 0), max(h, 0), max(b, 0), i) for i, (u, h, b) in counts.items() if u or h or b]
    ids = [r[3] for r in rows]
    found = 0
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        found += int(conn.execute(f"SELECT COUNT(*) FROM entries WHERE id IN ({marks})", chunk).fetchone()[0])
    conn.executemany(
        "UPDATE entries SET uses = uses + ?, helpful = helpful + ?, harmful = harmful + ? WHERE id = ?", rows
    )
    return found


def _sources(conn: sqlite3.Connection, ids: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {i: [] for i in ids}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        for row in conn.execute(
            f"SELECT entry_id, source_id FROM entry_sources WHERE entry_id IN ({marks}) "
            "ORDER BY entry_id, pos",
            chunk,
        ):
            out[row["entry_id"]].append(row["source_id"])
    return out


def _from_row(row: sqlite3.Row, sources: list[str]) -> Entry:
    return Entry(
        id=row["id"],
        kind=row["kind"],
        text=row["text"],
        sources=tuple(sources),
        provenance=Provenance(row["provenance"]),
        tier=Tier(row["tier"]),
        cycle_id=row["cycle_id"],
        confidence=row["confidence"],
        status=EntryStatus(row["status"]),
        keys=tuple(json.loads(row["keys"])),
        data=json.loads(row["data"]),
        created_at=row["created_at"],
        valid_from=row["valid_from"],
        valid_to=row["valid_to"],
        superseded_by=row["superseded_by"],
        fitness=row["fitness"],
        previous_fitness=row["previous_fitness"],
        generation=row["generation"],
        uses=row["uses"],
        helpful=row["helpful"],
        harmful=row["harmful"],
        confirmations=row["confirmations"],
        refutations=row["refutations"],
        expires_at=row["expires_at"],
    )


def _load(conn: sqlite3.Connection, sql: str, params: Sequence[Any]) -> list[Entry]:
    rows = conn.execute(sql, params).fetchall()
    sources = _sources(conn, [r["id"] for r in rows])
    return [_from_row(r, sources[r["id"]]) for r in rows]


def get(conn: sqlite3.Connection, ids: Iterable[str]) -> dict[str, Entry]:
    id_list = list(dict.fromkeys(ids))
    out: dict[str, Entry] = {}
    for start in range(0, len(id_list), 500):
        chunk = id_list[start : start + 500]
        marks = ",".join("?" * len(chunk))
        for e in _load(conn, f"SELECT {COLUMNS} FROM entries WHERE id IN ({marks})", chunk):
            out[e.id] = e
    return out


def where(conn: sqlite3.Connection, clause: str = "1", params: Sequence[Any] = ()) -> list[Entry]:
    """Entries matching an SQL ``clause`` over the entries table, oldest first."""
    return _load(conn, f"SELECT {COLUMNS} FROM entries WHERE {clause} ORDER BY rowid", params)


#: Entries of a cycle count only once RETURN has made the cycle's view active.
RETURNED_CLAUSE = (
    f"(cycle_id IS NULL OR cycle_id IN (SELECT id FROM cycles WHERE status IN {cycles.RETURNED_SQL}))"
)


def _in(column: str, values: Sequence[Any], clauses: list[str], params: list[Any]) -> None:
    clauses.append(f"{column} IN ({','.join('?' * len(values))})" if values else "0")
    params.extend(values)


def _json_path(path: str) -> str:
    """A JSON path for ``json_extract`` (the query checked ``path`` is dotted plain names)."""
    return "$." + path


def translate(query: EntryQuery) -> tuple[str, list[Any]]:
    """The WHERE clause (and its parameters) of an :class:`~oneiro.store.query.EntryQuery`."""
    clauses: list[str] = []
    params: list[Any] = []
    # Given ids, the primary key is the plan: a unary + keeps SQLite off the status and cycle
    # indexes, which would scan every entry of a status to find a handful of ids.
    plain = "+" if query.ids is not None else ""
    for column, values in (
        ("id", query.ids),
        ("kind", query.kinds),
        (f"{plain}status", query.statuses),
        ("provenance", query.provenance),
    ):
        if values is not None:
            _in(column, values, clauses, params)
    if query.cycle is not None:
        clauses.append(f"{plain}cycle_id = ?")
        params.append(query.cycle)
    if query.not_cycle is not None:
        clauses.append("(cycle_id IS NULL OR cycle_id != ?)")
        params.append(query.not_cycle)
    if query.min_uses is not None:
        clauses.append("uses >= ?")
        params.append(query.min_uses)
    if query.min_confidence is not None:
        clauses.append("confidence >= ?")
        params.append(query.min_confidence)
    for path, value in query.data_has:
        # The path is written into the SQL (it is dotted plain names), so that an index on the
        # same expression serves it (see migration ``entry_identity``).
        clauses.append(f"json_extract(data, '{_json_path(path)}') = ?")
        params.append(value)
    for path in query.data_keys:
        clauses.append("json_extract(data, ?) IS NOT NULL")
        params.append(_json_path(path))
    for path in query.data_lacks:
        clauses.append("json_extract(data, ?) IS NULL")
        params.append(_json_path(path))
    if query.text is not None:
        clauses.append("text = ?")
        params.append(query.text)
    if query.text_keys is not None:
        _in(f"{TEXT_KEY_FUNCTION}(text)", query.text_keys, clauses, params)
    if query.returned:
        clauses.append(RETURNED_CLAUSE)
    return " AND ".join(clauses) or "1", params


def select(conn: sqlite3.Connection, query: EntryQuery) -> list[Entry]:
    """The entries ``query`` asks for, oldest first."""
    clause, params = translate(query)
    limit = "" if query.limit is None else f" LIMIT {int(query.limit)}"
    return _load(conn, f"SELECT {COLUMNS} FROM entries WHERE {clause} ORDER BY rowid{limit}", params)


def citing(conn: sqlite3.Connection, episode_ids: Iterable[str]) -> dict[str, list[str]]:
    """For each episode id, the ids of entries that cite it as a source."""
    ids = list(dict.fromkeys(episode_ids))
    out: dict[str, list[str]] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        for row in conn.execute(
            f"SELECT source_id, entry_id FROM entry_sources WHERE source_id IN ({marks})", chunk
        ):
            out.setdefault(row["source_id"], []).append(row["entry_id"])
    return out


def visible(conn: sqlite3.Connection, ids: Iterable[str], floor: float) -> set[str]:
    """Which of ``ids`` awake recall may return: a recallable status, at or above the floor, and
    either made awake or by a cycle that has returned (the candidate view made active)."""
    id_list = list(dict.fromkeys(ids))
    out: set[str] = set()
    for start in range(0, len(id_list), 500):
        chunk = id_list[start : start + 500]
        marks = ",".join("?" * len(chunk))
        rows = conn.execute(
            f"SELECT e.id FROM entries e LEFT JOIN cycles c ON c.id = e.cycle_id "
            f"WHERE e.id IN ({marks}) AND e.status IN ('active', 'validated', 'staged') "
            f"AND e.confidence >= ? AND (e.cycle_id IS NULL OR c.status IN {cycles.RETURNED_SQL})",
            [*chunk, floor],
        )
        out.update(r["id"] for r in rows)
    return out


def count_by_status(conn: sqlite3.Connection) -> dict[str, int]:
    return {r[0]: int(r[1]) for r in conn.execute("SELECT status, COUNT(*) FROM entries GROUP BY status")}
