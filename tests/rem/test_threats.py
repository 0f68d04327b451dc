"""Threat simulation on a real store: a planted fragile rule is found, a robust one is not, and
what could not be tested is said, in the carry and in the brief."""

from __future__ import annotations

from rem_helpers import context, record_decisions, set_rules, snapshot

from oneiro.dream.ops.rem.evidence import OutcomeRegion
from oneiro.dream.ops.rem.threats import ThreatSimulation
from oneiro.dream.ops.waking_brief import compose
from oneiro.dream.phase import Carry
from oneiro.memory import Memory
from oneiro.model import EntryStatus, Episode, Provenance
from oneiro.validation import Verdict


def planted(memory: Memory, seed: int = 0) -> list[Episode]:
    """``fragile`` was only ever taken at low x, where it pays; its payoff falls steeply with x,
    and the store recorded higher x (for ``safe``). ``safe`` pays about 0.8 everywhere."""
    return record_decisions(
        memory,
        {"fragile": (lambda x: 1.2 - 3.0 * x, 0.0, 0.35), "safe": (lambda x: 0.8 + 0.1 * x, 0.0, 1.0)},
        40,
        seed=seed,
    )


RULES = [
    ("r-fragile", "Always take fragile", {"action": "fragile"}),
    ("r-safe", "Always take safe", {"action": "safe"}),
]


def test_a_planted_fragile_rule_is_found_and_a_robust_one_is_not(memory: Memory) -> None:
    eps = planted(memory)
    set_rules(memory, RULES)
    out = ThreatSimulation().run(snapshot(memory), context(memory), Carry())
    [threat] = out.carry.threats or []
    assert isinstance(threat, dict) and threat["rule"] == "r-fragile" and threat["severity"] > 0
    [entry] = out.writes.entries
    assert entry.kind == "threat" and entry.status == EntryStatus.STAGED and entry.confidence == 0.2
    assert entry.provenance == Provenance.DREAM
    assert set(entry.sources) <= {e.id for e in eps} and entry.sources
    search = out.carry.threat_search or {}
    assert search["rules"] == 2 and search["found"] == 1 and search["scenarios"] > 0
    [note] = [n for n in out.writes.notes if n.kind == "threat_simulation"]
    gaps = {g["rule"]: g for g in note.payload["gaps"]}
    assert gaps["r-safe"]["failed"] == 0 and gaps["r-fragile"]["failed"] > 0


def test_a_threat_is_settled_by_later_awake_decisions_in_its_region(memory: Memory) -> None:
    planted(memory)
    set_rules(memory, RULES)
    [entry] = ThreatSimulation().run(snapshot(memory), context(memory), Carry()).writes.entries
    spec, test = entry.data["test"], OutcomeRegion()
    assert spec["type"] == "outcome_region" and spec["action"] == "fragile"
    lo = spec["region"]["x"][0]

    def later(x: float, outcome: float, action: str = "fragile") -> Episode:
        return Episode(id="n", ts=0.0, text="t", data={"action": action}, context={"x": x}, outcome=outcome)

    assert test.judge(spec, entry.text, later(lo + 0.1, -1.0), 0.0) == Verdict.SUPPORTS
    assert test.judge(spec, entry.text, later(lo + 0.1, 0.5), 0.0) == Verdict.REFUTES
    assert test.judge(spec, entry.text, later(lo + 0.1, -1.0, "safe"), 0.0) == Verdict.SILENT
    assert test.judge(spec, entry.text, later(lo - 0.05, -1.0), 0.0) == Verdict.SILENT


def test_an_empty_playbook_says_there_is_nothing_to_test(memory: Memory) -> None:
    planted(memory)
    out = ThreatSimulation().run(snapshot(memory), context(memory), Carry())
    assert out.carry.threats == [] and not out.writes.entries
    brief = compose("c", 1.0, [], out.carry, [], 0.3)
    assert "playbook is empty" in (brief["threats_note"] or "")
    assert "nothing to test" in brief["markdown"]


def test_rules_without_an_action_or_a_model_are_named_not_run(memory: Memory) -> None:
    planted(memory)
    set_rules(
        memory,
        [("r-note", "Be polite", {}), ("r-unseen", "Take unseen", {"action": "unseen"})],
    )
    out = ThreatSimulation().run(snapshot(memory), context(memory), Carry())
    search = out.carry.threat_search or {}
    assert search["untestable"] == ["r-note"] and search["unmodelled"] == ["r-unseen"]
    assert "enough recorded decisions" in search["why"] and out.carry.threats == []


def test_the_brief_lists_found_threats_with_their_severity(memory: Memory) -> None:
    planted(memory)
    set_rules(memory, RULES)
    carry = ThreatSimulation().run(snapshot(memory), context(memory), Carry()).carry
    brief = compose("c", 1.0, [], carry, [], 0.3)
    assert "r-fragile" in brief["markdown"] and "(severity " in brief["markdown"]
    assert "2 playbook rules run against" in brief["markdown"]
