"""Episode rows: insert once by content address, read by id, rowid or filter.

What the store vouches for about an episode, beyond what the writer said (:class:`Origin`):

* ``recorded_at``: when the store recorded it, on the recording process's clock, never a value
  taken from the record. ``ts`` is the writer's claim of when it happened; only record time may
  measure confirmation windows, expiry and "later than".
* the observation link (``dispatch_seq``): set only when the episode names an awake, successful,
  effectful dispatch in the immutable ``dispatches`` table, made no later than the episode was
  recorded and reported by no other episode. Such an episode is the agent's own observation of an
  outcome that really went out into the world; every other episode is a message, attributed to
  the ``actor`` its writer gave (an empty actor is one anonymous party, never many).
"""

from __future__ import annotations

import json
import sqlite3
import time
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from oneiro.errors import InvalidInput
from oneiro.model import Affect, Episode, Provenance, canonical_json

COLUMNS = (
    "id, ts, session, actor, kind, text, data, context, affect_p, affect_a, affect_d, "
    "prediction, outcome, feedback, refs, provenance, importance, dispatch_seq"
)
#: Party names: an observation is its dispatch's, a message its actor's (``actor:`` alone is the
#: anonymous party).
OBSERVATION_PARTY = "dispatch:"
MESSAGE_PARTY = "actor:"


@dataclass(frozen=True)
class Origin:
    """Who or what produced an episode, as far as the store can vouch: its record time and its
    party. Two episodes of one party are never independent of each other."""

    recorded_at: float
    actor: str
    dispatch: int | None

    @property
    def observed(self) -> bool:
        return self.dispatch is not None

    @property
    def party(self) -> str:
        return party_of(self.actor, self.dispatch)


def party_of(actor: str, dispatch: int | None) -> str:
    """One party per real dispatch observed, else one per actor (sessions never count). Actor
    names are compared after NFKC, case folding and whitespace collapsing, so "Mallory" and
    " mallory" are one party: attribution may merge writers, never split one."""
    if dispatch is not None:
        return f"{OBSERVATION_PARTY}{dispatch}"
    return MESSAGE_PARTY + " ".join(unicodedata.normalize("NFKC", actor).casefold().split())


def _check_observation(conn: sqlite3.Connection, ep: Episode, recorded_at: float) -> None:
    """Refuse an observation link the store cannot vouch for (raises InvalidInput, so the whole
    batch rolls back)."""
    if ep.dispatch is None:
        return
    row = conn.execute(
        "SELECT mode, effect, status, ts FROM dispatches WHERE seq = ?", (ep.dispatch,)
    ).fetchone()
    if row is None or (row["mode"], row["effect"], row["status"]) != ("awake", "effectful", "ok"):
        raise InvalidInput(
            f"dispatch {ep.dispatch} is not a recorded awake effectful dispatch that succeeded",
            field="dispatch",
        )
    if float(row["ts"]) > recorded_at:
        raise InvalidInput(f"dispatch {ep.dispatch} was made after this record", field="dispatch")
    holder = conn.execute("SELECT id FROM episodes WHERE dispatch_seq = ?", (ep.dispatch,)).fetchone()
    if holder is not None and holder["id"] != ep.id:
        raise InvalidInput(
            f"dispatch {ep.dispatch} is already reported by episode {holder['id']}", field="dispatch"
        )


def insert(
    conn: sqlite3.Connection, episodes: Sequence[Episode], recorded_at: float | None = None
) -> list[bool]:
    """Insert episodes not already stored, stamped with the record time ``recorded_at`` (the
    recording process's clock; now when not given); True for each one that is new."""
    now = time.time() if recorded_at is None else recorded_at
    fresh: list[bool] = []
    for ep in episodes:
        _check_observation(conn, ep, now)
        a = ep.affect
        cur = conn.execute(
            f"INSERT OR IGNORE INTO episodes ({COLUMNS}, recorded_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                ep.id,
                ep.ts,
                ep.session,
                ep.actor,
                ep.kind,
                ep.text,
                canonical_json(ep.data),
                canonical_json(ep.context),
                None if a is None else a.pleasure,
                None if a is None else a.arousal,
                None if a is None else a.dominance,
                ep.prediction,
                ep.outcome,
                ep.feedback,
                canonical_json(list(ep.refs)),
                ep.provenance.value,
                ep.importance,
                ep.dispatch,
                now,
            ),
        )
        fresh.append(cur.rowcount == 1)
    return fresh


