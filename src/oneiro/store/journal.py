"""The journal: an append-only, hash-chained record of modes, cycles, phases and decisions.

Each record's hash covers its content and the previous record's hash, and the head (last seq and
hash) is kept in ``meta``; so ``verify()`` finds an edited record (its hash no longer matches), a
dropped or reordered one (the chain or the sequence breaks) and a truncated tail (the head is gone).

Two hash versions: records of version 1 (before the ``forgetting`` migration) hash the payload text
itself; records of version 2 hash the payload's SHA-256 (``body_sha``). Forgetting replaces a
record's payload by :data:`TOMBSTONE` and keeps ``body_sha``: a version 2 tombstone verifies in
full, because its hash never needed the text. A version 1 record keeps its hash and its place in
the chain, but what it said can no longer be recomputed, so :func:`verify` checks its links only
and the ``forgotten`` record that blanked it (itself hashed) says which records were blanked.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from oneiro.errors import JournalCorrupt
from oneiro.model import canonical_json

GENESIS = "0" * 64
HEAD_KEY = "journal_head"
#: The payload of a record whose content was forgotten; the storage-level literal is fixed so
#: the journal's trigger can recognise it (migration ``forgetting``).
TOMBSTONE = '{"_forgotten":true}'
HASH_V2 = 2
#: The record forget appends; its ``journal`` field lists the records it blanked.
FORGOTTEN_KIND = "forgotten"


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
    """Version 1: ``payload`` is the record's text; version 2: ``"sha256:" + body_sha``."""
    body = canonical_json([seq, repr(ts), cycle_id, phase, kind, payload, prev_hash])
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def body_digest(body: str) -> str:
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
    sha = body_digest(body)
    digest = _digest(seq, ts, cycle_id, phase, kind, "sha256:" + sha, prev)
    conn.execute(
        "INSERT INTO journal (seq, ts, cycle_id, phase, kind, payload, prev_hash, hash, body_sha, hash_v) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (seq, ts, cycle_id, phase, kind, body, prev, digest, sha, HASH_V2),
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
        json.loads(row["payload"]),  # a tombstone reads as {"_forgotten": true}
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


def _content_matches(row: sqlite3.Row) -> bool:
    """Whether a record's hash covers what it holds (see the module docstring for tombstones)."""
    payload, forgotten = str(row["payload"]), row["payload"] == TOMBSTONE
    if int(row["hash_v"]) >= HASH_V2:
        if not forgotten and body_digest(payload) != row["body_sha"]:
            return False
        payload = "sha256:" + str(row["body_sha"])
    elif forgotten:
        return True  # a version 1 tombstone: its links are checked, its content cannot be
    digest = _digest(
        int(row["seq"]), row["ts"], row["cycle_id"], row["phase"], row["kind"], payload, row["prev_hash"]
    )
    return digest == str(row["hash"])


def forget(conn: sqlite3.Connection, seqs: Sequence[int]) -> None:
    """Replace the payloads of ``seqs`` by the tombstone, keeping every hashed column.

    Call inside the forgetting transaction (the trigger refuses it anywhere else). A version 1
    record gets the digest of the text it loses, so the tombstone still names what was there.
    """
    for seq in seqs:
        conn.execute(
            "UPDATE journal SET payload = ?, body_sha = COALESCE(body_sha, ?) WHERE seq = ?",
            (TOMBSTONE, _legacy_sha(conn, seq), seq),
        )


def _legacy_sha(conn: sqlite3.Connection, seq: int) -> str | None:
    row = conn.execute("SELECT payload FROM journal WHERE seq = ?", (seq,)).fetchone()
    return None if row is None else body_digest(str(row["payload"]))


def containing(conn: sqlite3.Connection, needles: Sequence[str]) -> list[int]:
    """Records whose payload mentions any of ``needles`` (exact substrings, JSON-escaped)."""
    escaped = [json.dumps(n, ensure_ascii=False)[1:-1] for n in needles if n]
    if not escaped:
        return []
    seqs: list[int] = []
    for row in conn.execute("SELECT seq, payload FROM journal WHERE payload != ?", (TOMBSTONE,)):
        body = str(row["payload"])
        if any(n in body for n in escaped):
            seqs.append(int(row["seq"]))
    return seqs


def verify(conn: sqlite3.Connection) -> int:
    """Recompute the chain; return the number of records. Raises JournalCorrupt naming the first
    bad record."""
    prev = GENESIS
    expected = 1
    blanked: set[int] = set()
    attested: set[int] = set()
    for row in conn.execute("SELECT * FROM journal ORDER BY seq"):
        seq = int(row["seq"])
        if seq != expected:
            raise JournalCorrupt(f"journal record {expected} is missing (next is {seq})", seq=expected)
        if row["prev_hash"] != prev:
            raise JournalCorrupt(f"journal record {seq} does not follow record {seq - 1}", seq=seq)
        if not _content_matches(row):
            raise JournalCorrupt(f"journal record {seq} was altered (hash mismatch)", seq=seq)
        if row["payload"] == TOMBSTONE:
            blanked.add(seq)
        elif row["kind"] == FORGOTTEN_KIND:
            attested.update(int(s) for s in json.loads(row["payload"]).get("journal", []))
        prev = str(row["hash"])
        expected += 1
    unattested = sorted(blanked - attested)
    if unattested:
        raise JournalCorrupt(
            f"journal record {unattested[0]} was blanked outside forget (no forgotten record names it)",
            seq=unattested[0],
        )
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
