"""recall(): the right episode on a small realistic set, filters, entry visibility, sources."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

import oneiro
from conftest import FakeClock
from oneiro.backends import Embedder
from oneiro.errors import InvalidInput
from oneiro.index import NumpyIndex
from oneiro.memory import Memory
from oneiro.model import Entry, EntryStatus, Episode, Hit, Provenance, entry_id
from oneiro.recall import rank_sources, source_ranking
from oneiro.store import cycles
from oneiro.store.vectors import VectorRows

DAY = 86_400.0
T0 = 1_772_000_000.0

#: A week of a small team's agent: (text, session, actor, kind, day).
EVENTS: list[tuple[str, str, str, str, int]] = [
    ("Maya moved the nightly build to 02:00 UTC", "chat-1", "maya", "message", 0),
    ("The staging cluster ran out of disk during the migration", "ops-1", "bot", "error", 0),
    ("Ravi asked for the S3 bucket to be renamed to oneiro-artifacts", "chat-1", "ravi", "message", 1),
    ("We decided to release on Friday evening", "chat-2", "maya", "decision", 2),
    ("The Friday release broke the login page for mobile users", "ops-1", "bot", "outcome", 3),
    ("Lena prefers code reviews in the morning before standup", "chat-2", "lena", "message", 3),
    ("The database backup takes forty minutes on Sundays", "ops-2", "bot", "observation", 4),
    ("Ravi said the invoice service times out above 500 requests per second", "chat-3", "ravi", "message", 5),
    ("Rolled back the payment gateway after checkout errors", "ops-2", "bot", "decision", 5),
    ("Maya will be on holiday in Lisbon next week", "chat-3", "maya", "message", 6),
    ("The CI runners were upgraded to 16 GB of memory", "ops-1", "bot", "observation", 6),
    ("Lena reported that the search page is slow on large accounts", "chat-2", "lena", "feedback", 6),
]


@pytest.fixture
def week(clock: FakeClock) -> Iterator[tuple[Memory, dict[str, Episode]]]:
    clock.now = T0 + 7 * DAY
    memory = oneiro.open(":memory:", embedder="hashing", clock=clock)
    eps = memory.record_many(
        [{"text": t, "session": s, "actor": a, "kind": k, "ts": T0 + d * DAY} for t, s, a, k, d in EVENTS]
    )
    yield memory, {e.text: e for e in eps}
    memory.close()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("when does the nightly build run?", 0),
        ("what did Ravi want to rename the bucket to?", 2),
        ("why did the login page break?", 4),
        ("how long does the database backup take?", 6),
        ("where is Maya going on holiday?", 9),
        ("how much memory do the CI runners have?", 10),
        ("which page is slow?", 11),
    ],
)
def test_finds_the_right_episode(week: tuple[Memory, dict[str, Episode]], query: str, expected: int) -> None:
    memory, eps = week
    hits = memory.recall(query, k=3)
    assert hits[0].item == eps[EVENTS[expected][0]]
    assert hits[0].sources == (hits[0].id,)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_filters(week: tuple[Memory, dict[str, Episode]]) -> None:
    memory, _ = week
    query = "Maya Ravi Lena bot release page build"

    def texts(**flt: Any) -> set[str]:
        return {h.item.text for h in memory.recall(query, k=20, **flt)}

    assert texts(session="chat-2") == {t for t, s, *_ in EVENTS if s == "chat-2"}
    assert texts(actor=["ravi", "lena"]) <= {t for t, _, a, *_ in EVENTS if a in {"ravi", "lena"}}
    assert texts(actor="ravi") == {t for t, _, a, *_ in EVENTS if a == "ravi"}
    assert texts(kind="decision") == {t for t, _, _, k, _ in EVENTS if k == "decision"}
    since, until = T0 + 3 * DAY, T0 + 5 * DAY
    window = {t for t, *_, d in EVENTS if 3 <= d <= 5}
    assert texts(since=since, until=until) <= window
    iso = datetime.fromtimestamp(T0 + 2 * DAY, UTC).replace(tzinfo=None).isoformat()
    assert texts(since=iso, until=until) == texts(since=T0 + 2 * DAY, until=until)
    assert texts(session="no-such-session") == set()
    assert texts(session="chat-1", actor="maya") == {EVENTS[0][0]}


def test_bad_queries_are_invalid_input(memory: Memory) -> None:
    for query, k in (("", 3), ("   ", 3), ("fine", 0), ("fine", -1)):
        with pytest.raises(InvalidInput):
            memory.recall(query, k=k)
    with pytest.raises(InvalidInput, match="since"):
        memory.recall("fine", since="last tuesday-ish")


def test_empty_store_recalls_nothing(memory: Memory) -> None:
    assert memory.recall("anything at all") == []


# -- entries: visibility, sources ---------------------------------------------------------------


def put_entry(
    memory: Memory, text: str, sources: tuple[str, ...], *, cycle: str | None = None, **kw: Any
) -> Entry:
    e = Entry(
        id=entry_id("fact", text, sources),
        kind="fact",
        text=text,
        sources=sources,
        provenance=Provenance.DREAM,
        created_at=T0 + 7 * DAY,
        **kw,
    )
    memory.store.add_entries([e], memory.embedder.embed([text]), memory.embedder.name, cycle_id=cycle)
    return e


def ids_of(memory: Memory, query: str) -> set[str]:
    return {h.id for h in memory.recall(query, k=30)}


def test_an_active_entry_comes_with_its_sources(week: tuple[Memory, dict[str, Episode]]) -> None:
    memory, eps = week
    sources = (eps[EVENTS[4][0]].id, eps[EVENTS[3][0]].id)
    entry = put_entry(
        memory,
        "Friday evening releases break the login page",
        sources,
        confidence=0.6,
        status=EntryStatus.ACTIVE,
    )
    hits = memory.recall("do Friday evening releases break the login page?", k=5)
    hit = next(h for h in hits if h.id == entry.id)
    assert hit.is_entry and hit.sources == sources
    assert [e.id for e in memory.sources(hit.item)] == list(sources)  # type: ignore[arg-type]
    assert [e.id for e in memory.sources(entry.id)] == list(sources)
    with pytest.raises(InvalidInput, match="no entry"):
        memory.sources("not-an-entry")


@pytest.mark.parametrize(
    ("confidence", "status", "visible"),
    [
        (0.29, EntryStatus.ACTIVE, False),
        (0.2, EntryStatus.STAGED, False),
        (0.3, EntryStatus.STAGED, True),
        (0.9, EntryStatus.VALIDATED, True),
        (0.9, EntryStatus.REFUTED, False),
        (0.9, EntryStatus.EXPIRED, False),
        (0.9, EntryStatus.REVERTED, False),
        (0.9, EntryStatus.SUPERSEDED, False),
    ],
)
def test_only_visible_entries_are_recalled(
    week: tuple[Memory, dict[str, Episode]], confidence: float, status: EntryStatus, visible: bool
) -> None:
    memory, eps = week
    e = put_entry(
        memory, "the nightly build runs at two", (eps[EVENTS[0][0]].id,), confidence=confidence, status=status
    )
    assert (e.id in ids_of(memory, "nightly build runs at two")) is visible


def test_an_entry_falling_below_the_floor_disappears(week: tuple[Memory, dict[str, Episode]]) -> None:
    memory, eps = week
    e = put_entry(
        memory,
        "the nightly build runs at two",
        (eps[EVENTS[0][0]].id,),
        confidence=0.5,
        status=EntryStatus.ACTIVE,
    )
    assert e.id in ids_of(memory, "nightly build")
    memory.store.update_entry(e.id, {"confidence": 0.25})
    assert e.id not in ids_of(memory, "nightly build")


@pytest.mark.parametrize("tagged", ["on-the-entry", "on-the-write"])
def test_entries_of_a_cycle_appear_only_once_it_completes(
    week: tuple[Memory, dict[str, Episode]], tagged: str
) -> None:
    memory, eps = week
    with memory.store.db.write() as conn:
        cycles.create(conn, "c1", T0, {}, "test", 1)
    src = (eps[EVENTS[6][0]].id,)
    if tagged == "on-the-entry":
        e = put_entry(
            memory,
            "backups are slow on Sundays",
            src,
            cycle_id="c1",
            confidence=0.6,
            status=EntryStatus.ACTIVE,
        )
    else:
        e = put_entry(
            memory, "backups are slow on Sundays", src, cycle="c1", confidence=0.6, status=EntryStatus.ACTIVE
        )
    assert e.id not in ids_of(memory, "backups slow Sundays")
    for status in ("interrupted", "failed"):
        with memory.store.db.write() as conn:
            cycles.update(conn, "c1", status=status)
        assert e.id not in ids_of(memory, "backups slow Sundays")
    with memory.store.db.write() as conn:
        cycles.update(conn, "c1", status="completed")
    assert e.id in ids_of(memory, "backups slow Sundays")


# -- source_ranking -------------------------------------------------------------------------------


def fake_hit(item: Episode | Entry) -> Hit:
    return Hit(item, 1.0, 1.0, None, None)


def test_source_ranking_expands_entries_in_rank_order_without_duplicates() -> None:
    a, b, _, d = (Episode(id=x, ts=0.0, text=x) for x in "abcd")
    e1 = Entry(id="e1", kind="fact", text="", sources=("c", "a"), provenance=Provenance.DREAM)
    e2 = Entry(id="e2", kind="fact", text="", sources=("d", "b", "c"), provenance=Provenance.DREAM)
    hits = [fake_hit(a), fake_hit(e1), fake_hit(b), fake_hit(e2)]
    assert source_ranking(hits, 10) == ["a", "c", "b", "d"]
    assert source_ranking(hits, 2) == ["a", "c"]
    assert source_ranking([fake_hit(e2), fake_hit(d)], 10) == ["d", "b", "c"]
    assert source_ranking([], 5) == []


def test_an_entry_lists_first_the_sources_the_query_found_on_their_own() -> None:
    """Sources recall scored as candidates come first, by that score, whatever their cosine; the
    rest follow by cosine to the query; sources without a vector keep their place at the end."""
    index = NumpyIndex()
    vectors = np.eye(4, dtype=np.float32)
    index.add(VectorRows([1, 2, 3, 4], list("abcd"), ["episode"] * 4, [0.0] * 4, [""] * 4, [""] * 4,
                         ["message"] * 4, vectors))
    entry = Entry(id="t", kind="topic", text="", sources=("a", "b", "c", "d", "z"),
                  provenance=Provenance.DREAM)
    qvec = np.array([0.9, 0.1, 0.5, 0.0], dtype=np.float32)
    by_cosine = rank_sources(fake_hit(entry), qvec, index)
    assert by_cosine.sources == ("a", "c", "b", "d", "z")
    by_relevance = rank_sources(fake_hit(entry), qvec, index, {"d": 0.02, "b": 0.03})
    assert by_relevance.sources == ("b", "d", "a", "c", "z")


def test_source_ranking_of_a_real_recall(week: tuple[Memory, dict[str, Episode]]) -> None:
    memory, eps = week
    src = (eps[EVENTS[4][0]].id, eps[EVENTS[3][0]].id)
    put_entry(memory, "Friday releases break login", src, confidence=0.7, status=EntryStatus.ACTIVE)
    hits = memory.recall("Friday release login", k=5)
    ranked = source_ranking(hits, 5)
    assert len(ranked) == len(set(ranked)) <= 5
    assert set(src) <= set(ranked)
    assert all(r in {e.id for e in eps.values()} for r in ranked)


# -- with the real model --------------------------------------------------------------------------


def test_minilm_finds_a_paraphrase(minilm: Embedder) -> None:
    with oneiro.open(":memory:", embedder=minilm, clock=FakeClock(T0 + 7 * DAY)) as memory:
        eps = memory.record_many([{"text": t, "ts": T0 + d * DAY} for t, _, _, _, d in EVENTS])
        hits = memory.recall("which city is she travelling to for vacation?", k=3)
        assert hits[0].id == eps[9].id
        hits = memory.recall("compile job schedule overnight", k=3)
        assert hits[0].id == eps[0].id
