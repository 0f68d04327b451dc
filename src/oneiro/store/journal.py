"""The journal: an append-only, hash-chained record of modes, cycles, phases and decisions.

Each record's hash covers its content and the previous record's hash, and the head (last seq and
hash) is kept in ``meta``; so ``verify()`` finds an edited record (its hash no longer matches), a
dropped or reordered one (the chain or the sequence breaks) and a truncated tail (the head is gone).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from oneiro.errors import JournalCorrupt
from oneiro.model import canonical_json

GENESIS = "0" * 64
HEAD_KEY = "journal_head"


@dataclass(frozen=True)
class Record:
    seq: int
    ts: float
    cycle_id: str | None
    phase: str | None
    kind: str
    payload: dict[str, Any]
    prev_hash: str
    hash: str


def _digest(
    seq: int, ts: float, cycle_id: str | None, phase: str | None, kind: str, payload: str, prev_hash: str
) -> str:
    body = canonical_json([seq, repr(ts), cycle_id, phase, kind, payload, prev_hash])
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def append(
    conn: sqlite3.Connection,
    ts: float,
    kind: str,
    payload: dict[str, Any],
    *,
    cycle_id: str | None = None,
    phase: str | None = None,
) -> Record:
    """Append one record; call inside a write transaction so the chain cannot fork."""
    last = conn.execute("SELECT seq, hash FROM journal ORDER BY seq DESC LIMIT 1").fetchone()
    seq = 1 if last is None else int(last["seq"]) + 1
    prev = GENESIS if last is None else str(last["hash"])
    body = canonical_json(payload)
    digest = _digest(seq, ts, cycle_id, phase, kind, body, prev)
    conn.execute(
        "INSERT INTO journal (seq, ts, cycle_id, phase, kind, payload, prev_hash, hash) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (seq, ts, cycle_id, phase, kind, body, prev, digest),
    )
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (HEAD_KEY, json.dumps([seq, digest])),
    )
    return Record(seq, ts, cycle_id, phase, kind, payload, prev, digest)


def _record(row: sqlite3.Row) -> Record:
    return Record(
        row["seq"],
        row["ts"],
        row["cycle_id"],
        row["phase"],
        row["kind"],
        json.loads(row["payload"]),
        row["prev_hash"],
        row["hash"],
    )


def read(
    conn: sqlite3.Connection,
    *,
    cycle_id: str | None = None,
    kind: str | None = None,
    after_seq: int = 0,
    limit: int | None = None,
) -> list[Record]:
    clauses, params = ["seq > ?"], [after_seq]
    if cycle_id is not None:
        clauses.append("cycle_id = ?")
        params.append(cycle_id)  # type: ignore[arg-type]
    if kind is not None:
        clauses.append("kind = ?")
        params.append(kind)  # type: ignore[arg-type]
    sql = f"SELECT * FROM journal WHERE {' AND '.join(clauses)} ORDER BY seq"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return [_record(r) for r in conn.execute(sql, params)]


def verify(conn: sqlite3.Connection) -> int:
    """Recompute the chain; return the number of records. Raises JournalCorrupt naming the first
    bad record."""
    prev = GENESIS
    expected = 1
    for row in conn.execute("SELECT * FROM journal ORDER BY seq"):
        seq = int(row["seq"])
        if seq != expected:
            raise JournalCorrupt(f"journal record {expected} is missing (next is {seq})", seq=expected)
        if row["prev_hash"] != prev:
            raise JournalCorrupt(f"journal record {seq} does not follow record {seq - 1}", seq=seq)
        digest = _digest(
            seq, row["ts"], row["cycle_id"], row["phase"], row["kind"], row["payload"], row["prev_hash"]
        )
        if digest != row["hash"]:
            raise JournalCorrupt(f"journal record {seq} was altered (hash mismatch)", seq=seq)
        prev = digest
        expected += 1
    head = conn.execute("SELECT value FROM meta WHERE key = ?", (HEAD_KEY,)).fetchone()
    if head is not None:
        head_seq, head_hash = json.loads(head["value"])
        if head_seq != expected - 1 or head_hash != prev:
            raise JournalCorrupt(
                f"journal ends at record {expected - 1} but its head says {head_seq}: "
                "records were dropped from the end",
                seq=expected,
            )
    elif expected > 1:
        raise JournalCorrupt("journal head is missing", seq=expected - 1)
    return expected - 1
