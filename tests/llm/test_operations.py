"""Every built-in LLM operation inside a real cycle against the loopback endpoint (answers in
answers.py): what a valid answer says enters staged at the hypothesis confidence citing real
episodes; made-up ids, misattributed speakers, incoherent narratives and rule text the screen
refuses never enter; T2 operations run only at T2; an invalid answer falls back for that step."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from answers import GHOST, GOOD_RULE, INJECTION, answer
from llm_server import LLMServer, schema_name

import oneiro
from oneiro.dream.budget import CycleBudget
from oneiro.dream.writes import RevisionProposal
from oneiro.memory import Memory
from oneiro.model import Entry, EntryStatus, Provenance, Tier
from oneiro.playbook import RevisionStatus
from oneiro.store.query import EntryQuery

KEY_ENV = "ONEIRO_TEST_LLM_KEY"
LLM_KINDS = ("importance", "fact", "contradiction", "reflection", "dream_narrative")
DAY = 1_767_225_600.0  # 2026-01-01 00:00 UTC
TURNS = [
    ("maya", "the nightly build of the web app runs at 01:00 UTC"),
    ("ravi", "the staging cluster ran out of disk again"),
    ("maya", "the nightly build of the web app now runs at 02:00 UTC"),
    ("ravi", "we renamed the artifacts bucket to oneiro-artifacts"),
]


def table(url: str) -> dict[str, Any]:
    return {"base_url": url, "model": "loopback", "api_key_env": KEY_ENV, "max_retries": 0, "backoff_s": 0.0}


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[LLMServer, Memory, list[str]]]:
    monkeypatch.setenv(KEY_ENV, "sk-test")
    server = LLMServer([], default=answer)
    memory = oneiro.open(
        ":memory:",
        embedder="hashing",
        overrides={"tiers": {"T1": table(server.url), "T2": table(server.url)}},
    )
    eps = memory.record_many(
        [{"text": t, "actor": a, "session": "s1", "ts": DAY + 60 * i} for i, (a, t) in enumerate(TURNS)]
    )
    yield server, memory, [e.id for e in eps]
    memory.close()
    server.close()


def made(memory: Memory, kind: str) -> list[Entry]:
    return memory.store.entries_matching(EntryQuery(kinds=(kind,)))


def dream(memory: Memory, tier: Tier) -> Any:
    return memory.dream(reason="test", budget=CycleBudget(60.0, 200_000, tier))


def test_at_t1_each_operation_keeps_what_cites_real_episodes_and_nothing_else(
    served: tuple[LLMServer, Memory, list[str]],
) -> None:
    server, memory, ids = served
    report = dream(memory, Tier.T1)
    assert report.status == "completed"
    asked = {schema_name(r) for r in server.requests}
    assert asked == {"llm_importance", "llm_facts", "llm_contradiction", "llm_reflection"}
    for kind in LLM_KINDS:
        for e in made(memory, kind):
            assert e.status == EntryStatus.STAGED and e.provenance == Provenance.LLM and e.confidence == 0.2
            assert e.sources and set(e.sources) <= set(ids) and GHOST not in e.sources
            assert e.data["model"] == "loopback" and e.data["prompt_hash"]
    ratings = made(memory, "importance")
    assert sorted(e.sources[0] for e in ratings) == sorted(ids)
    assert all(1 <= e.data["rating"] <= 10 for e in ratings)
    facts = {e.text: e for e in made(memory, "fact")}
    assert "a misattributed fact" not in facts and "a fact from nowhere" not in facts
    assert facts["an undated fact"].data["date"] is None
    (good,) = [e for t, e in facts.items() if t.startswith("maya said")]
    assert good.data["speaker"] == "maya" and good.data["date"] == "2026-01-01"
    assert [e.text for e in made(memory, "reflection")] == ["the build schedule moved"]
    assert not made(memory, "dream_narrative")  # a T2 operation: not at T1
    calls = memory.journal(report.cycle_id, kind="llm_call")
    assert {c.payload["op"] for c in calls} == asked and all(c.payload["tier"] == "T1" for c in calls)


def test_contradiction_judgement_cites_the_pair_it_was_shown(
    served: tuple[LLMServer, Memory, list[str]],
) -> None:
    server, memory, ids = served
    dream(memory, Tier.T1)
    judged = [r for r in server.requests if schema_name(r) == "llm_contradiction"]
    assert judged, "the two build-schedule turns must be paired"
    (entry,) = made(memory, "contradiction")
    assert entry.data["verdict"] == "updates" and len(entry.sources) == 2
    assert {entry.data["older"], entry.data["newer"]} == set(entry.sources) <= set(ids)


def test_at_t2_imagination_keeps_only_coherent_cited_narratives(
    served: tuple[LLMServer, Memory, list[str]],
) -> None:
    _server, memory, ids = served
    dream(memory, Tier.T2)
    (dreamt,) = made(memory, "dream_narrative")
    assert dreamt.text.startswith("a dream where the build ran at dawn")
    assert dreamt.data["coherence"] == 5 and dreamt.sources[0] in ids


def test_playbook_deltas_rest_on_confirmed_evidence_and_pass_the_screen(
    served: tuple[LLMServer, Memory, list[str]],
) -> None:
    server, memory, ids = served
    confirmed = Entry(
        id="confirmed-disk",
        kind="fact",
        text="the staging cluster runs out of disk before nightly builds",
        sources=(ids[1],),
        provenance=Provenance.DREAM,
        confidence=0.5,
        status=EntryStatus.VALIDATED,
    )
    memory.store.add_entries([confirmed], memory.embedder.embed([confirmed.text]), memory.embedder.name, None)
    book = memory.playbook
    rev = book.propose(RevisionProposal("add", "Heuristics", "Prefer small deploys.", "seed"))
    book.approve(rev.id)
    report = dream(memory, Tier.T2)
    proposed = [
        r for r in memory.playbook.revisions(RevisionStatus.PROPOSED) if r.cycle_id == report.cycle_id
    ]
    by_op = {(r.op, r.text) for r in proposed}
    assert ("add", GOOD_RULE) in by_op
    assert ("remove", "Prefer small deploys.") in by_op
    assert all(INJECTION not in (r.text or "") for r in memory.playbook.revisions())
    assert not any("Rest on nothing" in (r.text or "") for r in memory.playbook.revisions())
    screened = memory.journal(report.cycle_id, kind="revision_screened")
    assert any(n.payload.get("op") == "llm_playbook" for n in screened)
    assert all(INJECTION not in str(r.payload) for r in memory.journal())
    assert any(schema_name(r) == "llm_playbook" for r in server.requests)


def test_an_invalid_answer_falls_back_for_that_step_and_t0_still_runs(
    served: tuple[LLMServer, Memory, list[str]],
) -> None:
    server, memory, _ids = served

    def broken_facts(body: dict[str, Any]) -> Any:
        return ("text", "{not json") if schema_name(body) == "llm_facts" else answer(body)

    server.default = broken_facts
    report = dream(memory, Tier.T1)
    assert report.status == "completed"
    (note,) = memory.journal(report.cycle_id, kind="llm_fallback")
    assert note.payload == {"op": "llm_facts", "reason": "invalid_answer", "why": note.payload["why"]}
    assert not made(memory, "fact") and made(memory, "reflection") and made(memory, "keys")
