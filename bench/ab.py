"""Does dreaming help? The falsifiability harness (BENCHMARKS §3) with its defaults.

A thin wrapper over :func:`oneiro.ab.harness.run_ab` (the same code ``oneiro ab`` runs): the dream
twin, the no-dream twin, sliding-window UCB and discounted Thompson sampling on the built-in
regime-switching task, every seed, with percentile-bootstrap CIs; the measured table is printed and
the result, with the git commit and per-seed values, written as JSON.

Run: ``nice python bench/ab.py [--seeds 20] [--steps 600] [--embedder hashing]``
-> ``bench/results/ab.json``.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

from rich.console import Console

from oneiro.ab.agent import DREAM_READS
from oneiro.ab.harness import DEFAULT_DREAM_EVERY, DEFAULT_SEEDS, DEFAULT_STEPS, ABConfig, run_ab
from oneiro.ab.report import git_commit, print_result, write_json

RESULTS = Path(__file__).resolve().parent / "results" / "ab.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=DEFAULT_SEEDS)
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS)
    parser.add_argument("--dream-every", type=int, default=DEFAULT_DREAM_EVERY)
    parser.add_argument("--embedder", default="hashing")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--reads", default=",".join(DREAM_READS), help="entry kinds the dream twin acts on")
    args = parser.parse_args()
    config = ABConfig(
        seeds=args.seeds, steps=args.steps, dream_every=args.dream_every, embedder=args.embedder
    )
    start = time.perf_counter()
    result = run_ab(config)
    result["seconds"] = round(time.perf_counter() - start, 2)
    result["git_commit"] = git_commit(Path(__file__).resolve().parent)
    result["machine"] = {"python": platform.python_version(), "cpus": os.cpu_count()}
    print_result(Console(highlight=False), result)
    write_json(result, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
