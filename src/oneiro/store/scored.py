"""Episodes by the scorer that scored them: what counterfactual re-scoring reads when a scorer
gains a newer version after its episodes were consolidated.

A score record lives in the episode's ``data["score"]`` (see :mod:`oneiro.scoring`). The query is
guarded by ``json_valid``: a row whose data SQLite cannot parse (old stores may hold one) is
passed over instead of failing the query for every row. It pages by rowid (``after_rowid``), so a
caller that remembers where it stopped never reads the same rows twice.
"""

from __future__ import annotations

import sqlite3

from oneiro.model import Episode
from oneiro.store.episodes import COLUMNS, from_row


def _field(path: str) -> str:
    return f"(CASE WHEN json_valid(data) THEN json_extract(data, '$.score.{path}') END)"


def below(
    conn: sqlite3.Connection, scorer: str, version: int, after_rowid: int, upto_rowid: int, limit: int
) -> list[tuple[int, Episode]]:
    """Awake episodes with ``after_rowid < rowid <= upto_rowid`` whose score record names
    ``scorer`` at an integer version below ``version``, oldest first, at most ``limit``."""
    sql = (
        f"SELECT rowid, {COLUMNS} FROM episodes "
        "WHERE rowid > ? AND rowid <= ? AND provenance = 'awake' AND instr(data, '\"score\"') > 0 "
        f"AND {_field('scorer')} = ? AND typeof({_field('version')}) = 'integer' "
        f"AND {_field('version')} < ? ORDER BY rowid LIMIT ?"
    )
    rows = conn.execute(sql, (after_rowid, upto_rowid, scorer, version, limit))
    return [(int(r["rowid"]), from_row(r)) for r in rows]
