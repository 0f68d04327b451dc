"""Creative predictions inside a real cycle: bounded, staged, sourced, resolved by later awake
decisions, promoted only by three independent confirmations."""

from __future__ import annotations

from rem_helpers import record_decisions

from conftest import FakeClock
from oneiro.memory import Memory
from oneiro.model import EntryStatus, Episode


def laws() -> dict:  # type: ignore[type-arg]
    return {"a": (lambda x: 1.0 + 0.5 * x, 0.0, 1.0), "b": (lambda x: -0.5 + 0.0 * x, 0.0, 1.0)}


def later(memory: Memory, action: str, x: float, outcome: float, actor: str) -> Episode:
    return memory.record(
        {
            "ts": memory.clock(),
            "actor": actor,
            "kind": "decision",
            "text": f"{actor} took {action}",
            "data": {"action": action},
            "context": {"x": x},
            "prediction": 0.0,
            "outcome": outcome,
        }
    )


def test_predictions_are_bounded_staged_and_resolved_by_awake_decisions(
    memory: Memory, clock: FakeClock
) -> None:
    record_decisions(memory, laws(), 40)
    memory.dream()
    rows = memory.store.predictions("open")
    assert 0 < len(rows) <= memory.config.rem.predictions_per_cycle
    entries = memory.store.entries([r.entry_id for r in rows if r.entry_id])
    assert all(
        e.kind == "prediction" and e.status == EntryStatus.STAGED and e.confidence == 0.2
        for e in entries.values()
    )
    assert all(
        e.sources and set(e.sources) <= set(memory.store.episodes(list(e.sources))) for e in entries.values()
    )
    [overall] = [r for r in rows if r.data["test"]["action"] == "a" and not r.data["test"]["region"]]
    clock.advance(3600)
    memory.validate([later(memory, "a", 0.5, 1.25, "alice")])
    settled = {r.id: r.status for r in memory.store.predictions()}
    assert settled[overall.id] == "confirmed"
    entry = memory.store.entries([overall.entry_id or ""])[overall.entry_id or ""]
    assert entry.status == EntryStatus.STAGED and entry.confirmations == 1
    for actor in ("bob", "carol"):
        clock.advance(60)
        memory.validate([later(memory, "a", 0.5, 1.25, actor)])
    entry = memory.store.entries([overall.entry_id or ""])[overall.entry_id or ""]
    assert entry.status == EntryStatus.VALIDATED


def test_an_outcome_outside_the_interval_refutes(memory: Memory, clock: FakeClock) -> None:
    record_decisions(memory, laws(), 40)
    memory.dream()
    [overall] = [
        r
        for r in memory.store.predictions("open")
        if r.data["test"]["action"] == "b" and not r.data["test"]["region"]
    ]
    clock.advance(3600)
    memory.validate([later(memory, "b", 0.5, 5.0, "alice")])
    assert {r.id: r.status for r in memory.store.predictions()}[overall.id] == "refuted"


def test_a_second_cycle_does_not_repeat_open_predictions(memory: Memory, clock: FakeClock) -> None:
    record_decisions(memory, laws(), 40)
    memory.dream()
    first = memory.store.predictions("open")
    clock.advance(60)
    memory.record({"ts": clock() - 30, "text": "a note, no decision"})
    memory.dream()
    notes = memory.store.journal_read(kind="creative_predictions")
    assert len(notes) == 2 and notes[-1].payload["already_open"] == len(first)
    rows = memory.store.predictions("open")
    assert len(rows) == len(first)
    keys = [memory.store.entries([r.entry_id or ""])[r.entry_id or ""].data["key"] for r in rows]
    assert len(set(keys)) == len(keys)
