"""The full-text index (FTS5, BM25) over episodes and entries.

Queries are built from the user's words, each quoted, joined by OR: BM25 then rewards documents
that match more and rarer words. Quoting makes every FTS5 operator in user text inert.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence

_WORD = re.compile(r"\w+", re.UNICODE)
#: Weights of the ``text`` and ``keys`` columns in BM25.
TEXT_WEIGHT = 1.0
KEYS_WEIGHT = 0.5
#: Words so common in questions that matching them says nothing (kept short on purpose).
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "did",
        "do",
        "does",
        "for",
        "from",
        "had",
        "has",
        "have",
        "he",
        "her",
        "his",
        "how",
        "i",
        "in",
        "is",
        "it",
        "its",
        "me",
        "my",
        "of",
        "on",
        "or",
        "our",
        "she",
        "so",
        "that",
        "the",
        "their",
        "them",
        "they",
        "this",
        "to",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
    ]
)


def add(conn: sqlite3.Connection, rows: Sequence[tuple[str, str, str, str]]) -> None:
    """Index (item_id, item_type, text, keys) rows."""
    conn.executemany(
        "INSERT INTO search (item_id, item_type, text, keys) VALUES (?, ?, ?, ?)",
        [(i, t, text, keys) for i, t, text, keys in rows],
    )


def delete(conn: sqlite3.Connection, item_ids: Sequence[str]) -> None:
    conn.executemany("DELETE FROM search WHERE item_id = ?", [(i,) for i in item_ids])


def terms(text: str) -> list[str]:
    """The distinct, non-stopword words of ``text``, in order."""
    words = [w.lower() for w in _WORD.findall(text)]
    kept = [w for w in words if w not in STOPWORDS]
    return list(dict.fromkeys(kept or words))


def match_query(text: str) -> str | None:
    words = terms(text)
    if not words:
        return None
    return " OR ".join('"' + w.replace('"', '""') + '"' for w in words)


def search(conn: sqlite3.Connection, text: str, limit: int) -> list[tuple[str, str, float]]:
    """Best BM25 matches: (item_id, item_type, score), higher is better."""
    query = match_query(text)
    if query is None:
        return []
    rows = conn.execute(
        "SELECT item_id, item_type, bm25(search, ?, ?) AS s FROM search "
        "WHERE search MATCH ? ORDER BY s LIMIT ?",
        (TEXT_WEIGHT, KEYS_WEIGHT, query, limit),
    ).fetchall()
    return [(r["item_id"], r["item_type"], -float(r["s"])) for r in rows]
