"""Playbook rows: the active items, the revisions that change them, and the constraints.

The items table holds the active playbook only; a candidate is never stored, it is computed from
the active items and one revision (see :mod:`oneiro.playbook`). A revision moves ``proposed`` ->
``active`` | ``rejected``, and ``active`` -> ``rolled_back``; the row keeps its diff, evidence,
who decided, the sha256 of the rendering its probes validated, and (once active) the items it
replaced, so a rollback restores that version exactly.

Rows only: what a revision says and whether it may stand (admission, constraints, the diff) is
decided by :func:`oneiro.playbook.draft`, a pure function, before a row is written here. A
revision a cycle stores is undo-logged, so reverting the cycle removes what it proposed.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from oneiro import playbook as pb
from oneiro.constraints import Constraint
from oneiro.model import canonical_json
from oneiro.store import undo

ITEM_COLUMNS = "id, pos, section, text, params, helpful, harmful, version"
REVISION_COLUMNS = (
    "seq, id, op, item_id, section, text, params, reason, evidence, base_version, base_sha, diff, "
    "status, proposed_by, decided_by, decided_at, decision, validated_sha, probes, before_items, "
    "activated_at, cycle_id, created_at"
)


# -- items ------------------------------------------------------------------------------------
def _item(row: sqlite3.Row) -> pb.Item:
    return pb.Item(
        id=row["id"],
        section=row["section"],
        text=row["text"],
        params=json.loads(row["params"]),
        helpful=row["helpful"],
        harmful=row["harmful"],
        version=row["version"],
    )


def items(conn: sqlite3.Connection) -> list[pb.Item]:
    """The active playbook, in its order."""
    return [_item(r) for r in conn.execute(f"SELECT {ITEM_COLUMNS} FROM playbook_items ORDER BY pos, id")]


def replace_items(conn: sqlite3.Connection, new: Sequence[pb.Item]) -> None:
    """Make ``new`` the active playbook (positions follow the sequence order)."""
    conn.execute("DELETE FROM playbook_items")
    conn.executemany(
        f"INSERT INTO playbook_items ({ITEM_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (i.id, pos, i.section, i.text, canonical_json(i.params), i.helpful, i.harmful, i.version)
            for pos, i in enumerate(new)
        ],
    )


def count_use(conn: sqlite3.Connection, item_id: str, *, helpful: int = 0, harmful: int = 0) -> bool:
    """Add to an item's helpful / harmful counters; False when the item does not exist."""
    cur = conn.execute(
        "UPDATE playbook_items SET helpful = helpful + ?, harmful = harmful + ? WHERE id = ?",
        (helpful, harmful, item_id),
    )
    return cur.rowcount == 1


def credit(conn: sqlite3.Connection, item_id: str, helpful: int, harmful: int, cycle_id: str) -> bool:
    """Add replay's credit to an item's counters, undo-logged under ``cycle_id`` so that reverting
    the cycle restores them; False when the item does not exist."""
    row = conn.execute("SELECT helpful, harmful FROM playbook_items WHERE id = ?", (item_id,)).fetchone()
    if row is None:
        return False
    changes = {"helpful": int(row["helpful"]) + helpful, "harmful": int(row["harmful"]) + harmful}
    undo.update(conn, "playbook_items", item_id, changes, cycle_id)
    return True


# -- revisions --------------------------------------------------------------------------------
def _revision(row: sqlite3.Row) -> pb.Revision:
    return pb.Revision(
        id=row["id"],
        seq=row["seq"],
        op=row["op"],
        item_id=row["item_id"],
        section=row["section"],
        text=row["text"],
        params=json.loads(row["params"]),
        reason=row["reason"],
        evidence=tuple(json.loads(row["evidence"])),
        base_version=row["base_version"],
        base_sha=row["base_sha"],
        diff=row["diff"],
        status=pb.RevisionStatus(row["status"]),
        proposed_by=row["proposed_by"],
        decided_by=row["decided_by"],
        decided_at=row["decided_at"],
        decision=row["decision"],
        validated_sha=row["validated_sha"],
        probes=json.loads(row["probes"]) if row["probes"] else {},
        cycle_id=row["cycle_id"],
        created_at=row["created_at"],
        activated_at=row["activated_at"],
    )


def revision(conn: sqlite3.Connection, revision_id: str) -> pb.Revision | None:
    row = conn.execute(f"SELECT {REVISION_COLUMNS} FROM playbook_revisions WHERE id = ?", (revision_id,))
    found = row.fetchone()
    return None if found is None else _revision(found)


