"""Does dreaming help against a strong awake agent? The pre-registered run (bench/preregistered.md).

For each task (the built-in regime task and the contextual partial-feedback task): tune the strong
awake agent's discount (and context bins) on seeds 1000-1009 with dreaming off, then run every
condition on the reported seeds (the same code ``oneiro ab`` runs), with bootstrap CIs, Wilcoxon
p-values and, across the tasks, the Holm correction of the primary family (dream-awake vs awake
on regret). Writes one JSON per task and the family's verdicts.

Run: ``nice python bench/ab.py [--seeds 20] [--steps 600] [--tasks regime,contextual]``
-> ``bench/results/ab.json``, ``bench/results/ab_contextual.json``.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from oneiro.ab.harness import (
    AWAKE,
    CONDITIONS,
    DEFAULT_DREAM_EVERY,
    DEFAULT_SEEDS,
    DEFAULT_STEPS,
    DREAM,
    DREAM_AWAKE,
    ABConfig,
    pair_name,
    run_ab,
)
from oneiro.ab.report import git_commit, print_result, write_json
from oneiro.ab.stats import ALPHA, holm
from oneiro.ab.tuning import tuned

RESULTS = Path(__file__).resolve().parent / "results"
OUT = {"regime": RESULTS / "ab.json", "contextual": RESULTS / "ab_contextual.json"}
#: The naive dream twin is pre-registered on the regime task only (P1); elsewhere it is left out
#: to bound the run time.
NAIVE_DREAM_TASKS = ("regime",)


def run_task(task: str, args: argparse.Namespace, console: Console) -> dict[str, Any]:
    conditions = tuple(c for c in CONDITIONS if c != DREAM or task in NAIVE_DREAM_TASKS)
    base = ABConfig(
        seeds=args.seeds,
        steps=args.steps,
        dream_every=args.dream_every,
        embedder=args.embedder,
        task=task,
        conditions=conditions,
    )
    start = time.perf_counter()
    config, record = tuned(base)
    console.print(f"{task}: tuned {record['chosen']} on seeds {record['seeds'][0]}..{record['seeds'][-1]}")
    result = run_ab(config, progress=lambda c, s: console.print(f"  {task} {c} seed {s}", style="dim"))
    result["tuning"] = record
    result["seconds"] = round(time.perf_counter() - start, 2)
    result["git_commit"] = git_commit(Path(__file__).resolve().parent)
    result["machine"] = {"python": platform.python_version(), "cpus": os.cpu_count()}
    print_result(console, result)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=DEFAULT_SEEDS)
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS)
    parser.add_argument("--dream-every", type=int, default=DEFAULT_DREAM_EVERY)
    parser.add_argument("--embedder", default="hashing")
    parser.add_argument("--tasks", default="regime,contextual")
    args = parser.parse_args()
    console = Console(highlight=False)
    results = {task: run_task(task, args, console) for task in args.tasks.split(",")}
    key = pair_name(DREAM_AWAKE, AWAKE)
    family = [(t, r["comparison"]["pairs"][key]["regret"]["p"]) for t, r in results.items()]
    adjusted = holm([p for _, p in family])
    for (task, p), q in zip(family, adjusted, strict=True):
        results[task]["primary_family"] = {
            "tests": [f"{t}: {key} regret" for t, _ in family],
            "p": p,
            "holm_p": q,
            "significant": q < ALPHA,
        }
        write_json(results[task], OUT.get(task, RESULTS / f"ab_{task}.json"))
        console.print(f"wrote {OUT.get(task)} ({task}: Holm p {q:.3g})")


if __name__ == "__main__":
    main()
