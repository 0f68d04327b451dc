"""Vector rows: float32 blobs with their model name and dimension.

The store is the source of truth; the in-memory index is rebuilt from these rows. A store holds
vectors of one dimension per model: mixing them would make every similarity meaningless, so the
first vector fixes the store's dimension for its model and a different one is refused.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from oneiro.errors import DimensionMismatch

Matrix = npt.NDArray[np.float32]


def _built_with(conn: sqlite3.Connection) -> tuple[str, int] | None:
    """(model, dim) of the store's first vector: every later one must match it. Reading by rowid
    costs one b-tree step whatever the store's size."""
    row = conn.execute("SELECT model, dim FROM vectors ORDER BY rowid LIMIT 1").fetchone()
    return None if row is None else (str(row[0]), int(row[1]))


def check_dim(conn: sqlite3.Connection, model: str, dim: int) -> None:
    """Refuse vectors of another dimension, or of another model even at the same dimension (two
    models' vectors side by side make every similarity between them meaningless)."""
    built = _built_with(conn)
    if built is None or built == (model, dim):
        return
    if built[0] == model:
        raise DimensionMismatch(
            f"the store holds {built[1]}-dimensional vectors for model {model!r}; got {dim}. "
            "Use the same embedder settings the store was built with"
        )
    raise DimensionMismatch(
        f"the store was built with embedder {built[0]!r} ({built[1]} dimensions); "
        f"{model!r} gives {dim}. Open it with the embedder it was built with"
    )


def check_model(conn: sqlite3.Connection, model: str) -> None:
    """Refuse to read a store's vectors as if another model had made them."""
    built = _built_with(conn)
    if built is not None and built[0] != model:
        raise DimensionMismatch(
            f"the store was built with embedder {built[0]!r} ({built[1]} dimensions), not {model!r}. "
            "Open it with the embedder it was built with"
        )


def put(
    conn: sqlite3.Connection,
    items: Sequence[tuple[str, str]],
    matrix: Matrix,
    model: str,
) -> None:
    """Store one vector per (item_id, item_type); replaces an existing vector of the same model."""
    if len(items) != matrix.shape[0]:
        raise ValueError("one vector per item")
    dim = int(matrix.shape[1]) if matrix.ndim == 2 else 0
    check_dim(conn, model, dim)
    rows = [
        (item_id, item_type, model, dim, np.ascontiguousarray(vec, dtype=np.float32).tobytes())
        for (item_id, item_type), vec in zip(items, matrix, strict=True)
    ]
    conn.executemany(
        "INSERT INTO vectors (item_id, item_type, model, dim, vec) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (item_id, model) DO UPDATE SET vec = excluded.vec, dim = excluded.dim",
        rows,
    )


@dataclass(frozen=True)
class VectorRows:
    """Vectors with what recall filters on: rowid, item id and type, time, session, actor, kind."""

    rowids: list[int]
    ids: list[str]
    types: list[str]
    ts: list[float]
    sessions: list[str]
    actors: list[str]
    kinds: list[str]
    matrix: Matrix


def load(conn: sqlite3.Connection, model: str, after_rowid: int = 0) -> VectorRows:
    """Vectors of ``model`` stored after ``after_rowid``, oldest first, with their items' facts."""
    check_model(conn, model)
    rows = conn.execute(
        "SELECT v.rowid AS rowid, v.item_id, v.item_type, v.dim, v.vec, "
        "COALESCE(e.ts, n.valid_from, n.created_at, 0) AS ts, COALESCE(e.session, '') AS session, "
        "COALESCE(e.actor, '') AS actor, COALESCE(e.kind, n.kind, '') AS kind "
        "FROM vectors v LEFT JOIN episodes e ON e.id = v.item_id "
        "LEFT JOIN entries n ON n.id = v.item_id "
        "WHERE v.model = ? AND v.rowid > ? ORDER BY v.rowid",
        (model, after_rowid),
    ).fetchall()
    if not rows:
        return VectorRows([], [], [], [], [], [], [], np.zeros((0, 0), dtype=np.float32))
    dim = int(rows[0]["dim"])
    matrix = np.frombuffer(b"".join(r["vec"] for r in rows), dtype=np.float32).reshape(len(rows), dim)
    return VectorRows(
        [r["rowid"] for r in rows],
        [r["item_id"] for r in rows],
        [r["item_type"] for r in rows],
        [float(r["ts"]) for r in rows],
        [r["session"] for r in rows],
        [r["actor"] for r in rows],
        [r["kind"] for r in rows],
        matrix,
    )


def get(conn: sqlite3.Connection, ids: Sequence[str], model: str) -> dict[str, npt.NDArray[np.float32]]:
    out: dict[str, npt.NDArray[np.float32]] = {}
    for start in range(0, len(ids), 500):
        chunk = list(ids[start : start + 500])
        marks = ",".join("?" * len(chunk))
        for row in conn.execute(
            f"SELECT item_id, vec FROM vectors WHERE model = ? AND item_id IN ({marks})",
            [model, *chunk],
        ):
            out[row["item_id"]] = np.frombuffer(row["vec"], dtype=np.float32)
    return out


def delete(conn: sqlite3.Connection, item_ids: Sequence[str]) -> None:
    conn.executemany("DELETE FROM vectors WHERE item_id = ?", [(i,) for i in item_ids])


def max_rowid(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT COALESCE(MAX(rowid), 0) FROM vectors").fetchone()[0])
