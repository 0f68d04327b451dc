"""REM inside a real cycle: its outputs enter staged (never active), the brief reports the
threats looked for and found, and a resumed or repeated cycle proposes nothing twice."""

from __future__ import annotations

from rem_helpers import record_decisions, set_rules

from oneiro.memory import Memory
from oneiro.model import EntryStatus
from oneiro.store.query import EntryQuery

REM_KINDS = ("threat", "prediction", "recombination", "rule_variant", "depotentiation", "anticipation")


def test_a_cycle_stages_rem_output_and_briefs_the_threats(memory: Memory) -> None:
    record_decisions(
        memory,
        {"fragile": (lambda x: 1.2 - 3.0 * x, 0.0, 0.35), "safe": (lambda x: 0.8 + 0.1 * x, 0.0, 1.0)},
        40,
    )
    set_rules(memory, [("r-fragile", "Always take fragile", {"action": "fragile"})])
    report = memory.dream()
    made = memory.store.entries_matching(EntryQuery(kinds=REM_KINDS, cycle=report.cycle_id))
    assert {e.kind for e in made} >= {"threat", "prediction"}
    assert all(e.status == EntryStatus.STAGED and e.confidence == 0.2 for e in made)
    brief = memory.brief()
    assert brief is not None
    assert "r-fragile" in brief.markdown and "looked for: 1 playbook rules" in brief.markdown
    assert brief.data["threats"] and brief.data["threats"][0]["rule"] == "r-fragile"


def test_a_cycle_on_an_empty_playbook_says_nothing_was_testable(memory: Memory) -> None:
    record_decisions(memory, {"a": (lambda x: 1.0, 0.0, 1.0)}, 10)
    memory.dream()
    brief = memory.brief()
    assert brief is not None and "playbook is empty" in brief.data["threats_note"]
