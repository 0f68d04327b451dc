"""Anticipation in a real cycle: an unanswered question at the end of a session is answered ahead
from the store, staged with real sources, and confirmed when the question comes again."""

from __future__ import annotations

from conftest import FakeClock
from oneiro.memory import Memory
from oneiro.model import EntryStatus
from oneiro.store.query import EntryQuery


def test_an_open_question_is_answered_ahead_and_confirmed_when_asked_again(
    memory: Memory, clock: FakeClock
) -> None:
    base = clock() - 3600
    turns = [
        ("ann", "The blue bucket lives in the garden shed."),
        ("bob", "I painted the garden shed last spring."),
        ("ann", "The red kayak is at the lake house."),
        ("bob", "Where did we leave the blue bucket?"),
    ]
    eps = memory.record_many(
        [{"ts": base + i, "session": "s1", "actor": a, "text": t} for i, (a, t) in enumerate(turns)]
    )
    memory.dream()
    [entry] = memory.store.entries_matching(EntryQuery(kinds=("anticipation",)))
    assert entry.status == EntryStatus.STAGED and entry.confidence == 0.2
    assert (
        entry.data["query"] == "Where did we leave the blue bucket?" and entry.data["why"] == "open question"
    )
    assert eps[3].id in entry.sources and eps[3].id not in entry.data["bundle"]
    assert set(entry.data["bundle"]) <= {e.id for e in eps} and eps[0].id in entry.data["bundle"]
    clock.advance(3600)
    again = memory.record(
        {"ts": clock(), "session": "s2", "actor": "cy", "text": "Where did we leave the blue bucket?"}
    )
    memory.validate([again])
    assert memory.store.entries([entry.id])[entry.id].confirmations == 1


def test_a_question_already_answered_in_its_session_is_not_open(memory: Memory, clock: FakeClock) -> None:
    base = clock() - 3600
    turns = ["Where is the bucket?", "In the shed.", "Thanks.", "Anything else?", "No."]
    memory.record_many(
        [{"ts": base + i, "session": "s1", "actor": "a", "text": t} for i, t in enumerate(turns)]
    )
    memory.dream()
    got = [e.data["query"] for e in memory.store.entries_matching(EntryQuery(kinds=("anticipation",)))]
    assert "Where is the bucket?" not in got and "Anything else?" in got
