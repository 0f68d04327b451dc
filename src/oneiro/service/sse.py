"""Server-sent events from the memory's in-process bus, resumable with ``Last-Event-ID``.

:class:`EventLog` keeps the last :data:`HISTORY` events of the kinds in :data:`KINDS` with ids
``<boot>-<seq>``: ``seq`` counts up from 1 in this server process and ``boot`` names the process,
so a client resuming with an id from an earlier process (whose ``seq`` means nothing here) gets
everything still held instead of nothing. A client whose id has fallen out of the history gets a
``gap`` event first, saying how many it missed, so it knows to reload rather than trust a partial
picture. The bus calls the log from whatever thread publishes (a dream's); the log hands events to
the event loop with ``call_soon_threadsafe``, never blocking the publisher.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from oneiro.events import Event, EventBus

#: Event kinds a client can subscribe to.
KINDS = ("mode_change", "dream_progress", "hypothesis", "dream_done", "playbook")
#: Events kept for resumption: a full cycle publishes a few dozen, so this holds many cycles.
HISTORY = 2048
#: Seconds between keep-alive comments, so proxies and clients see the stream is alive (the
#: WHATWG SSE spec suggests ~15 s to keep legacy proxies from dropping the connection).
KEEPALIVE_SECONDS = 15.0
#: Milliseconds a disconnected EventSource waits before reconnecting (the ``retry:`` field).
RETRY_MS = 2000


@dataclass(frozen=True)
class Logged:
    seq: int
    kind: str
    data: dict[str, Any]


class EventLog:
    """The bus's recent events, numbered, with waiters on the event loop."""

    def __init__(self, bus: EventBus, history: int = HISTORY) -> None:
        self.boot = format(time.time_ns() // 1_000_000, "x")
        self._events: deque[Logged] = deque(maxlen=history)
        self._seq = 0
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._changed = asyncio.Event()
        self._unsubscribe = bus.subscribe(self._on_event)

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Deliver to waiters on ``loop`` (the server's); before this, events are only kept."""
        self._loop = loop
        self._changed = asyncio.Event()

    def close(self) -> None:
        self._unsubscribe()

    def _on_event(self, event: Event) -> None:
        if event.kind not in KINDS:
            return
        with self._lock:
            self._seq += 1
            self._events.append(Logged(self._seq, event.kind, _jsonable(event.payload)))
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._notify)

    def _notify(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def event_id(self, seq: int) -> str:
        return f"{self.boot}-{seq}"

    def after(self, last_event_id: str | None) -> tuple[int, list[Logged]]:
        """(events missed before the oldest held, events held after ``last_event_id``)."""
        start = self._resume_point(last_event_id)
        with self._lock:
            held = list(self._events)
        oldest = held[0].seq if held else self._seq + 1
        missed = max(0, oldest - start - 1) if start else 0
        return missed, [e for e in held if e.seq > start]

    def _resume_point(self, last_event_id: str | None) -> int:
        if not last_event_id:
            return self._seq_now()
        boot, _, seq = last_event_id.strip().rpartition("-")
        if boot != self.boot or not seq.isdigit():
            return 0
        return min(int(seq), self._seq_now())

    def _seq_now(self) -> int:
        with self._lock:
            return self._seq

    async def stream(
        self, last_event_id: str | None, kinds: frozenset[str], keepalive: float = KEEPALIVE_SECONDS
    ) -> AsyncIterator[str]:
        """SSE frames: the missed events (a ``gap`` first if some are lost), then live ones."""
        yield f"retry: {RETRY_MS}\n\n"
        missed, pending = self.after(last_event_id)
        if missed:
            yield _frame(None, "gap", {"missed": missed})
        last = self._resume_point(last_event_id)
        while True:
            for e in pending:
                last = e.seq
                if e.kind in kinds:
                    yield _frame(self.event_id(e.seq), e.kind, e.data)
            changed = self._changed
            _, pending = self.after(self.event_id(last))
            if pending:
                continue
            try:
                await asyncio.wait_for(changed.wait(), keepalive)
            except TimeoutError:
                yield ": keep-alive\n\n"
            _, pending = self.after(self.event_id(last))


def _frame(event_id: str | None, kind: str, data: dict[str, Any]) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {kind}\ndata: {json.dumps(data, default=str, separators=(',', ':'))}\n\n"


def _jsonable(payload: dict[str, Any]) -> dict[str, Any]:
    """The payload as JSON would give it back (so a later change to a mutable value it shares
    with the publisher cannot change what was logged)."""
    parsed: dict[str, Any] = json.loads(json.dumps(payload, default=str))
    return parsed
