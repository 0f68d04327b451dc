"""Each REM operation's effect on recall, as a leave-one-out ablation in one run, and REM's share
of the cycle's time.

Variants: every REM operation (``all``), each one left out in turn (``-<name>``), and none
(``none``). Each variant runs the ``dream`` condition of the LoCoMo protocol on the first
``--locomo`` dev conversations (turn R@10) and of the LongMemEval protocol on the first
``--lme`` dev questions (session recall_all@5), with the same embedder and embedding cache, so
that only the REM table differs. REM's time is measured by wrapping each REM operation in a
timer (the variant ``all``); a dream's whole time is the benchmark's own ``dream_s``. Every REM
output is staged below the recall floor, so no variant is expected to move recall; the figure
checks it (none may lower either by more than 0.5 points).
Run: ``PYTHONPATH=src python bench/rem_ablation.py [--locomo 1] [--lme 8] [--variants all,none]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import oneiro.dream.phases.rem as rem_phase
from oneiro.bench.locomo import run_locomo
from oneiro.bench.longmemeval import run_longmemeval
from oneiro.config import Config
from oneiro.dream.phase import Carry, Context, Operation, Outcome, Snapshot
from rem_common import write

DATA = Path("/work/shared/data") if Path("/work/shared/data").exists() else Path("../shared/data")
LOCOMO = DATA / "locomo" / "locomo10_dev.json"
LME = DATA / "longmemeval" / "longmemeval_s_dev40.json.gz"
#: Vectors shared by the variants (outside the repository: a cache, not a result).
CACHE = Path(tempfile.gettempdir()) / "oneiro_rem_ablation_vectors.npz"
ORIGINAL = rem_phase.rem_operations
SPENT: dict[str, float] = {}


class Timed:
    """An operation, its time added to ``SPENT``."""

    def __init__(self, op: Operation) -> None:
        self.op, self.name, self.tier = op, op.name, op.tier

    def run(self, snap: Snapshot, ctx: Context, carry: Carry) -> Outcome:
        began = time.perf_counter()
        try:
            return self.op.run(snap, ctx, carry)
        finally:
            SPENT[self.name] = SPENT.get(self.name, 0.0) + time.perf_counter() - began


def use(keep: Sequence[str] | None) -> None:
    def operations(config: Config) -> Sequence[Operation]:
        return tuple(Timed(op) for op in ORIGINAL(config) if keep is None or op.name in keep)

    rem_phase.rem_operations = operations  # type: ignore[assignment]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--locomo", type=int, default=1)
    parser.add_argument("--lme", type=int, default=8)
    parser.add_argument("--variants", default="", help="comma-separated labels to run (default: all of them)")
    args = parser.parse_args()
    names = [op.name for op in ORIGINAL(Config())]
    variants: list[tuple[str, Sequence[str] | None]] = [("all", None), ("none", ())]
    variants += [(f"-{n}", [m for m in names if m != n]) for n in names]
    if args.variants:
        wanted = set(args.variants.split(","))
        variants = [v for v in variants if v[0] in wanted]
    table: dict[str, Any] = {}
    rem_seconds: dict[str, float] = {}
    for label, keep in variants:
        use(keep)
        SPENT.clear()
        loc = run_locomo(LOCOMO, ("dream",), "minilm", args.locomo, embedding_cache=CACHE)
        loc_rem = dict(SPENT)
        lme = run_longmemeval(LME, ("dream",), "minilm", args.lme, embedding_cache=CACHE)
        table[label] = {
            "locomo_r@10": loc["conditions"]["dream"]["overall"]["recall@10"],
            "lme_recall_all@5": lme["conditions"]["dream"]["session"]["overall"]["recall_all@5"],
            "locomo_dream_s": loc["build"]["dream"]["dream_s"],
            "locomo_dreams": loc["build"]["dream"]["dreams"],
            "locomo_rem_s": sum(loc_rem.values()),
            "locomo_entries": loc["build"]["dream"].get("entries_staged", 0.0),
        }
        if label == "all":
            rem_seconds = loc_rem
        print(label, table[label], flush=True)
    base = table["all"]
    deltas = {
        label: {
            "locomo_r@10_points": round(100 * (base["locomo_r@10"] - row["locomo_r@10"]), 3),
            "lme_recall_all@5_points": round(100 * (base["lme_recall_all@5"] - row["lme_recall_all@5"]), 3),
        }
        for label, row in table.items()
        if label != "all"
    }
    write(
        "rem_ablation",
        {
            "locomo_conversations": args.locomo,
            "lme_questions": args.lme,
            "embedder": "minilm",
            "variants": table,
            "points_lost_by_leaving_out": deltas,
            "rem_seconds_by_operation_locomo": rem_seconds,
            "rem_share_of_dream_time_locomo": base["locomo_rem_s"] / max(base["locomo_dream_s"], 1e-9),
        },
    )


if __name__ == "__main__":
    main()
