"""What PostgreSQL allows that one SQLite file does not, and what must still hold.

* Many awake writers on one agent (each with its own store handle, so its own connections) lose
  nothing: every episode, journal record and counter increment is there afterwards, and a reader
  following ``episodes_since`` while they write never skips a row (row numbers commit in order).
* One agent's open write transaction does not hold up another agent's writers; it does hold up
  the same agent's next writer until it commits.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from contract.test_store_contract import MODEL, episode, vectors
from oneiro.playbook import Item
from oneiro.store.postgres import PostgresStore
from pgtest import agent_url

WRITERS = 6
BATCHES = 15
PER_BATCH = 3
#: How long a test waits for another thread before calling it stuck.
WAIT_SECONDS = 30.0


def test_many_writers_lose_nothing_and_a_follower_skips_no_row(
    open_pg: Callable[..., PostgresStore],
) -> None:
    url = agent_url()
    setup = open_pg(url)
    setup.replace_playbook_items([Item("item-a", "Risk", "Keep leverage modest")])
    stores = [open_pg(url) for _ in range(WRITERS)]
    done = threading.Event()
    seen: list[str] = []
    start = threading.Barrier(WRITERS + 1)

    def write(i: int) -> None:
        start.wait()
        for b in range(BATCHES):
            eps = [
                episode(f"writer {i} batch {b} item {j}", ts=1_700_000_000.0 + b, session=f"w{i}")
                for j in range(PER_BATCH)
            ]
            stores[i].add_episodes(eps, vectors(PER_BATCH, seed=i * 100 + b), MODEL, [""] * PER_BATCH)
            stores[i].journal_append(float(b), "note", {"writer": i, "batch": b})
            stores[i].count_item_use("item-a", helpful=1)

    def follow() -> None:
        cursor = 0
        start.wait()
        while True:
            last_round = done.is_set()
            for rowid, ep in setup.episodes_since(cursor):
                seen.append(ep.id)
                cursor = rowid
            if last_round:
                return

    threads = [threading.Thread(target=write, args=(i,)) for i in range(WRITERS)]
    follower = threading.Thread(target=follow)
    for t in [*threads, follower]:
        t.start()
    for t in threads:
        t.join(WAIT_SECONDS * 4)
    done.set()
    follower.join(WAIT_SECONDS)
    total = WRITERS * BATCHES * PER_BATCH
    assert setup.episode_count() == total
    assert len(seen) == len(set(seen)) == total
    assert setup.journal_verify() == WRITERS * BATCHES
    assert setup.playbook_items()[0].helpful == WRITERS * BATCHES
    assert len(setup.load_vectors(MODEL).ids) == total


def test_an_open_write_waits_for_its_own_agent_only(open_pg: Callable[..., PostgresStore]) -> None:
    a_url = agent_url()
    a, a_again, b = open_pg(a_url), open_pg(a_url), open_pg()
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with a.transaction():
            a.put_meta("held", "1")
            holding.set()
            release.wait(WAIT_SECONDS)

    holder = threading.Thread(target=hold)
    holder.start()
    assert holding.wait(WAIT_SECONDS)
    began = time.monotonic()
    b.put_meta("other agent", "writes")
    assert time.monotonic() - began < WAIT_SECONDS / 3
    wrote = threading.Event()

    def same_agent() -> None:
        a_again.put_meta("second", "writer")
        wrote.set()

    second = threading.Thread(target=same_agent)
    second.start()
    assert not wrote.wait(0.5)  # the agent's writer lock is held
    assert a_again.get_meta("held") is None  # and readers do not wait, nor see uncommitted rows
    release.set()
    holder.join(WAIT_SECONDS)
    second.join(WAIT_SECONDS)
    assert wrote.is_set() and a_again.get_meta("held") == "1" and a.get_meta("second") == "writer"
