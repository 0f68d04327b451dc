"""Awake writers during a dream cycle: 4 threads and 1 other process record (and recall) on a file
store while a cycle runs on it. Counts lost writes (an episode a writer was told was recorded but
that is not in the store afterwards) and errors that reached a caller, by kind ('database is
locked' separately).

The cycle runs the default phase table plus a short pause at the start of every phase, so that
writers overlap every phase, including the commits of each phase's transaction.

    nice python bench/concurrency.py --out bench/results/concurrency.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import oneiro
from oneiro.dream.phase import PHASE_ORDER, Context, Outcome, Snapshot
from oneiro.dream.phases import default_phases
from oneiro.model import Tier

THREADS = 4
#: Pause at the start of every phase (seconds), so the cycle lasts long enough to overlap writers.
PHASE_PAUSE = 0.5
#: Records per writer batch; each writer records one batch after another while the cycle runs.
BATCH = 5
SEED_EPISODES = 300


class Pause:
    name = "pause"
    tier = Tier.T0

    def run(self, snap: Snapshot, ctx: Context, carry: dict[str, Any]) -> Outcome:
        time.sleep(PHASE_PAUSE)
        return Outcome()


def writer_loop(memory: oneiro.Memory, tag: str, stop: threading.Event, recall: bool) -> dict[str, Any]:
    """Record batches (and recall) until ``stop``; return ids acknowledged and errors seen."""
    acked: list[str] = []
    errors: list[str] = []
    n = 0
    while not stop.is_set():
        batch = [
            {"text": f"{tag} note {n}-{i} about the release train", "session": tag} for i in range(BATCH)
        ]
        n += 1
        try:
            acked.extend(e.id for e in memory.record_many(batch))
        except Exception as exc:
            errors.append(f"record: {type(exc).__name__}: {exc}")
        if recall:
            try:
                memory.recall("release train", k=5)
            except Exception as exc:
                errors.append(f"recall: {type(exc).__name__}: {exc}")
    return {"acked": acked, "errors": errors}


def child(path: str, seconds: float, recall: bool) -> None:
    stop = threading.Event()
    threading.Timer(seconds, stop.set).start()
    with oneiro.open(path, embedder="hashing") as memory:
        out = writer_loop(memory, "process", stop, recall)
    print(json.dumps(out))


def run(root: Path, recall: bool) -> dict[str, Any]:
    path = root / f"store-{'recall' if recall else 'record'}.db"
    with oneiro.open(path, embedder="hashing") as seed:
        seed.record_many([{"text": f"seed episode {i} on the deploy queue"} for i in range(SEED_EPISODES)])
    memory = oneiro.open(path, embedder="hashing")
    table = default_phases(memory.config)
    memory.engine.phases = {p: (Pause(), *table[p]) for p in PHASE_ORDER}
    cycle_seconds = PHASE_PAUSE * len(PHASE_ORDER)
    proc = subprocess.Popen(
        [sys.executable, __file__, "--child", str(path), str(cycle_seconds), "1" if recall else "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    stop = threading.Event()
    results: list[dict[str, Any]] = []
    threads = [
        threading.Thread(target=lambda t=t: results.append(writer_loop(memory, f"thread-{t}", stop, recall)))
        for t in range(THREADS)
    ]
    for t in threads:
        t.start()
    started = time.monotonic()
    try:
        status, cycle_error = memory.dream(reason="concurrency-bench").status, ""
    except Exception as exc:  # measured, not hidden: a writer must never break the cycle
        status, cycle_error = "raised", f"{type(exc).__name__}: {exc}"
    cycle_wall = time.monotonic() - started
    stop.set()
    for t in threads:
        t.join()
    out, _ = proc.communicate(timeout=300)
    results.append(json.loads(out.strip().splitlines()[-1]))
    acked = [i for r in results for i in r["acked"]]
    errors = [e for r in results for e in r["errors"]]
    stored = memory.store.episodes(acked)
    integrity = memory.store.integrity_check()
    memory.verify_journal()
    memory.close()
    return {
        "recall_too": recall,
        "cycle_status": status,
        "cycle_error": cycle_error,
        "cycle_seconds": round(cycle_wall, 2),
        "writes_acknowledged": len(acked),
        "writes_lost": len(set(acked) - set(stored)),
        "errors_reaching_caller": len(errors),
        "database_is_locked_errors": sum("database is locked" in e for e in errors),
        "errors_by_kind": dict(Counter(e.split(":")[0] + ":" + e.split(":")[1] for e in errors)),
        "error_examples": sorted(set(errors))[:5],
        "integrity_check": integrity,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("bench/results/concurrency.json"))
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], float(args.child[1]), args.child[2] == "1")
        return
    with tempfile.TemporaryDirectory(prefix="oneiro-conc-") as tmp:
        conditions = [run(Path(tmp), recall=False), run(Path(tmp), recall=True)]
    result = {
        "benchmark": "concurrency",
        "threads": THREADS,
        "processes": 1,
        "batch": BATCH,
        "phase_pause_seconds": PHASE_PAUSE,
        "conditions": conditions,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    main()
