"""Awake use and outcome accounting: recall notes, a write settles, outcomes credit the recalls
before them once, and an author cannot credit their own claim helpful."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

import oneiro
from conftest import FakeClock
from oneiro.memory import Memory
from oneiro.model import Entry, EntryStatus, Provenance, entry_id
from oneiro.usage import CREDIT_WINDOW_SECONDS

TEXT = "the staging database password rotates every friday"


def planted(memory: Memory, sources: tuple[str, ...] = (), text: str = TEXT) -> Entry:
    prov = Provenance.DREAM if sources else Provenance.AWAKE
    entry = Entry(
        id=entry_id("fact", text, sources),
        kind="fact",
        text=text,
        sources=sources,
        provenance=prov,
        confidence=0.6,
        status=EntryStatus.ACTIVE,
        created_at=memory.clock(),
    )
    memory.store.add_entries([entry], memory.embedder.embed([text]), memory.embedder.name)
    return entry


def counters(memory: Memory, entry: Entry) -> tuple[int, int, int]:
    e = memory.store.entries([entry.id])[entry.id]
    return e.uses, e.helpful, e.harmful


def recalled(memory: Memory, entry: Entry) -> bool:
    return any(h.item.id == entry.id for h in memory.recall("staging database password", k=5))


def test_recall_notes_uses_and_a_write_counts_them(memory: Memory) -> None:
    entry = planted(memory)
    assert recalled(memory, entry) and recalled(memory, entry)
    assert counters(memory, entry) == (0, 0, 0)  # recall itself wrote nothing
    memory.record({"text": "unrelated chatter", "actor": "bob"})
    assert counters(memory, entry) == (2, 0, 0)
    assert memory.flush_uses() == 0  # nothing left to count


def test_an_outcome_credits_the_recalls_before_it_once(memory: Memory, clock: FakeClock) -> None:
    entry = planted(memory)
    assert recalled(memory, entry)
    memory.record({"text": "deploy failed", "actor": "ops", "feedback": -1.0})
    memory.record({"text": "deploy failed again", "actor": "ops", "feedback": -1.0})
    assert counters(memory, entry) == (1, 0, 1)
    assert recalled(memory, entry)
    clock.advance(CREDIT_WINDOW_SECONDS + 1)
    memory.record({"text": "deploy worked", "actor": "ops", "feedback": 1.0})
    assert counters(memory, entry) == (2, 0, 1)  # the stale recall is not credited


def test_an_author_cannot_credit_their_own_claim_helpful(memory: Memory) -> None:
    (src,) = memory.record_many([{"text": "I rotate the password on fridays", "actor": "mallory"}])
    entry = planted(memory, (src.id,))
    assert recalled(memory, entry)
    memory.record({"text": "it went great", "actor": "mallory", "feedback": 1.0})
    assert counters(memory, entry) == (1, 0, 0)
    assert recalled(memory, entry)
    memory.record({"text": "it went great", "actor": "alice", "feedback": 1.0})
    assert counters(memory, entry) == (2, 1, 0)
    assert recalled(memory, entry)
    memory.record({"text": "it broke", "actor": "mallory", "feedback": -1.0})
    assert counters(memory, entry) == (3, 1, 1)  # harm counts from anyone, as refutations do


def test_closing_counts_what_is_left(tmp_path: object) -> None:
    path = f"{tmp_path}/s.db"
    with oneiro.open(path, embedder="hashing") as m:
        entry = planted(m)
        assert recalled(m, entry)
    with oneiro.open(path, embedder="hashing") as m:
        assert counters(m, entry) == (1, 0, 0)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.sampled_from(["recall", "good", "bad", "none", "wait"]), max_size=25))
def test_credit_never_exceeds_uses(steps: list[str]) -> None:
    clock = FakeClock()
    with oneiro.open(":memory:", embedder="hashing", clock=clock) as m:
        entry = planted(m)
        for i, step in enumerate(steps):
            if step == "recall":
                recalled(m, entry)
            elif step == "wait":
                clock.advance(CREDIT_WINDOW_SECONDS / 2)
            else:
                fb = {"good": 1.0, "bad": -1.0, "none": None}[step]
                m.record({"text": f"outcome {i}", "actor": f"p{i % 3}", "feedback": fb})
        m.flush_uses()
        uses, helpful, harmful = counters(m, entry)
        assert helpful + harmful <= uses == steps.count("recall")