def revisions(conn: sqlite3.Connection, *statuses: str) -> list[pb.Revision]:
    """Revisions in proposal order, optionally only those with one of ``statuses``."""
    sql = f"SELECT {REVISION_COLUMNS} FROM playbook_revisions"
    if statuses:
        sql += f" WHERE status IN ({','.join('?' * len(statuses))})"
    return [_revision(r) for r in conn.execute(sql + " ORDER BY seq", statuses)]


def last_active(conn: sqlite3.Connection) -> tuple[pb.Revision, list[pb.Item]] | None:
    """The most recently activated revision still active, with the items it replaced."""
    row = conn.execute(
        f"SELECT {REVISION_COLUMNS} FROM playbook_revisions WHERE status = 'active' "
        "ORDER BY activated_at DESC, seq DESC LIMIT 1"
    ).fetchone()
    if row is None:
        return None
    before = [pb.Item(**d) for d in json.loads(row["before_items"] or "[]")]
    return _revision(row), before


def insert_revision(conn: sqlite3.Connection, rev: pb.Revision, cycle_id: str | None = None) -> bool:
    """Store a revision unless one with its id exists; True when it is new. A cycle's new
    revision is undo-logged under ``cycle_id``."""
    cur = conn.execute(
        "INSERT OR IGNORE INTO playbook_revisions (id, op, item_id, section, text, params, reason, "
        "evidence, base_version, base_sha, diff, status, proposed_by, decided_by, decided_at, decision, "
        "cycle_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            rev.id,
            rev.op,
            rev.item_id,
            rev.section,
            rev.text,
            canonical_json(rev.params),
            rev.reason,
            canonical_json(list(rev.evidence)),
            rev.base_version,
            rev.base_sha,
            rev.diff,
            rev.status.value,
            rev.proposed_by,
            rev.decided_by,
            rev.decided_at,
            rev.decision,
            rev.cycle_id,
            rev.created_at,
        ),
    )
    if cur.rowcount == 1 and cycle_id is not None:
        undo.record_insert(conn, cycle_id, "playbook_revisions", rev.id)
    return cur.rowcount == 1


def set_validated(conn: sqlite3.Connection, revision_id: str, sha: str, probes: dict[str, Any]) -> None:
    conn.execute(
        "UPDATE playbook_revisions SET validated_sha = ?, probes = ? WHERE id = ?",
        (sha, canonical_json(probes), revision_id),
    )


def decide(
    conn: sqlite3.Connection,
    revision_id: str,
    status: pb.RevisionStatus,
    *,
    by: str,
    at: float,
    decision: str,
    before: Sequence[pb.Item] | None = None,
) -> None:
    """Record a decision; ``before`` (the replaced items) is kept when a revision becomes active."""
    conn.execute(
        "UPDATE playbook_revisions SET status = ?, decided_by = ?, decided_at = ?, decision = ?, "
        "before_items = COALESCE(?, before_items), activated_at = CASE WHEN ? = 'active' THEN ? "
        "ELSE activated_at END WHERE id = ?",
        (
            status.value,
            by,
            at,
            decision,
            None if before is None else canonical_json([i.as_dict() for i in before]),
            status.value,
            at,
            revision_id,
        ),
    )


# -- constraints ------------------------------------------------------------------------------
def constraints(conn: sqlite3.Connection) -> list[Constraint]:
    return [
        Constraint(r["name"], r["kind"], json.loads(r["spec"]), r["source"])
        for r in conn.execute("SELECT name, kind, spec, source FROM constraints ORDER BY name")
    ]


def put_constraint(conn: sqlite3.Connection, c: Constraint, now: float) -> None:
    conn.execute(
        "INSERT INTO constraints (name, kind, spec, source, created_at) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (name) DO UPDATE SET kind = excluded.kind, spec = excluded.spec, "
        "source = excluded.source",
        (c.name, c.kind, canonical_json(c.spec), c.source, now),
    )


def dump(conn: sqlite3.Connection) -> dict[str, list[tuple[Any, ...]]]:
    """Every playbook row, for tests and audits that must show nothing changed."""
    return {
        t: [tuple(r) for r in conn.execute(f"SELECT * FROM {t} ORDER BY 1")]
        for t in ("playbook_items", "playbook_revisions", "constraints")
    }
