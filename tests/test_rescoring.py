"""The scorer registry and counterfactual re-scoring of recorded outcomes."""

from __future__ import annotations

from typing import Any

import pytest

from fakes import FakeSnapshot, apply_writes, begin_cycle, fake_context, table_dump
from oneiro.dream.ops.rescoring import Rescoring, score_record
from oneiro.dream.phase import Carry, PhaseName
from oneiro.errors import InvalidInput
from oneiro.memory import Memory
from oneiro.model import EntryStatus, Episode, Provenance
from oneiro.scoring import ScoringRegistry
from oneiro.store.query import EntryQuery

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
    return Rescoring(registry).run(snap, ctx, Carry()), ctx


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


def test_a_newer_scorer_rescores_consolidated_history_in_a_later_cycle_and_admission_keeps_it_active(
    memory: Memory,
) -> None:
    """The backlog path: the scorer changes after its episodes were consolidated. The entries are
    derived computations over recorded facts: admitted active (visible), never staged to expire;
    an unchanged value makes no entry; a third cycle finds nothing left to do."""
    reg = registry(1)
    memory.engine.phases = {
        **memory.engine.phases,
        PhaseName.NREM: (Rescoring(reg),),
    }
    eps = memory.record_many(
        [
            scored(memory, 0, 1, {"likes": 4, "shares": 2}, 4),  # v2: 10
            scored(memory, 1, 1, {"likes": 3, "shares": 0}, 3),  # v2: 3, unchanged
            scored(memory, 2, 1, {"likes": 1, "shares": 1}, 1),  # v2: 4
        ]
    )
    assert memory.dream().entries_written() == 0
    reg.register("engagement", 2, engagement)
    report = memory.dream()
    assert report.new_episodes == 0
    made = memory.store.entries_matching(EntryQuery(kinds=("rescore",)))
    assert sorted((e.sources[0], e.data["old"], e.data["new"]) for e in made) == sorted(
        [(eps[0].id, 4.0, 10.0), (eps[2].id, 1.0, 4.0)]
    )
    lc = memory.config.lifecycle
    assert all(e.status == EntryStatus.ACTIVE and e.confidence == lc.extractive_confidence for e in made)
    assert memory.store.visible_entries([e.id for e in made], lc.confidence_floor) == {e.id for e in made}
    note = memory.journal(report.cycle_id, kind="rescoring")[0].payload
    assert note["skipped"] == {"unchanged": 1}
    third = memory.dream()
    assert memory.journal(third.cycle_id, kind="rescoring")[0].payload["count"] == 0
    assert len(memory.store.entries_matching(EntryQuery(kinds=("rescore",)))) == 2


def test_the_history_is_read_a_page_at_a_time_and_the_place_carries_to_the_next_cycle(
    memory: Memory, monkeypatch: pytest.MonkeyPatch
) -> None:
    import oneiro.dream.ops.rescoring as rescoring_module

    monkeypatch.setattr(rescoring_module, "BACKLOG_PER_SCORER", 2)
    reg = registry(1)
    memory.engine.phases = {**memory.engine.phases, PhaseName.NREM: (Rescoring(reg),)}
    memory.record_many([scored(memory, i, 1, {"likes": i, "shares": 1}, i) for i in range(5)])
    memory.dream()
    reg.register("engagement", 2, engagement)
    counts = [
        len(memory.journal(memory.dream().cycle_id, kind="rescoring")[0].payload["rescored"])
        for _ in range(4)
    ]
    assert counts == [2, 2, 1, 0]


def test_a_value_that_does_not_change_makes_no_entry(memory: Memory) -> None:
    eps = memory.record_many([scored(memory, 0, 1, {"likes": 3, "shares": 0}, 3)])
    out, _ = rescore(memory, registry(1, 2), eps)
    assert out.writes.entries == [] and out.writes.notes[0].payload["skipped"] == {"unchanged": 1}
