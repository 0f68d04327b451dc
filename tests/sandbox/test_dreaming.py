"""REM's sandboxed experiments on a real store: variants made from recorded parameters, run in
the sandbox, survivors staged with evidence, failures pruned into notes; Achilles inputs found
where two survivors disagree."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from fakes import FakeSnapshot, fake_context
from oneiro.config import Config, SandboxConfig
from oneiro.dream.phase import Carry
from oneiro.errors import InvalidInput
from oneiro.isolation import isolation_available
from oneiro.memory import Memory
from oneiro.model import Entry, EntryStatus, Provenance, entry_id
from oneiro.sandbox import Experiment, Viability, workspace_digest
from oneiro.sandbox.achilles import AchillesSpec, disagreements, regression_test
from oneiro.sandbox.dreaming import (
    EXPERIMENT_KIND,
    PRUNED_NOTE,
    VARIANT_KIND,
    SandboxExperiments,
    combination,
    permutations,
)

requires_bwrap = pytest.mark.skipif(not isolation_available()[0], reason=isolation_available()[1])
CYCLE = "c-sandbox"

PROGRAM = """\
import json

def f(x, mode="list"):
    if mode == "list":
        return sum([i for i in range(x)])
    if mode == "gen":
        return sum(i for i in range(x))
    if mode == "off_at_100":
        return sum(i for i in range(x)) + (x >= 100)
    return -1

if __name__ == "__main__":
    p = json.load(open("oneiro_params.json"))
    print(f(p["n"], p["mode"]))
"""
CHECK = (
    "from prog import f; import json\n"
    "assert f(10, json.load(open('oneiro_params.json'))['mode']) == 45"
)


def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "prog.py").write_text(PROGRAM)
    return ws


def experiment(ws: Path, space: list[str]) -> Experiment:
    return Experiment(
        workspace=ws,
        command=(sys.executable, "prog.py"),
        tests=(sys.executable, "-c", CHECK),
        viability=Viability.of({"peak_memory": 0.2}),
        params={"mode": "list", "n": 400_000},
        space={"mode": space},
        achilles={"function": "prog:f", "inputs": {"x": ["integers", 0, 1000]}, "params": ["mode"]},
    )


def prove(memory: Memory, exp: Experiment) -> Entry:
    seen = memory.record({"kind": "observation", "text": "prog.f passes its check"})
    data: dict[str, Any] = {"experiment": exp.to_json()}
    entry = Entry(
        id=entry_id(EXPERIMENT_KIND, "prog.f", (seen.id,), data),
        kind=EXPERIMENT_KIND,
        text="prog.f",
        sources=(seen.id,),
        provenance=Provenance.AWAKE,
        confidence=0.5,
        status=EntryStatus.VALIDATED,
        data=data,
        created_at=memory.clock(),
    )
    memory.store.add_entries([entry], memory.embedder.embed(["prog.f"]), memory.embedder.name)
    return entry


def run_op(memory: Memory, config: Config) -> Any:
    ctx = fake_context(CYCLE, memory.clock(), embedder=memory.embedder, config=config)
    snap = FakeSnapshot(memory.store, CYCLE, memory.embedder.name)  # type: ignore[arg-type]
    return SandboxExperiments().run(snap, ctx, Carry())


ENABLED = replace(Config(), sandbox=SandboxConfig(enabled=True, wall_seconds=30.0))


def test_permutations_move_one_recorded_parameter_at_a_time(tmp_path: Path) -> None:
    exp = replace(
        experiment(tmp_path, ["list", "gen", "x"]), space={"mode": ["list", "gen", "x"], "n": [1, 400_000]}
    )
    got = list(permutations(exp))
    assert {"mode": "gen", "n": 400_000} in got and {"mode": "list", "n": 1} in got
    assert exp.params not in got and len(got) == 3


def test_combination_takes_half_of_what_differs_and_needs_the_same_code(tmp_path: Path) -> None:
    a = replace(experiment(tmp_path, []), params={"mode": "list", "n": 1, "k": 2}, space={})
    b = replace(a, params={"mode": "gen", "n": 5, "k": 2})
    assert combination(a, b) == {"mode": "gen", "n": 1, "k": 2}
    assert combination(a, a) is None
    assert combination(a, replace(b, command=("other",))) is None


def test_disabled_by_default_it_runs_nothing(memory: Memory, tmp_path: Path) -> None:
    prove(memory, experiment(workspace(tmp_path), ["list", "gen"]))
    outcome = run_op(memory, Config())
    assert outcome.writes.empty and outcome.did == {}


@requires_bwrap
def test_survivors_are_staged_with_evidence_and_failures_pruned(memory: Memory, tmp_path: Path) -> None:
    ws = workspace(tmp_path)
    before = workspace_digest(ws)
    proven = prove(memory, experiment(ws, ["list", "gen", "off_at_100", "broken"]))
    outcome = run_op(memory, ENABLED)
    staged = {e.data["changed"]["mode"]: e for e in outcome.writes.entries}
    assert set(staged) == {"gen", "off_at_100"}
    for e in staged.values():
        assert e.kind == VARIANT_KIND and e.status == EntryStatus.STAGED and e.provenance == Provenance.DREAM
        assert e.confidence == Config().lifecycle.hypothesis_confidence
        assert e.sources == (proven.id,)
        assert e.data["evidence"]["gains"]["peak_memory"] >= 0.2
    pruned = [n for n in outcome.writes.notes if n.kind == PRUNED_NOTE]
    assert [n.payload["trial"]["params"]["mode"] for n in pruned] == ["broken"]
    assert pruned[0].payload["reasons"] == ["tests failed"]
    # the two survivors disagree from x = 100 on: hypothesis found (and shrank to) that input
    assert staged["gen"].data["achilles"][0]["cases"][0]["input"] == {"x": 100}
    assert outcome.did == {"experiments": 1, "variants": 3, "staged": 2, "pruned": 1}
    assert workspace_digest(ws) == before


@requires_bwrap
def test_variants_that_agree_have_no_achilles_inputs(tmp_path: Path) -> None:
    ws = workspace(tmp_path)
    exp = experiment(ws, [])
    spec = AchillesSpec.from_json(exp.achilles or {})
    assert disagreements(exp, spec, {"mode": "list"}, {"mode": "gen"}) == []
    cases = disagreements(exp, spec, {"mode": "gen"}, {"mode": "off_at_100"})
    assert cases[0] == {"input": {"x": 100}, "a": ["value", "4950"], "b": ["value", "4951"]}
    test_text = regression_test(spec, {"mode": "gen"}, cases)
    assert "from prog import f" in test_text and "{'x': 100}" in test_text


def test_a_malformed_achilles_spec_is_refused() -> None:
    with pytest.raises(InvalidInput, match="strategy"):
        AchillesSpec.from_json({"function": "prog:f", "inputs": {"x": ["primes"]}})
    with pytest.raises(InvalidInput, match="module:function"):
        AchillesSpec.from_json({"function": "prog.f", "inputs": {}})
