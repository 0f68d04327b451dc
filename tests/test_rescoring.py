"""The scorer registry and counterfactual re-scoring of recorded outcomes."""

from __future__ import annotations

from typing import Any

import pytest

from fakes import FakeSnapshot, apply_writes, begin_cycle, fake_context, table_dump
from oneiro.dream.ops.rescoring import Rescoring, score_record
from oneiro.errors import InvalidInput
from oneiro.memory import Memory
from oneiro.model import EntryStatus, Episode, Provenance
from oneiro.scoring import ScoringRegistry

CYCLE = "c-rescore"


def likes(inputs: Any) -> float:
    return float(inputs["likes"])


def engagement(inputs: Any) -> float:
    return float(inputs["likes"] + 3 * inputs["shares"])


def scored(memory: Memory, i: int, version: int, inputs: dict[str, Any], value: float) -> dict[str, Any]:
    return {
        "ts": memory.clock() - 1000 + i,
        "kind": "decision",
        "text": f"post {i}",
        "prediction": 0.5,
        "outcome": 0.7,
        "data": {"score": {"scorer": "engagement", "version": version, "value": value, "inputs": inputs}},
    }


def raw(ts: float, text: str, score: dict[str, Any]) -> dict[str, Any]:
    return {"ts": ts, "text": text, "data": {"score": score}}


def rescore(memory: Memory, registry: ScoringRegistry, new: list[Episode], cycle: str = CYCLE) -> Any:
    ctx = fake_context(cycle, memory.clock(), embedder=memory.embedder)
    snap = FakeSnapshot(memory.store, cycle, memory.embedder.name, new)  # type: ignore[arg-type]
    return Rescoring(registry).run(snap, ctx, {}), ctx


def registry(*versions: int) -> ScoringRegistry:
    reg = ScoringRegistry()
    fns = {1: likes, 2: engagement}
    for v in versions:
        reg.register("engagement", v, fns[v])
    return reg


def test_registry_current_is_the_highest_version_and_refuses_a_rebinding() -> None:
    reg = registry(1, 2)
    current = reg.current("engagement")
    assert current is not None and current.version == 2 and current({"likes": 1, "shares": 1}) == 4
    assert reg.current("nobody") is None
    assert reg.register("engagement", 2, engagement).fn is engagement  # same function: a no-op
    with pytest.raises(InvalidInput, match="higher version"):
        reg.register("engagement", 2, likes)
    for bad in (0, -1, True, 1.5):
        with pytest.raises(InvalidInput):
            reg.register("engagement", bad, likes)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        reg.register(" ", 3, likes)


def test_old_scores_get_a_rescore_entry_and_the_episode_is_untouched(memory: Memory) -> None:
    eps = memory.record_many(
        [
            scored(memory, 0, 1, {"likes": 4, "shares": 2}, 4),
            scored(memory, 1, 2, {"likes": 1, "shares": 0}, 1),
        ]
    )
    before = table_dump(memory.store, "episodes")  # type: ignore[arg-type]
    out, ctx = rescore(memory, registry(1, 2), eps)
    (entry,) = out.writes.entries  # the v2-scored one is current already
    assert entry.kind == "rescore" and entry.sources == (eps[0].id,)
    assert (entry.data["old"], entry.data["new"], entry.data["old_version"], entry.data["version"]) == (
        4,
        10,
        1,
        2,
    )
    assert entry.provenance == Provenance.DREAM and entry.status == EntryStatus.ACTIVE
    assert entry.confidence == ctx.config.lifecycle.extractive_confidence and entry.cycle_id == CYCLE
    begin_cycle(memory.store, CYCLE, memory.clock())  # type: ignore[arg-type]
    apply_writes(memory.store, out.writes, ctx)  # type: ignore[arg-type]
    assert table_dump(memory.store, "episodes") == before  # type: ignore[arg-type]
    again, _ = rescore(memory, registry(1, 2), eps, cycle="c-next")
    assert again.writes.entries == [] and again.writes.notes[0].payload["skipped"] == {"already_rescored": 1}


def test_nothing_to_do_when_the_scorer_did_not_change(memory: Memory) -> None:
    eps = memory.record_many([scored(memory, 0, 1, {"likes": 4, "shares": 2}, 4)])
    out, _ = rescore(memory, registry(1), eps)
    assert out.writes.entries == [] and out.did == {"rescored": 0, "skipped": 0}


def test_bad_records_and_failing_scorers_are_skipped_and_counted(memory: Memory) -> None:
    eps = memory.record_many(
        [
            scored(memory, 0, 1, {"likes": 4}, 4),  # v2 needs "shares": the scorer fails
            raw(1.0, "no version", {"scorer": "engagement", "value": 1, "inputs": {}}),
            raw(2.0, "not a number", {"scorer": "engagement", "version": 1, "value": "x", "inputs": {}}),
            raw(3.0, "unknown scorer", {"scorer": "ctr", "version": 1, "value": 1, "inputs": {}}),
            {"ts": 4.0, "text": "plain"},
        ]
    )  # fmt: skip
    out, _ = rescore(memory, registry(1, 2), eps)
    assert out.writes.entries == []
    assert out.writes.notes[0].payload["skipped"] == {
        "malformed_score": 2,
        "scorer_failed": 1,
        "unknown_scorer": 1,
    }
    assert score_record(eps[-1]) is None


def test_an_empty_cycle_writes_only_its_note(memory: Memory) -> None:
    out, _ = rescore(memory, registry(1, 2), [])
    assert out.writes.entries == [] and [n.kind for n in out.writes.notes] == ["rescoring"]