def from_row(row: sqlite3.Row) -> Episode:
    affect = None
    if row["affect_a"] is not None:
        affect = Affect(row["affect_p"], row["affect_a"], row["affect_d"])
    return Episode(
        id=row["id"],
        ts=row["ts"],
        text=row["text"],
        session=row["session"],
        actor=row["actor"],
        kind=row["kind"],
        data=json.loads(row["data"]),
        context=json.loads(row["context"]),
        affect=affect,
        prediction=row["prediction"],
        outcome=row["outcome"],
        feedback=row["feedback"],
        refs=tuple(json.loads(row["refs"])),
        provenance=Provenance(row["provenance"]),
        importance=row["importance"],
        dispatch=row["dispatch_seq"],
    )


def get(conn: sqlite3.Connection, ids: Iterable[str]) -> dict[str, Episode]:
    out: dict[str, Episode] = {}
    id_list = list(dict.fromkeys(ids))
    for start in range(0, len(id_list), 500):
        chunk = id_list[start : start + 500]
        marks = ",".join("?" * len(chunk))
        for row in conn.execute(f"SELECT {COLUMNS} FROM episodes WHERE id IN ({marks})", chunk):
            out[row["id"]] = from_row(row)
    return out


def origins(conn: sqlite3.Connection, ids: Iterable[str]) -> dict[str, Origin]:
    """The store-vouched origin of each stored episode among ``ids``."""
    out: dict[str, Origin] = {}
    id_list = list(dict.fromkeys(ids))
    for start in range(0, len(id_list), 500):
        chunk = id_list[start : start + 500]
        marks = ",".join("?" * len(chunk))
        for row in conn.execute(
            f"SELECT id, recorded_at, actor, dispatch_seq FROM episodes WHERE id IN ({marks})", chunk
        ):
            out[row["id"]] = Origin(float(row["recorded_at"]), row["actor"], row["dispatch_seq"])
    return out


def since(
    conn: sqlite3.Connection, after_rowid: int, *, limit: int | None = None
) -> list[tuple[int, Episode]]:
    """Episodes recorded after ``after_rowid``, oldest first, with their rowids."""
    sql = f"SELECT rowid, {COLUMNS} FROM episodes WHERE rowid > ? ORDER BY rowid"
    params: list[object] = [after_rowid]
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    return [(row["rowid"], from_row(row)) for row in conn.execute(sql, params)]


def in_sessions(conn: sqlite3.Connection, sessions: Iterable[str]) -> list[Episode]:
    """Every episode of the given sessions, in time order (for context around new turns)."""
    names = list(dict.fromkeys(sessions))
    out: list[Episode] = []
    for start in range(0, len(names), 500):
        chunk = names[start : start + 500]
        marks = ",".join("?" * len(chunk))
        rows = conn.execute(
            f"SELECT {COLUMNS} FROM episodes WHERE session IN ({marks}) ORDER BY ts, rowid", chunk
        )
        out.extend(from_row(r) for r in rows)
    return out


def around(conn: sqlite3.Connection, session: str, ts_from: float, ts_to: float, width: int) -> list[Episode]:
    """The episodes of ``session`` with ``ts_from <= ts <= ts_to``, plus ``width`` before and after,
    in time order: the context of new turns without reading a whole long session."""
    before = conn.execute(
        f"SELECT {COLUMNS} FROM episodes WHERE session = ? AND ts < ? ORDER BY ts DESC, rowid DESC LIMIT ?",
        (session, ts_from, width),
    ).fetchall()
    inside = conn.execute(
        f"SELECT {COLUMNS} FROM episodes WHERE session = ? AND ts >= ? AND ts <= ? ORDER BY ts, rowid",
        (session, ts_from, ts_to),
    ).fetchall()
    after = conn.execute(
        f"SELECT {COLUMNS} FROM episodes WHERE session = ? AND ts > ? ORDER BY ts, rowid LIMIT ?",
        (session, ts_to, width),
    ).fetchall()
    return [from_row(r) for r in [*reversed(before), *inside, *after]]


def count(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT COUNT(*) FROM episodes").fetchone()[0])


def max_rowid(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT COALESCE(MAX(rowid), 0) FROM episodes").fetchone()[0])


def importance_since(conn: sqlite3.Connection, after_rowid: int) -> tuple[int, float, float]:
    """(count, importance sum, |residual| sum) of awake episodes after ``after_rowid``."""
    row = conn.execute(
        "SELECT COUNT(*), COALESCE(SUM(importance), 0), "
        "COALESCE(SUM(ABS(outcome - prediction)), 0) FROM episodes "
        "WHERE rowid > ? AND provenance = 'awake'",
        (after_rowid,),
    ).fetchone()
    return int(row[0]), float(row[1]), float(row[2])


def last_ts(conn: sqlite3.Connection) -> float | None:
    row = conn.execute("SELECT MAX(recorded_at) FROM episodes WHERE provenance = 'awake'").fetchone()
    return None if row[0] is None else float(row[0])
