"""An LLM's importance ratings (ONSET, T1) reach replay: the episode the model rates highest is
the one replay prefers, and every new episode is rated, however many a cycle takes in."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from answers import answer
from llm_server import Behaviour, LLMServer, record_ids, schema_name

import oneiro
from oneiro.dream.budget import CycleBudget
from oneiro.dream.ops.llm.importance import IMPORTANCE_BATCH
from oneiro.model import Tier
from oneiro.store.query import EntryQuery

KEY_ENV = "ONEIRO_TEST_LLM_KEY"
DAY = 1_767_225_600.0
TOPICS = ("billing", "search", "login", "backups", "payments", "alerts", "exports", "quotas")


def _table(url: str) -> dict[str, Any]:
    return {"base_url": url, "model": "loopback", "api_key_env": KEY_ENV, "max_retries": 0, "backoff_s": 0.0}


def _favouring_last(body: dict[str, Any]) -> Behaviour:
    """Rate the last episode a prompt shows 10 and every other 1; other schemas as usual."""
    if schema_name(body) != "llm_importance":
        return answer(body)
    ids = record_ids(body)
    return ("json", {"ratings": [{"id": i, "rating": 10 if i == ids[-1] else 1, "why": ""} for i in ids]})


def _selected(memory: Any, cycle_id: str) -> list[dict[str, Any]]:
    (note,) = memory.journal(cycle_id, kind="replay_selection")
    return list(note.payload["selected"])


def test_replay_prefers_the_episode_the_model_rates_highest(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "sk-test")
    server = LLMServer([], default=_favouring_last)
    try:
        with oneiro.open(
            ":memory:", embedder="hashing", overrides={"tiers": {"T1": _table(server.url)}}
        ) as memory:
            texts = [f"the {t} service was slow during the morning shift" for t in TOPICS]
            eps = memory.record_many(
                [
                    {"text": t, "actor": "ops", "session": "s1", "ts": DAY + 60.0 * i}
                    for i, t in enumerate(texts)
                ]
            )
            report = memory.dream(reason="test", budget=CycleBudget(60.0, 200_000, Tier.T1))
            picks = _selected(memory, report.cycle_id)
    finally:
        server.close()
    gains = {p["id"]: p["gain"] for p in picks}
    favoured = eps[-1].id
    assert picks[0]["id"] == favoured
    assert all(gains[favoured] > g for i, g in gains.items() if i != favoured)


def test_every_new_episode_is_rated_in_as_many_requests_as_it_takes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "sk-test")
    server = LLMServer([], default=_favouring_last)
    count = IMPORTANCE_BATCH + 7
    try:
        with oneiro.open(
            ":memory:", embedder="hashing", overrides={"tiers": {"T1": _table(server.url)}}
        ) as memory:
            eps = memory.record_many(
                [
                    {"text": f"turn {i} about {TOPICS[i % len(TOPICS)]} number {i * 7}", "ts": DAY + i}
                    for i in range(count)
                ]
            )
            memory.dream(reason="test", budget=CycleBudget(60.0, 400_000, Tier.T1))
            rated = memory.store.entries_matching(EntryQuery(kinds=("importance",)))
    finally:
        server.close()
    asked = [r for r in server.requests if schema_name(r) == "llm_importance"]
    assert len(asked) == 2
    assert sorted(e.sources[0] for e in rated) == sorted(e.id for e in eps)
