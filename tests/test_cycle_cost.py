"""A cycle's reads follow its new experience, not the store: each check below reads only the
rows it needs (its own entries' duplicates, one claim's live hypotheses, the active topics
among a topic's citers), and the dream's index searches never re-read every entry's visibility."""

from __future__ import annotations

from typing import Any

import pytest

from fakes import FakeSnapshot, begin_cycle, fake_context
from oneiro.dream.ops.admission import Admission
from oneiro.dream.ops.supersession import LiveClaims, identity
from oneiro.dream.phase import Carry
from oneiro.memory import Memory
from oneiro.model import Entry, EntryStatus, Provenance, entry_id
from oneiro.recall import IndexCache
from oneiro.store.query import EntryQuery, text_key

CYCLE = "c-cost"
#: Unrelated active entries seeded beside the cycle's own: none of them may be read.
UNRELATED = 60


def add(memory: Memory, kind: str, text: str, sources: tuple[str, ...], **kw: Any) -> Entry:
    data = kw.pop("data", {})
    entry = Entry(
        id=entry_id(kind, text, sources, data),
        kind=kind,
        text=text,
        sources=sources,
        provenance=Provenance.DREAM,
        data=data,
        created_at=memory.clock(),
        **kw,
    )
    cycle = kw.get("cycle_id")
    memory.store.add_entries([entry], memory.embedder.embed([text]), memory.embedder.name, cycle)
    return entry


