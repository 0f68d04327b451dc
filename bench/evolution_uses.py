"""Recall latency with use counting on vs off, in the same run on the same store (BENCHMARKS.md:
a figure beside its anchor). Goal: p50 ratio <= 1.05 at 100k items.

"On" is ``Memory.recall`` noting the entries it returned (:mod:`oneiro.usage`); "off" is the same
call with the memory's use log swapped for one that notes nothing, so the two differ by the
counting alone. Queries alternate on/off so that
drift on a shared machine hits both alike. The cost of settling the noted uses into the store (it
runs inside the next write, off recall's path) is timed too.

The store: ``--episodes`` synthetic episodes plus ``--entries`` awake entries restating some of
them (so recall returns entries to count), hashing embedder (384-d).

Run: ``nice python bench/evolution_uses.py --episodes 90000 --entries 10000 --queries 300``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import oneiro
from oneiro.model import Entry, EntryStatus, Provenance, entry_id
from textgen import TextGen

GOAL_RATIO = 1.05
K = 10
BATCH = 1000
SEED = 20261202
OUT = Path(__file__).resolve().parent / "results" / "evolution_uses.json"


def build(memory: Any, episodes: int, entries: int, gen: TextGen) -> None:
    for start in range(0, episodes, BATCH):
        memory.record_many([gen.episode().record() for _ in range(min(BATCH, episodes - start))])
    for start in range(0, entries, BATCH):
        texts = [str(gen.episode().record()["text"]) for _ in range(min(BATCH, entries - start))]
        rows = [
            Entry(
                id=entry_id("fact", t, ()),
                kind="fact",
                text=t,
                sources=(),
                provenance=Provenance.AWAKE,
                confidence=0.6,
                status=EntryStatus.ACTIVE,
            )
            for t in texts
        ]
        memory.store.add_entries(rows, memory.embedder.embed(texts), memory.embedder.name)


def note_cost(memory: Any, query: str, calls: int = 20_000) -> float:
    """Microseconds one recall spends noting its hits (the whole of counting on recall's path),
    on a fresh log so the figure is not the settled one's."""
    from oneiro.usage import UseLog

    hits = memory.recall(query, K)
    log = UseLog()
    t = time.perf_counter()
    for i in range(calls):
        log.note(hits, float(i))
    return (time.perf_counter() - t) / calls * 1e6


class _NotCounting:
    """A use log that notes nothing: recall as it was before use counting."""

    def note(self, hits: object, now: float) -> None:
        return None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--episodes", type=int, default=90_000)
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()
    gen = TextGen(SEED)
    with (
        tempfile.TemporaryDirectory() as tmp,
        oneiro.open(Path(tmp) / "uses.db", embedder="hashing") as memory,
    ):
        t0 = time.perf_counter()
        build(memory, args.episodes, args.entries, gen)
        build_s = time.perf_counter() - t0
        queries = [gen.question() for _ in range(args.queries)]
        counting_log, silent = memory.uses, _NotCounting()
        memory.recall(queries[0], K)
        on: list[float] = []
        off: list[float] = []
        returned = 0
        for i, q in enumerate(queries):
            order = (True, False) if i % 2 == 0 else (False, True)
            for counting in order:
                memory.uses = counting_log if counting else silent
                t = time.perf_counter()
                hits = memory.recall(q, K)
                (on if counting else off).append(time.perf_counter() - t)
                returned += counting and sum(h.is_entry for h in hits)
        memory.uses = counting_log
        t = time.perf_counter()
        counted = memory.flush_uses()
        settle_ms = (time.perf_counter() - t) * 1e3
        note_us = note_cost(memory, queries[0])
    p50_on, p50_off = float(np.median(on)) * 1e3, float(np.median(off)) * 1e3
    result = {
        "items": args.episodes + args.entries,
        "episodes": args.episodes,
        "entries": args.entries,
        "queries": args.queries,
        "build_s": round(build_s, 1),
        "recall_p50_ms": {"counting_on": round(p50_on, 3), "counting_off": round(p50_off, 3)},
        "recall_p99_ms": {
            "counting_on": round(float(np.percentile(on, 99)) * 1e3, 3),
            "counting_off": round(float(np.percentile(off, 99)) * 1e3, 3),
        },
        "ratio_p50": round(p50_on / p50_off, 4),
        "goal_ratio": GOAL_RATIO,
        "goal_met": p50_on / p50_off <= GOAL_RATIO,
        "entry_hits_noted": int(returned),
        "entries_counted": counted,
        "settle_ms": round(settle_ms, 3),
        "note_us_per_recall": round(note_us, 3),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
