"""EVOLUTION inside a real cycle: awake uses and outcomes reach memetic selection, which demotes a
parasite through the cycle's writes (undone by a revert), and journals its Price split."""

from __future__ import annotations

from evolution.test_usage import counters, planted, recalled
from oneiro.memory import Memory


def test_a_recalled_entry_followed_by_harm_is_demoted_by_a_dream(memory: Memory) -> None:
    entry = planted(memory)
    for i in range(6):
        assert recalled(memory, entry)
        memory.record({"text": f"the rotation broke login {i}", "actor": "ops", "feedback": -1.0})
    assert counters(memory, entry) == (6, 0, 6)
    report = memory.dream()
    after = memory.store.entries([entry.id])[entry.id]
    assert after.confidence < entry.confidence and after.previous_fitness == 0.0
    (note,) = [r.payload for r in memory.journal(report.cycle_id, kind="evolution.memetic")]
    assert entry.id in note["demoted"] and set(note["price"]) >= {"selection", "transmission", "change"}
    memory.revert(report.cycle_id)
    assert memory.store.entries([entry.id])[entry.id].confidence == entry.confidence


def test_a_dream_over_an_empty_store_explains_each_evolution_no_op(memory: Memory) -> None:
    memory.record({"text": "hello", "actor": "ann"})
    report = memory.dream()
    kinds = {r.kind: r.payload for r in memory.journal(report.cycle_id) if r.kind.startswith("evolution.")}
    assert "skipped" in kinds["evolution.memetic"] and "skipped" in kinds["evolution.recombination"]
    assert "why" in kinds["evolution.fingerprints"] and "why" in kinds["evolution.contradictions"]