class CountingSnapshot(FakeSnapshot):
    """Counts the entries every ``entries_matching`` returns, beside the query asked."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.read: list[tuple[EntryQuery, int]] = []

    def entries_matching(self, query: EntryQuery) -> list[Entry]:
        found = super().entries_matching(query)
        self.read.append((query, len(found)))
        return found


def test_text_keys_select_entries_whose_text_differs_only_in_case_and_spacing(memory: Memory) -> None:
    ep = memory.record({"text": "Straße works"}).id
    same = add(memory, "summary", "  STRASSE   works ", (ep,), status=EntryStatus.ACTIVE, confidence=0.6)
    add(memory, "summary", "Strasse worked", (ep,), status=EntryStatus.ACTIVE, confidence=0.6)
    found = memory.store.entries_matching(EntryQuery(text_keys=(text_key("straße works"),)))
    assert [e.id for e in found] == [same.id]
    assert memory.store.entries_matching(EntryQuery(text_keys=())) == []


def test_ids_select_those_entries_whatever_else_the_query_says(memory: Memory) -> None:
    ep = memory.record({"text": "the launch moved"}).id
    a = add(memory, "topic", "launch a", (ep,), status=EntryStatus.ACTIVE, confidence=0.6)
    b = add(memory, "topic", "launch b", (ep,), status=EntryStatus.SUPERSEDED, confidence=0.6)
    c = add(memory, "summary", "launch c", (ep,), status=EntryStatus.ACTIVE, confidence=0.6)
    query = EntryQuery(ids=(a.id, b.id, c.id), kinds=("topic",), statuses=(EntryStatus.ACTIVE,))
    assert [e.id for e in memory.store.entries_matching(query)] == [a.id]
    assert {e.id for e in memory.store.entries_matching(EntryQuery(ids=(b.id, c.id)))} == {b.id, c.id}


def test_admission_reads_only_the_duplicates_of_its_own_entries(memory: Memory) -> None:
    begin_cycle(memory.store, CYCLE, memory.clock())  # type: ignore[arg-type]
    ep = memory.record({"text": "Maria moved the launch to Friday", "session": "s1"}).id
    old = add(memory, "summary", "Maria moved the launch", (ep,), status=EntryStatus.ACTIVE, confidence=0.6)
    for i in range(UNRELATED):
        add(memory, "summary", f"unrelated summary {i}", (ep,), status=EntryStatus.ACTIVE, confidence=0.6)
    mine = add(
        memory,
        "summary",
        "maria  MOVED the launch",
        (ep,),
        status=EntryStatus.ACTIVE,
        confidence=0.6,
        cycle_id=CYCLE,
    )
    snap = CountingSnapshot(memory.store, CYCLE, memory.embedder.name)
    outcome = Admission().run(snap, fake_context(CYCLE, memory.clock(), embedder=memory.embedder), Carry())  # type: ignore[arg-type]
    superseded = {u.entry_id: u.changes.get("superseded_by") for u in outcome.writes.updates}
    assert superseded == {mine.id: old.id}
    others = [n for q, n in snap.read if q.cycle != CYCLE]
    assert others and max(others) == 1


def test_a_live_claim_is_found_by_its_identity_alone(memory: Memory) -> None:
    ep = memory.record({"text": "I live in Oslo now"}).id
    older = memory.record({"text": "I live in Bergen"}).id
    key = identity("ana", "I live in Oslo now", "I live in Bergen")
    for i in range(UNRELATED):
        other = identity("ana", f"I live in town {i}", "I live in Bergen")
        add(
            memory,
            "supersession",
            f"claim {i}",
            (ep, older),
            status=EntryStatus.STAGED,
            confidence=0.2,
            data={"identity": other},
        )
    snap = CountingSnapshot(memory.store, CYCLE, memory.embedder.name)
    live = LiveClaims(snap)  # type: ignore[arg-type]
    assert not live.holds(key)
    add(
        memory,
        "supersession",
        "the claim",
        (ep, older),
        status=EntryStatus.STAGED,
        confidence=0.2,
        data={"identity": key},
    )
    legacy = 'Update: "I live in Paris now" replaces "I live in Bergen"'
    add(memory, "supersession", legacy, (ep, older), status=EntryStatus.STAGED, confidence=0.2, keys=("ana",))
    fresh = LiveClaims(CountingSnapshot(memory.store, CYCLE, memory.embedder.name))  # type: ignore[arg-type]
    assert fresh.holds(key)
    assert fresh.holds(identity("ana", "I live in Paris now", "I live in Bergen"))
    assert max(n for _, n in snap.read) <= 1
    live.add("proposed here")
    assert live.holds("proposed here")


class CountingStore:
    """A store whose ``visible_entries`` calls are counted."""

    def __init__(self, store: Any) -> None:
        self._store = store
        self.visibility_reads = 0

    def visible_entries(self, ids: Any, floor: float) -> set[str]:
        self.visibility_reads += 1
        return set(self._store.visible_entries(ids, floor))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def test_index_searches_never_reread_entry_visibility(memory: Memory) -> None:
    ep = memory.record({"text": "the launch moved to Friday"}).id
    hidden = add(memory, "topic", "a hidden topic", (ep,), status=EntryStatus.STAGED, confidence=0.1)
    store = CountingStore(memory.store)
    cache = IndexCache(store, memory.embedder.name, memory.config.lifecycle.confidence_floor)  # type: ignore[arg-type]
    for _ in range(3):
        cache.sync()
        add(memory, "topic", f"another topic {_}", (ep,), status=EntryStatus.ACTIVE, confidence=0.9)
    assert store.visibility_reads == 0
    cache.sync()
    assert hidden.id in cache.hidden and cache.hidden == cache.hidden
    assert store.visibility_reads == 1
    memory.store.update_entry(hidden.id, {"status": EntryStatus.ACTIVE, "confidence": 0.9})
    cache.sync()
    assert hidden.id not in cache.hidden and store.visibility_reads == 2


@pytest.mark.parametrize("text", ["same", "  Same "])
def test_text_key_is_what_admission_compares(text: str) -> None:
    assert text_key(text) == "same"


def test_a_returned_cycle_keeps_no_per_episode_working_state(memory: Memory) -> None:
    """A returned cycle's checkpoint holds what later cycles read (the backlog's intervals,
    re-scoring's cursor, the brief), not the replay picks and keys map its own phases passed on:
    those grow with what it consolidated, and every later cycle reads past checkpoints."""
    from oneiro.dream.phase import WORKING_FIELDS

    memory.record_many([{"text": f"the deploy of service {i} failed at step {i % 7}"} for i in range(40)])
    report = memory.dream(reason="test")
    assert report.status == "completed"
    row = memory.store.cycle(report.cycle_id)
    assert row is not None
    carry = row.checkpoint["carry"]
    assert not WORKING_FIELDS & set(carry), sorted(WORKING_FIELDS & set(carry))
    assert "backlog" in carry and row.checkpoint["consolidated"]
    assert memory.store.cycle_count() == 1
    memory.record_many([{"text": "the search service failed at step 3"}])
    memory.dream(reason="again")
    assert memory.store.cycle_count() == 2
    from oneiro.dream import backlog

    assert backlog.unconsolidated(memory.store) == []
