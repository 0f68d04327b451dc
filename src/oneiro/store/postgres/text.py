"""Ranked lexical search in PostgreSQL: a ``tsvector`` per indexed row, ranked by ``ts_rank``.

The same questions :mod:`oneiro.store.fts` asks of FTS5: the user's distinct non-stopword words
(:func:`oneiro.store.fts.terms`), any of them (``|``), documents matching more and rarer words
first. Each word goes in as a quoted lexeme, so no tsquery operator in user text has effect;
words are ``\\w+`` runs, so they hold no quote to escape. Text weighs A and keys B
(``ts_rank``'s default weights 1.0 and 0.4, near FTS5's 1.0 and 0.5 in :mod:`oneiro.store.fts`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from oneiro.store import fts

#: The text search configuration of the generated ``tsvector`` (migration ``initial``): English
#: stemming, as FTS5's ``porter`` tokenizer does in SQLite.
CONFIG = "english"


def _query(words: Sequence[str], joiner: str) -> str:
    return f" {joiner} ".join("'" + w + "'" for w in words)


def search(conn: Any, text: str, limit: int) -> list[tuple[str, str, float]]:
    """Best matches: (item_id, item_type, score), higher is better."""
    words = fts.terms(text)
    if not words:
        return []
    rows = conn.execute(
        f"SELECT item_id, item_type, ts_rank(tsv, q) AS s FROM search, to_tsquery('{CONFIG}', ?) q "
        "WHERE tsv @@ q ORDER BY s DESC, rowid LIMIT ?",
        (_query(words, "|"), limit),
    ).fetchall()
    return [(str(r["item_id"]), str(r["item_type"]), float(r["s"])) for r in rows]


def quoting(conn: Any, texts: Sequence[str]) -> set[str]:
    """As :func:`oneiro.store.forget.quoting`: entries whose text or keys contain any of
    ``texts`` verbatim (case-insensitive); every word must match to be a candidate."""
    out: set[str] = set()
    for text in dict.fromkeys(t for t in texts if t.strip()):
        words = fts.terms(text)
        if not words:
            continue
        needle = text.lower()
        rows = conn.execute(
            f"SELECT item_id, text, keys FROM search WHERE tsv @@ to_tsquery('{CONFIG}', ?) "
            "AND item_type = 'entry'",
            (_query(words, "&"),),
        )
        out.update(r["item_id"] for r in rows if needle in f"{r['text']} {r['keys']}".lower())
    return out
