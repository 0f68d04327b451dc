from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from llm_server import LLMServer

from oneiro.dream.budget import PhaseBudget
from oneiro.errors import ConfigError
from oneiro.llm.backend import LLMError, TierConfig
from oneiro.llm.cache import ResponseCache
from oneiro.llm.openai_backend import OpenAIBackend
from oneiro.llm.prompts import Reflection, reflection_messages

GOOD = {"questions": ["q"], "insights": [{"text": "t", "evidence": ["e1"]}]}
MSGS = reflection_messages([("e1", "hello")])


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("ONEIRO_TEST_KEY", "sk-test")
    yield


def backend(server: LLMServer, cache: ResponseCache | None = None, **kw: Any) -> OpenAIBackend:
    cfg = TierConfig(
        base_url=server.url,
        model="m",
        api_key_env="ONEIRO_TEST_KEY",
        timeout_s=kw.pop("timeout_s", 2.0),
        max_retries=kw.pop("max_retries", 2),
        backoff_s=0.0,
    )
    return OpenAIBackend(cfg, cache)


def run(
    script: list[tuple[str, Any]], tokens: int = 1000, cache: ResponseCache | None = None, **kw: Any
) -> tuple[Any, PhaseBudget, LLMServer]:
    server = LLMServer(script)
    budget = PhaseBudget(10.0, tokens)
    try:
        try:
            answer: Any = backend(server, cache, **kw).ask(MSGS, Reflection, budget)
        except LLMError as exc:
            answer = exc
        return answer, budget, server
    finally:
        server.close()


def test_valid_answer_charges_usage_and_sends_schema(env: None) -> None:
    answer, budget, server = run([("json", GOOD)])
    assert answer.value == Reflection.model_validate(GOOD)
    assert budget.tokens == 1000 - sum(server.tokens.values()) < 1000
    assert server.requests[0]["response_format"]["type"] == "json_schema"
    assert "sk-test" not in str(server.requests[0])


def test_invalid_json_gets_one_repair(env: None) -> None:
    answer, budget, server = run([("text", "not json"), ("json", GOOD)])
    assert answer.value.insights[0].evidence == ["e1"]
    assert len(server.requests) == 2 and budget.tokens == 1000 - sum(server.tokens.values())


def test_invalid_twice_is_an_error(env: None) -> None:
    answer, _b, _s = run([("text", "{"), ("json", {"questions": 3})])
    assert isinstance(answer, LLMError) and answer.reason == "invalid_answer"


def test_truncated_answer_is_repaired(env: None) -> None:
    answer, _b, _s = run([("truncated", '{"questions": ["q"], "ins'), ("json", GOOD)])
    assert answer.value.questions == ["q"]


def test_429_and_500_are_retried_then_give_up(env: None) -> None:
    answer, _b, server = run([("status", 429), ("status", 500), ("json", GOOD)])
    assert answer.value.questions == ["q"] and len(server.requests) == 3
    answer, _b, server = run([("status", 500)] * 3)
    assert isinstance(answer, LLMError) and answer.reason == "endpoint_failed" and len(server.requests) == 3


def test_slow_answer_times_out(env: None) -> None:
    answer, _b, _s = run([("slow", 1.0)], timeout_s=0.2, max_retries=0)
    assert isinstance(answer, LLMError) and answer.reason == "endpoint_failed"


def test_exhausted_budget_sends_nothing(env: None) -> None:
    answer, _b, server = run([("json", GOOD)], tokens=0)
    assert isinstance(answer, LLMError) and answer.reason == "budget_exhausted" and not server.requests


def test_cache_makes_a_repeated_run_free(env: None, tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "llm-cache")
    run([("json", GOOD)], cache=cache)
    answer, budget, server = run([("status", 500)], cache=cache)
    assert answer.cached and budget.tokens == 1000 and not server.requests


def test_missing_key_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ONEIRO_TEST_KEY", raising=False)
    answer, _b, server = run([("json", GOOD)])
    assert isinstance(answer, LLMError) and answer.reason == "key_missing" and not server.requests


def test_tier_without_table_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"\[tiers.T1\]"):
        TierConfig.from_table("T1", None)
    with pytest.raises(ConfigError, match="model"):
        TierConfig.from_table("T1", {"base_url": "http://x"})


def test_an_unwritable_cache_is_a_miss_not_an_error(env: None, tmp_path: Path) -> None:
    blocked = tmp_path / "llm-cache"
    blocked.write_text("a file where the cache folder should be", encoding="utf-8")
    cache = ResponseCache(blocked)
    answer, _b, server = run([("json", GOOD)], cache=cache)
    assert answer.value.questions == ["q"] and len(server.requests) == 1
    answer, _b, server = run([("json", GOOD)], cache=cache)
    assert not answer.cached and len(server.requests) == 1
