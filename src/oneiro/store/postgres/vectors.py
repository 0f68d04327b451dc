"""Vectors in PostgreSQL: SQLite's float32 rows, plus a pgvector copy under an HNSW index.

``vectors`` holds exactly what SQLite's table holds (the float32 blob), so exports, migrations
and their hashes carry the same bytes whatever the store. ``search_vectors`` holds the same
vector as pgvector's ``vector`` (one row per ``vectors`` row, deleted with it), and an HNSW index
over the store's one dimension serves :func:`nearest`: a partial expression index, since a
column without a fixed dimension cannot be indexed whole. The index is made when the store's
first vector arrives (the dimension is known only then) and never changes afterwards, because a
store holds one model at one dimension (:func:`oneiro.store.vectors.check_dim`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from oneiro.store import vectors as rows
from oneiro.store.vectors import Matrix, VectorRows

#: HNSW build parameters: pgvector's defaults (m=16, ef_construction=64), named so they are
#: visible; https://github.com/pgvector/pgvector#hnsw.
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 64
#: Candidates HNSW keeps while searching (pgvector's default is 40); recall@10 above 0.95 on
#: normalised sentence vectors in pgvector's own benchmarks at 100 (ef_search >= k is required).
HNSW_EF_SEARCH = 100


def _index_name(dim: int) -> str:
    return f"search_vectors_hnsw_{int(dim)}"


def ensure_index(conn: Any, dim: int) -> None:
    """The HNSW index for vectors of ``dim`` (made once, inside the caller's transaction)."""
    d = int(dim)
    conn.execute(
        f"CREATE INDEX IF NOT EXISTS {_index_name(d)} ON search_vectors "
        f"USING hnsw ((emb::vector({d})) vector_cosine_ops) "
        f"WITH (m = {HNSW_M}, ef_construction = {HNSW_EF_CONSTRUCTION}) WHERE dim = {d}"
    )


def put(conn: Any, items: Sequence[tuple[str, str]], matrix: Matrix, model: str) -> None:
    """Store one vector per item as SQLite does, and its pgvector copy."""
    if len(items) != matrix.shape[0]:
        raise ValueError("one vector per item")
    dim = int(matrix.shape[1]) if matrix.ndim == 2 else 0
    first = rows._built_with(conn) is None
    rows.put(conn, items, matrix, model)
    if first and dim:
        ensure_index(conn, dim)
    ids = [item_id for item_id, _type in items]
    fill(conn, model, ids)


def fill(conn: Any, model: str | None, ids: Sequence[str] | None = None) -> int:
    """Give every ``vectors`` row (of ``ids``, or all) its pgvector copy; returns how many."""
    sql = "SELECT v.rowid, v.dim, v.vec FROM vectors v WHERE "
    params: list[Any] = []
    if model is not None:
        sql += "v.model = ? AND "
        params.append(model)
    if ids is not None:
        sql += "v.item_id = ANY(?)"
        params.append(list(ids))
    else:
        sql += "TRUE"
    found = conn.execute(sql, params).fetchall()
    batch = [
        (int(r["rowid"]), int(r["dim"]), np.frombuffer(bytes(r["vec"]), dtype=np.float32)) for r in found
    ]
    conn.executemany(
        "INSERT INTO search_vectors (rowid, dim, emb) VALUES (?, ?, ?) "
        "ON CONFLICT (rowid) DO UPDATE SET dim = excluded.dim, emb = excluded.emb",
        batch,
    )
    dims = {d for _r, d, _v in batch}
    for d in dims:
        if d:
            ensure_index(conn, d)
    return len(batch)


def load(conn: Any, model: str, after_rowid: int = 0) -> VectorRows:
    """As :func:`oneiro.store.vectors.load` (the blob is ``bytea``, read back as bytes)."""
    return rows.load(conn, model, after_rowid)


def get(conn: Any, ids: Sequence[str], model: str) -> dict[str, npt.NDArray[np.float32]]:
    return rows.get(conn, ids, model)


def nearest(
    conn: Any, model: str, query: npt.NDArray[np.float32], k: int, item_type: str | None = None
) -> list[tuple[str, str, float]]:
    """The ``k`` stored vectors of ``model`` nearest ``query`` by cosine, through HNSW:
    (item_id, item_type, similarity), best first."""
    built = rows._built_with(conn)
    if built is None or built[0] != model:
        return []
    d = built[1]
    rows.check_dim(conn, model, int(query.shape[-1]))
    vec = np.ascontiguousarray(query, dtype=np.float32).reshape(-1)
    conn.execute(f"SET LOCAL hnsw.ef_search = {max(HNSW_EF_SEARCH, int(k))}")
    where = "AND v.item_type = ?" if item_type else ""
    params: list[Any] = [vec, d, model]
    if item_type:
        params.append(item_type)
    params += [vec, int(k)]
    found = conn.execute(
        f"SELECT v.item_id, v.item_type, 1 - (s.emb::vector({d}) <=> ?::vector({d})) AS sim "
        f"FROM search_vectors s JOIN vectors v ON v.rowid = s.rowid "
        f"WHERE s.dim = ? AND v.model = ? {where} "
        f"ORDER BY s.emb::vector({d}) <=> ?::vector({d}) LIMIT ?",
        params,
    ).fetchall()
    return [(str(r[0]), str(r[1]), float(r[2])) for r in found]
