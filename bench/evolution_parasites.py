"""Parasite demotion over seeded runs (the specification's figure: a planted parasite demoted in
>= 95% of >= 100 runs, a helpful entry with the same retrieval rate in <= 5%).

Each run is a fresh memory (hashing embedder, in memory) holding a few episodes and two awake
entries with distinct topics: the *parasite* and the *helpful* one. The agent recalls each of
them ``--retrievals`` times, in a seeded random order; after a recall of the parasite the outcome
it records is bad with probability ``p``, after a recall of the helpful entry good with
probability ``p`` (feedback -1 / +1, from a party other than the entries' authors). Then one real
dream cycle runs, and an entry counts as demoted when the cycle lowered its confidence (memetic
selection's parasite rule through the cycle's writes). Nothing in the rule knows which entry was
planted as what.

Run: ``nice python bench/evolution_parasites.py --runs 100``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

import oneiro
from oneiro.model import Entry, EntryStatus, Provenance, entry_id

OUT = Path(__file__).resolve().parent / "results" / "evolution_parasites.json"
PARASITE = "always retry failed card payments ten times in a row"
HELPFUL = "rotate the staging database password before each friday release"
QUERIES = {PARASITE: "retry failed card payments", HELPFUL: "staging database password release"}
GOAL_PARASITE, GOAL_HELPFUL = 0.95, 0.05


def plant(memory: Any, text: str) -> Entry:
    e = Entry(
        id=entry_id("fact", text, ()),
        kind="fact",
        text=text,
        sources=(),
        provenance=Provenance.AWAKE,
        confidence=0.6,
        status=EntryStatus.ACTIVE,
        created_at=memory.clock(),
    )
    memory.store.add_entries([e], memory.embedder.embed([text]), memory.embedder.name)
    return e


def one_run(seed: int, retrievals: int, p: float) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    with oneiro.open(":memory:", embedder="hashing") as memory:
        memory.record_many([{"text": f"background note {i} about lunch", "actor": "ann"} for i in range(5)])
        planted = {PARASITE: plant(memory, PARASITE), HELPFUL: plant(memory, HELPFUL)}
        order = [PARASITE] * retrievals + [HELPFUL] * retrievals
        rng.shuffle(order)
        missed = 0
        for i, text in enumerate(order):
            hits = memory.recall(QUERIES[text], k=1)
            if not hits or hits[0].item.id != planted[text].id:
                missed += 1
                continue
            good = rng.random() < (1 - p if text == PARASITE else p)
            memory.record({"text": f"outcome {i}", "actor": "ops", "feedback": 1.0 if good else -1.0})
        memory.dream()
        after = memory.store.entries([e.id for e in planted.values()])
        return {
            "parasite_demoted": after[planted[PARASITE].id].confidence < 0.6,
            "helpful_demoted": after[planted[HELPFUL].id].confidence < 0.6,
            "missed_recalls": missed,
        }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--retrievals", type=int, default=16)
    parser.add_argument("--p", type=float, nargs="+", default=[0.75, 0.6])
    args = parser.parse_args()
    rows = []
    for p in args.p:
        t = time.perf_counter()
        runs = [one_run(seed, args.retrievals, p) for seed in range(args.runs)]
        par = sum(r["parasite_demoted"] for r in runs) / len(runs)
        helpful = sum(r["helpful_demoted"] for r in runs) / len(runs)
        rows.append(
            {
                "p_outcome_follows_entry": p,
                "runs": len(runs),
                "retrievals_each": args.retrievals,
                "parasite_demoted_rate": par,
                "helpful_demoted_rate": helpful,
                "missed_recalls": sum(r["missed_recalls"] for r in runs),
                "goal_met": par >= GOAL_PARASITE and helpful <= GOAL_HELPFUL,
                "seconds": round(time.perf_counter() - t, 1),
            }
        )
        print(json.dumps(rows[-1]))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(
        json.dumps({"goal": {"parasite": GOAL_PARASITE, "helpful": GOAL_HELPFUL}, "rows": rows}, indent=2)
        + "\n"
    )


if __name__ == "__main__":
    main()
