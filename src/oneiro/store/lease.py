"""The dream lease: which cycle holds a store, as a row in the store itself.

A per-process dictionary cannot answer "is anyone dreaming here?" for a second process, a second
``Memory`` object or a worker of an HTTP server; a row can. One row per lease name (``dream``):
holder (the cycle id), host, pid, when it started, the last heartbeat and when it expires.

* :func:`acquire` runs inside a write transaction (``BEGIN IMMEDIATE``), so two racers serialise
  on SQLite's write lock and exactly one finds the row free;
* a lease is free when there is none, when it has expired (its holder stopped renewing: crashed,
  killed, or lost), or when its holder is a process on this host that no longer exists;
* a live holder renews it with :func:`renew`; :func:`release` gives it back, only for its holder.

The holder is the cycle id, so a lease names the cycle that holds the store; but a lease binds a
*process*: the same cycle id taken again from another process (a second process resuming the
same interrupted cycle) is refused while the first one's lease is live.
"""

from __future__ import annotations

import os
import sqlite3
import time
from dataclasses import dataclass

DREAM = "dream"


@dataclass(frozen=True)
class Lease:
    name: str
    holder: str
    host: str
    pid: int
    started: float
    heartbeat: float
    expires: float

    def expired(self, now: float) -> bool:
        return self.expires <= now

    def describe(self) -> str:
        """Who holds it, for an error message: ``cycle X (host H, pid P, until T)``."""
        until = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.expires))
        return f"cycle {self.holder} (host {self.host}, pid {self.pid}, until {until})"


def _row(r: sqlite3.Row) -> Lease:
    return Lease(r["name"], r["holder"], r["host"], int(r["pid"]), r["started"], r["heartbeat"], r["expires"])


def get(conn: sqlite3.Connection, name: str = DREAM) -> Lease | None:
    row = conn.execute("SELECT * FROM leases WHERE name = ?", (name,)).fetchone()
    return None if row is None else _row(row)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def free(lease: Lease | None, now: float, host: str) -> bool:
    """Whether ``lease`` no longer binds anyone: absent, expired, or held by a dead process here."""
    if lease is None or lease.expired(now):
        return True
    return lease.host == host and not _pid_alive(lease.pid)


def acquire(
    conn: sqlite3.Connection, holder: str, host: str, pid: int, now: float, ttl: float, name: str = DREAM
) -> tuple[bool, Lease | None]:
    """Take ``name`` for ``holder`` unless someone else holds it; call inside a write transaction.

    Returns (taken, lease): on success the new lease; otherwise the lease that binds, so the caller
    can say who holds it. The same holder in the same process (host and pid) taking it again
    renews it; the same holder id from another live process is refused like any other.
    """
    current = get(conn, name)
    mine = current is not None and (current.holder, current.host, current.pid) == (holder, host, pid)
    if current is not None and not mine and not free(current, now, host):
        return False, current
    started = current.started if current is not None and mine else now
    conn.execute(
        "INSERT INTO leases (name, holder, host, pid, started, heartbeat, expires) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, "
        "host = excluded.host, pid = excluded.pid, started = excluded.started, "
        "heartbeat = excluded.heartbeat, expires = excluded.expires",
        (name, holder, host, pid, started, now, now + ttl),
    )
    return True, get(conn, name)


def renew(conn: sqlite3.Connection, holder: str, now: float, ttl: float, name: str = DREAM) -> bool:
    """Extend the holder's lease; False when it is no longer the holder's (it expired and was taken)."""
    cur = conn.execute(
        "UPDATE leases SET heartbeat = ?, expires = ? WHERE name = ? AND holder = ?",
        (now, now + ttl, name, holder),
    )
    return cur.rowcount == 1


def release(conn: sqlite3.Connection, holder: str, name: str = DREAM) -> bool:
    cur = conn.execute("DELETE FROM leases WHERE name = ? AND holder = ?", (name, holder))
    return cur.rowcount == 1
