"""Code optimiser: a dream finds, tests and stages a leaner variant of a memory-hungry function.

The proven solution (``workspace/program.py`` with ``strategy = "materialise"``) is recorded as a
validated ``experiment`` entry: its workspace, command, tests, the parameters it runs with and the
values each may take, and the viability rule (at least 20% less peak memory, tests green). One
dream cycle with ``[sandbox] enabled`` runs every variant in the sandbox against the baseline,
prunes those that fail (journal notes with telemetry) and stages the survivors as hypotheses.

    python examples/code_optimiser/run.py

Needs bubblewrap (it refuses to run anything unsandboxed). The workspace is left byte-identical.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from oneiro import open_memory
from oneiro.model import Entry, EntryStatus, Provenance, entry_id
from oneiro.sandbox import Experiment, Viability, workspace_digest
from oneiro.sandbox.achilles import AchillesSpec, regression_test
from oneiro.sandbox.dreaming import EXPERIMENT_KIND, PRUNED_NOTE, VARIANT_KIND
from oneiro.store.query import EntryQuery

WORKSPACE = Path(__file__).resolve().parent / "workspace"
#: Beside the workspace (never in it): the Achilles cases of a staged variant, as pytest tests.
REGRESSIONS = WORKSPACE.parent / "regressions" / "test_achilles.py"
#: The input size: large enough that holding every square dominates the run's peak memory.
N = 3_000_000
#: The viability rule of the example: at least 20% less peak memory than the baseline.
MIN_MEMORY_GAIN = 0.2


def proven_solution() -> Experiment:
    return Experiment(
        workspace=WORKSPACE,
        command=(sys.executable, "program.py"),
        tests=(sys.executable, "check_program.py"),
        viability=Viability.of({"peak_memory": MIN_MEMORY_GAIN}),
        params={"strategy": "materialise", "n": N, "chunk": 4096},
        space={"strategy": ["materialise", "stream", "chunked", "skip_last", "formula"]},
        achilles={
            "function": "program:squares_total",
            "inputs": {"n": ["integers", -50, 20_000]},
            "params": ["strategy", "chunk"],
        },
    )


def row(label: str, t: dict[str, object]) -> str:
    run = t["run"]
    assert isinstance(run, dict)
    mib = int(run["peak_memory"]) / 2**20
    return f"  {label:<28} peak {mib:7.1f} MiB  wall {run['wall_time']:6.2f} s  cpu {run['cpu_time']:6.2f} s"


def main() -> int:
    before = workspace_digest(WORKSPACE)
    with tempfile.TemporaryDirectory() as tmp:
        memory = open_memory(
            Path(tmp) / "agent.db",
            embedder="hashing",
            overrides={"sandbox": {"enabled": True, "max_variants": 4, "wall_seconds": 120.0}},
        )
        seen = memory.record({"kind": "observation", "text": "squares_total (materialise) passes its tests"})
        exp = proven_solution()
        text = "squares_total, sum of squares below n"
        data = {"experiment": exp.to_json()}
        entry = Entry(
            id=entry_id(EXPERIMENT_KIND, text, (seen.id,), data),
            kind=EXPERIMENT_KIND,
            text=text,
            sources=(seen.id,),
            provenance=Provenance.AWAKE,
            confidence=memory.config.lifecycle.validated_confidence,
            status=EntryStatus.VALIDATED,
            data=data,
            created_at=memory.clock(),
        )
        memory.store.add_entries([entry], memory.embedder.embed([text]), memory.embedder.name)
        report = memory.dream()
        staged = memory.store.entries_matching(EntryQuery(kinds=(VARIANT_KIND,)))
        pruned = memory.journal(report.cycle_id, kind=PRUNED_NOTE)
        memory.close()
    print(f"cycle {report.cycle_id}: {len(staged)} variant(s) staged, {len(pruned)} pruned")
    if staged:
        print(row("baseline (materialise)", staged[0].data["evidence"]["baseline"]))
    for e in staged:
        ev = e.data["evidence"]
        label = f"staged {e.data['changed']}"
        print(row(label, ev["variant"]) + f"  gains {ev['gains']}  status {e.status} conf {e.confidence}")
    for rec in pruned:
        print(row(f"pruned {rec.payload['trial']['params']['strategy']}", rec.payload["trial"]))
        print(f"    why: {'; '.join(rec.payload['reasons'])}")
    for e in staged:
        for weak in e.data.get("achilles", []):
            case = weak["cases"][0]
            print(
                f"  achilles: {e.data['changed']} vs {weak['against']['strategy']}: n={case['input']['n']} "
                f"gives {case['a'][1]} vs {case['b'][1]}"
            )
    keep = next((e for e in staged if e.data.get("achilles")), None)
    if keep is not None:
        spec = AchillesSpec.from_json(keep.data["experiment"]["achilles"])
        cases = [c for weak in keep.data["achilles"] for c in weak["cases"]]
        REGRESSIONS.parent.mkdir(exist_ok=True)
        REGRESSIONS.write_text(regression_test(spec, keep.data["experiment"]["params"], cases))
        print(f"regression tests for {keep.data['changed']} kept in {REGRESSIONS}")
    unchanged = workspace_digest(WORKSPACE) == before
    print(f"workspace byte-identical: {unchanged}")
    best = max((e.data["evidence"]["gains"]["peak_memory"] for e in staged), default=0.0)
    return 0 if unchanged and best >= MIN_MEMORY_GAIN else 1


if __name__ == "__main__":
    raise SystemExit(main())
