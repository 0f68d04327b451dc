"""The dream lease as a running cycle holds it: taken with the cycle, renewed as it runs, given back.

Which cycle holds a store is one row in the store (:mod:`oneiro.store.lease`), not process
state, so a second ``Memory`` on the same file, another process, a worker of a server or another
host all see the same answer. :class:`CycleLease` is the engine's side of it:

- :meth:`CycleLease.refuse_if_held` and :meth:`CycleLease.take` run inside the transaction that
  creates or resumes the cycle, so exactly one of several racers gets the store and the others
  are refused before they write anything;
- :meth:`CycleLease.renew` is called at every step boundary (phase start and end, each chunk, each
  operation) and writes only once ``heartbeat_seconds`` have passed;
- :meth:`CycleLease.confirm` runs inside every transaction the cycle commits (a phase's or a
  chunk's writes and checkpoint, its end): a lease that is no longer this process's raises
  :class:`~oneiro.errors.LeaseLost` there, so a cycle that lost its lease (it lapsed while the
  process was suspended, say, and another cycle took the store) never commits again;
- :meth:`CycleLease.release` gives it back, only if it is still this process's.

A lease binds a process: the same cycle id held by another live process (a second process trying
to resume the same interrupted cycle) is refused like any other. Lease times are wall-clock time,
whatever clock the engine simulates for its cycles, since other processes compare them with theirs.
A holder that dies frees the store at once for processes on its host (its pid is gone) and after
``lease_seconds`` for everyone else.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable

from oneiro.errors import CycleRunning, LeaseLost
from oneiro.store.lease import Lease, free
from oneiro.store.protocol import Store

Clock = Callable[[], float]


def binding(store: Store, now: float, host: str) -> Lease | None:
    """The lease that holds ``store`` at ``now`` as seen from ``host``; None when it is free."""
    current = store.lease_holder()
    return None if free(current, now, host) else current


def already_dreaming(lease: Lease, host: str) -> str:
    """What a refused caller is told about the lease that binds."""
    where = (
        "wait for it to finish, or wake it"
        if lease.host == host
        else f"it runs on another host ({lease.host}): wait for it, wake it there, or let its lease lapse"
    )
    return f"already dreaming: {lease.describe()}; {where}"


class CycleLease:
    """One engine's hold on the dream lease of its store (at most one cycle at a time)."""

    def __init__(self, store: Store, ttl: float, heartbeat: float, clock: Clock = time.time) -> None:
        self.store = store
        self.ttl = ttl
        self.heartbeat = heartbeat
        self.clock = clock
        self.host = socket.gethostname()
        self.holder: str | None = None
        #: A cycle whose release failed (the disk was full): its row still names this process,
        #: which no other caller can tell from a live cycle; given back at the next take.
        self._unreleased: str | None = None
        self._pid = 0
        self._renewed = 0.0

    def refuse_if_held(self) -> None:
        """Raise CycleRunning naming the holder (cycle, host, pid, until) when the store is held;
        call inside the write transaction that will :meth:`take` it."""
        stale = self._unreleased
        if stale is not None and self._mine(self.store.lease_holder(), stale):
            self.store.lease_release(stale)
        lease = binding(self.store, self.clock(), self.host)
        if lease is not None:
            raise CycleRunning(already_dreaming(lease, self.host))

    def take(self, cycle_id: str) -> None:
        """Take the lease for ``cycle_id``, inside the caller's write transaction (so atomically
        with the cycle row it creates or resumes)."""
        pid = os.getpid()
        taken, lease = self.store.lease_acquire(cycle_id, self.host, pid, self.clock(), self.ttl)
        if not taken:
            assert lease is not None
            raise CycleRunning(already_dreaming(lease, self.host))
        self.holder, self._pid, self._renewed = cycle_id, pid, time.monotonic()
        self._unreleased = None

    def renew(self, cycle_id: str) -> None:
        """At a step boundary: extend the lease of ``cycle_id`` once ``heartbeat`` seconds have
        passed since the last renewal (a no-op for a cycle this engine does not hold, such as a dry
        run, and between heartbeats, so a step costs no write)."""
        if cycle_id == self.holder and time.monotonic() - self._renewed >= self.heartbeat:
            self.confirm(cycle_id)

    def confirm(self, cycle_id: str) -> None:
        """Inside a transaction the cycle commits: raise LeaseLost unless this process still holds
        the lease of ``cycle_id`` (renewing it when a heartbeat is due). A cycle this engine does
        not hold (one abandoned by :meth:`DreamEngine._begin`, which has no live lease) passes."""
        if cycle_id != self.holder:
            return
        due = time.monotonic() - self._renewed >= self.heartbeat
        with self.store.transaction():
            current = self.store.lease_holder()
            if not self._mine(current):
                raise LeaseLost(self._lost(cycle_id, current))
            if due:
                self.store.lease_renew(cycle_id, self.clock(), self.ttl)
        if due:
            self._renewed = time.monotonic()

    def release(self, cycle_id: str) -> None:
        """Give the lease back if this process still holds it for ``cycle_id``."""
        if cycle_id != self.holder:
            return
        self.holder = None
        try:
            with self.store.transaction():
                if self._mine(self.store.lease_holder(), cycle_id):
                    self.store.lease_release(cycle_id)
        except BaseException:
            self._unreleased = cycle_id
            raise

    def _mine(self, lease: Lease | None, cycle_id: str | None = None) -> bool:
        """Whether ``lease`` is this process's lease of ``cycle_id`` (default: the one it holds)."""
        if lease is None:
            return False
        return (lease.holder, lease.host, lease.pid) == (cycle_id or self.holder, self.host, self._pid)

    def _lost(self, cycle_id: str, current: Lease | None) -> str:
        now_held = "nobody holds it now" if current is None else f"{current.describe()} holds it now"
        return (
            f"cycle {cycle_id} lost the dream lease of this store (a lease not renewed within "
            f"{self.ttl:g} s lapses; {now_held}): it stopped without writing more"
        )
