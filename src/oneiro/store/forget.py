"""Forgetting, at the storage level: the one path that deletes episodes.

The domain decides what goes (:mod:`oneiro.forget`); this module carries it out in one write
transaction: episodes with their vectors, full-text rows and evidence; entries derived from them
with theirs (and their undo-log images, which hold their keys and data); trimmed source lists;
journal payloads that quoted forgotten text, blanked to a tombstone that keeps their hashes. The
triggers that make episodes undeletable and the journal append-only let this through only while
``meta.forgetting`` is set, and that key lives only inside this transaction.

:func:`scrub` runs afterwards, outside any transaction: it merges the full-text index (FTS5 keeps
deleted terms in old segments until a merge), checkpoints the WAL and vacuums, so no forgotten
byte is left in the file's free pages.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping, Sequence

from oneiro.model import Episode
from oneiro.store import episodes, fts, journal, meta

FLAG = "forgetting"
_CHUNK = 500


def _chunks(ids: Sequence[str]) -> Iterable[list[str]]:
    for start in range(0, len(ids), _CHUNK):
        yield list(ids[start : start + _CHUNK])


def select(
    conn: sqlite3.Connection, ids: Sequence[str], actor: str | None, session: str | None
) -> list[Episode]:
    """Episodes named by id, or recorded by ``actor``, or in ``session`` (a union), oldest first."""
    found: dict[str, Episode] = dict(episodes.get(conn, ids))
    for column, value in (("actor", actor), ("session", session)):
        if value is None:
            continue
        rows = conn.execute(f"SELECT id FROM episodes WHERE {column} = ?", (value,)).fetchall()
        found.update(episodes.get(conn, [r["id"] for r in rows]))
    return sorted(found.values(), key=lambda e: (e.ts, e.id))


def citing(conn: sqlite3.Connection, source_ids: Sequence[str]) -> set[str]:
    """Ids of entries that list any of ``source_ids`` among their sources."""
    out: set[str] = set()
    for chunk in _chunks(list(dict.fromkeys(source_ids))):
        marks = ",".join("?" * len(chunk))
        rows = conn.execute(f"SELECT entry_id FROM entry_sources WHERE source_id IN ({marks})", chunk)
        out.update(r["entry_id"] for r in rows)
    return out


def quoting(conn: sqlite3.Connection, texts: Sequence[str]) -> set[str]:
    """Ids of entries whose text or keys contain any of ``texts`` verbatim (case-insensitive),
    whether or not they cite it: an entry may quote a neighbouring turn it does not list among
    its sources. The full-text index narrows the candidates (every word of the text must match);
    the substring test decides."""
    out: set[str] = set()
    for text in dict.fromkeys(t for t in texts if t.strip()):
        words = fts.terms(text)
        if not words:
            continue
        query = " AND ".join('"' + w.replace('"', '""') + '"' for w in words)
        needle = text.lower()
        rows = conn.execute(
            "SELECT item_id, text, keys FROM search WHERE search MATCH ? AND item_type = 'entry'", (query,)
        )
        out.update(r["item_id"] for r in rows if needle in f"{r['text']} {r['keys']}".lower())
    return out


def _delete_in(conn: sqlite3.Connection, sql: str, ids: Sequence[str]) -> None:
    for chunk in _chunks(ids):
        conn.execute(sql.format(marks=",".join("?" * len(chunk))), chunk)


def _delete_search_rows(conn: sqlite3.Connection, item_ids: Sequence[str]) -> None:
    for chunk in _chunks(item_ids):
        marks = ",".join("?" * len(chunk))
        rowids = [r[0] for r in conn.execute(f"SELECT rowid FROM search WHERE item_id IN ({marks})", chunk)]
        conn.executemany("DELETE FROM search WHERE rowid = ?", [(r,) for r in rowids])


def apply(
    conn: sqlite3.Connection,
    episode_ids: Sequence[str],
    removed_entries: Sequence[str],
    trimmed: Mapping[str, Sequence[str]],
    counters: Mapping[str, Mapping[str, object]],
    journal_seqs: Sequence[int],
) -> None:
    """Carry out a forget plan inside the caller's write transaction.

    ``trimmed`` maps an entry to the sources it keeps; ``counters`` gives the lifecycle columns of
    entries judged again once their forgotten evidence is gone.
    """
    meta.put(conn, FLAG, "1")
    gone = [*episode_ids, *removed_entries]
    _delete_in(conn, "DELETE FROM evidence WHERE episode_id IN ({marks})", episode_ids)
    _delete_in(conn, "DELETE FROM undo_log WHERE tbl = 'entries' AND key IN ({marks})", removed_entries)
    _delete_in(conn, "DELETE FROM entries WHERE id IN ({marks})", removed_entries)
    for entry_id, keep in trimmed.items():
        conn.execute("DELETE FROM entry_sources WHERE entry_id = ?", (entry_id,))
        conn.executemany(
            "INSERT INTO entry_sources (entry_id, pos, source_id) VALUES (?, ?, ?)",
            [(entry_id, pos, source) for pos, source in enumerate(keep)],
        )
    for entry_id, changes in counters.items():
        sets = ", ".join(f"{column} = ?" for column in changes)
        conn.execute(f"UPDATE entries SET {sets} WHERE id = ?", [*changes.values(), entry_id])
    _delete_in(conn, "DELETE FROM vectors WHERE item_id IN ({marks})", gone)
    _delete_search_rows(conn, gone)
    _delete_in(conn, "DELETE FROM episodes WHERE id IN ({marks})", episode_ids)
    journal.forget(conn, journal_seqs)
    conn.execute("DELETE FROM meta WHERE key = ?", (FLAG,))
    meta.bump(conn, meta.ENTRIES_VERSION)
    meta.bump(conn, "vectors_epoch")


def scrub(conn: sqlite3.Connection) -> None:
    """Leave no forgotten byte in the file: merge the text index, checkpoint, vacuum."""
    conn.execute("INSERT INTO search (search) VALUES ('optimize')")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("VACUUM")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
