"""Reflection at T1 inside a real cycle, against the loopback server: a cited insight enters
staged and sourced, a hallucinated citation never enters, and a failing endpoint falls back (the
cycle completes, the journal says why, the T0 operations still ran)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from llm_server import LLMServer

import oneiro
from oneiro.dream.budget import CycleBudget
from oneiro.dream.ops.llm.reflection import LLMReflection
from oneiro.llm.backend import TierConfig
from oneiro.llm.openai_backend import OpenAIBackend
from oneiro.memory import Memory
from oneiro.model import EntryStatus, Provenance, Tier
from oneiro.plugins import hookimpl
from oneiro.store.query import EntryQuery


class Reflecting:
    def __init__(self, op: LLMReflection) -> None:
        self.op = op

    @hookimpl
    def register_operations(self, register: Any) -> None:
        register("rem", self.op, order=1)


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[LLMServer, Memory]]:
    monkeypatch.setenv("ONEIRO_TEST_KEY", "sk-test")
    server = LLMServer([])
    config = TierConfig(
        base_url=server.url,
        model="m",
        api_key_env="ONEIRO_TEST_KEY",
        timeout_s=2.0,
        max_retries=1,
        backoff_s=0.0,
    )
    op = LLMReflection(OpenAIBackend(config, None))
    memory = oneiro.open(":memory:", embedder="hashing", plugins=[Reflecting(op)])
    episodes = memory.record_many(
        [{"text": f"the deploy of service {i} failed at step {i}", "session": "s1"} for i in range(6)]
    )
    memory.recorded = [e.id for e in episodes]  # type: ignore[attr-defined]
    yield server, memory
    memory.close()
    server.close()


def dream_t1(memory: Memory) -> Any:
    return memory.dream(reason="test", budget=CycleBudget(60.0, 10_000, Tier.T1))


def test_a_cited_insight_enters_staged_and_a_hallucinated_one_never_does(
    served: tuple[LLMServer, Memory],
) -> None:
    server, memory = served
    ids: list[str] = memory.recorded  # type: ignore[attr-defined]
    server.script = [
        (
            "json",
            {
                "questions": ["what keeps failing?"],
                "insights": [
                    {"text": "deploys fail repeatedly", "evidence": [ids[0]]},
                    {"text": "the moon is made of cheese", "evidence": ["ep-that-does-not-exist"]},
                ],
            },
        )
    ]
    report = dream_t1(memory)
    assert report.status == "completed"
    made = memory.store.entries_matching(EntryQuery(kinds=("reflection",)))
    assert [e.text for e in made] == ["deploys fail repeatedly"]
    (entry,) = made
    assert entry.sources == (ids[0],) and entry.status == EntryStatus.STAGED
    assert entry.provenance == Provenance.LLM and entry.confidence < 0.3
    (call,) = memory.journal(report.cycle_id, kind="llm_call")
    assert call.payload["rejected"] == 1 and call.payload["tokens"] > 0
    assert "sk-test" not in str([r.payload for r in memory.journal()])


def test_a_failing_endpoint_falls_back_and_the_cycle_completes(served: tuple[LLMServer, Memory]) -> None:
    server, memory = served
    server.script = [("status", 500)] * 4
    report = dream_t1(memory)
    assert report.status == "completed"
    (note,) = memory.journal(report.cycle_id, kind="llm_fallback")
    assert note.payload["reason"] == "endpoint_failed"
    assert not memory.store.entries_matching(EntryQuery(kinds=("reflection",)))
    assert memory.store.entries_matching(EntryQuery(kinds=("keys",)))  # T0 consolidation still ran
