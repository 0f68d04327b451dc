"""Creative recombination in its three modes, on a real store: each output staged, sourced on
real decisions with its parents named, and testable by later awake decisions."""

from __future__ import annotations

from rem_helpers import context, record_decisions, set_rules, snapshot

from oneiro.dream.ops.rem.evidence import OutcomeRegion
from oneiro.dream.ops.rem.recombination import CreativeRecombination
from oneiro.dream.phase import Carry
from oneiro.memory import Memory
from oneiro.model import EntryStatus, Episode, Provenance
from oneiro.validation import Verdict


def by_mode(out: object) -> dict[str, list]:  # type: ignore[type-arg]
    got: dict[str, list] = {}  # type: ignore[type-arg]
    for e in out.writes.entries:  # type: ignore[attr-defined]
        got.setdefault(e.data["mode"], []).append(e)
    return got


def test_combinational_borrows_the_action_that_does_better_in_anothers_context(memory: Memory) -> None:
    eps = record_decisions(
        memory, {"a": (lambda x: 1.5, 0.0, 0.5), "b": (lambda x: 1.2, 0.5, 1.0)}, 40, noise=0.05
    )
    out = CreativeRecombination().run(snapshot(memory), context(memory), Carry())
    combos = by_mode(out)["combinational"]
    ids = {e.id for e in eps}
    for e in combos:
        assert e.status == EntryStatus.STAGED and e.confidence == 0.2 and e.provenance == Provenance.DREAM
        assert len(e.sources) == 2 and set(e.sources) <= ids and e.data["parents"] == list(e.sources)
        assert e.data["test"]["action"] == "a"  # b never beats a where a was taken
    assert combos and len(out.writes.entries) <= memory.config.rem.recombinations_per_cycle


def test_exploration_widens_a_rule_that_pays_beyond_its_edge_and_narrows_one_that_fails(
    memory: Memory,
) -> None:
    record_decisions(memory, {"a": (lambda x: 1.0, 0.0, 1.0), "c": (lambda x: 1.0 - 2.5 * x, 0.0, 1.0)}, 40)
    set_rules(
        memory,
        [
            ("r-a", "Take a at low x", {"action": "a", "when": {"x": [0.0, 0.3]}}),
            ("r-c", "Take c anywhere", {"action": "c", "when": {"x": [0.0, 1.0]}}),
        ],
    )
    out = CreativeRecombination().run(snapshot(memory), context(memory), Carry())
    variants = by_mode(out)["exploratory"]
    a = [v for v in variants if v.data["rule"] == "r-a"]
    c = [v for v in variants if v.data["rule"] == "r-c"]
    assert a and all(v.data["test"]["low"] == 0.0 and v.data["test"]["high"] is None for v in a)
    assert c and all(v.data["test"]["high"] == 0.0 and v.data["test"]["low"] is None for v in c)
    assert all(v.data["parents"][0] == v.data["rule"] and v.sources for v in variants)


def test_transformation_inverts_a_one_sided_condition_that_does_not_matter(memory: Memory) -> None:
    record_decisions(memory, {"a": (lambda x: 1.0, 0.0, 1.0)}, 40)
    set_rules(memory, [("r", "Take a at high x", {"action": "a", "when": {"x": [0.5, None]}})])
    out = CreativeRecombination().run(snapshot(memory), context(memory), Carry())
    [inverted] = [v for v in by_mode(out)["transformational"] if v.data["change"].startswith("invert")]
    spec = inverted.data["test"]
    assert spec["region"] == {"x": [None, 0.5]}

    def later(x: float, outcome: float) -> Episode:
        return Episode(id="n", ts=0.0, text="t", data={"action": "a"}, context={"x": x}, outcome=outcome)

    assert OutcomeRegion().judge(spec, "", later(0.2, 1.0), 0.0) == Verdict.SUPPORTS
    assert OutcomeRegion().judge(spec, "", later(0.2, -1.0), 0.0) == Verdict.REFUTES
    assert OutcomeRegion().judge(spec, "", later(0.8, -1.0), 0.0) == Verdict.SILENT


def test_the_same_recombination_is_not_staged_twice(memory: Memory) -> None:
    from fakes import apply_writes

    record_decisions(memory, {"a": (lambda x: 1.0, 0.0, 1.0)}, 40)
    set_rules(memory, [("r", "Take a at high x", {"action": "a", "when": {"x": [0.5, None]}})])
    ctx = context(memory)
    first = CreativeRecombination().run(snapshot(memory), ctx, Carry())
    assert first.writes.entries
    apply_writes(memory.store, first.writes, ctx)  # type: ignore[arg-type]
    again = CreativeRecombination().run(snapshot(memory), context(memory, seed=1), Carry())
    assert not again.writes.entries
