"""The seed's content pipeline: publish awake, re-score in a dream, never publish twice."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from loopback import CountingServer, engagement_for
from oneiro.gate import Gate
from oneiro.store import SQLiteStore

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "content_pipeline.py"


@pytest.fixture(scope="module")
def example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("content_pipeline", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["content_pipeline"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def gate(tmp_path: Path) -> Iterator[Gate]:
    store = SQLiteStore(tmp_path / "content.db")
    yield Gate(store, lambda: 0.0)
    store.close()


def test_dream_rescoring_publishes_nothing(example: ModuleType, gate: Gate) -> None:
    topics = example.TOPICS
    with CountingServer() as server:
        example.register(gate, server.url)
        awake = example.run(gate, topics, "score_v1")
        assert (server.count("POST"), server.count("GET")) == (len(topics), len(topics))
        dreamt = example.rescore_in_dream(gate, topics, "rescore-1")
        assert (server.count("POST"), server.count("GET")) == (len(topics), len(topics))
        again = example.rescore_in_dream(gate, topics, "rescore-2")
        assert server.count() == 2 * len(topics)
    for old, new in zip(awake, dreamt, strict=True):
        truth = engagement_for(old.post_id)
        assert old.status == "ok" and new.status == "simulated"
        assert new.post_id == old.post_id and new.engagement == old.engagement
        assert old.score == truth["likes"]
        assert new.score == truth["likes"] + 3 * truth["shares"]
    assert [s.score for s in again] == [s.score for s in dreamt]


def test_a_new_draft_in_a_dream_is_skipped_not_published(example: ModuleType, gate: Gate) -> None:
    with CountingServer() as server:
        example.register(gate, server.url)
        example.run(gate, ("old topic",), "score_v1")
        (result,) = example.rescore_in_dream(gate, ("a topic never published",), "c1")
        assert server.count() == 2
    assert result.status == "publish skipped: dream-mode-effect-gate"


def test_the_script_runs(example: ModuleType) -> None:
    lines: list[str] = []
    pairs = example.main(lines.append)
    assert len(lines) == len(example.TOPICS)
    assert all(old.status == "ok" and new.status == "simulated" for old, new in pairs)
