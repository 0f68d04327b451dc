"""What EVOLUTION costs inside a real cycle, beside the cycle's other phases (same cycle): its
seconds and its share of the cycle, against the seed's 5% budget share (thriving).

The store: ``--episodes`` synthetic episodes and decisions (hashing embedder), ``--entries``
awake entries, a first dream that consolidates them; then the steady state that is measured:
``--recalls`` recalls, each followed by a signed outcome (so entries have uses, helpful and
harmful counts), ``--new`` new decisions, and one more dream.

Run: ``nice python bench/evolution_cycle.py --episodes 10000 --entries 2000 --recalls 300``.
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

OUT = Path(__file__).resolve().parent / "results" / "evolution_cycle.json"
SEED = 20261202
BATCH = 1000
ARMS = ("hedge", "hold", "sell")
#: The seed's share of the cycle budget for EVOLUTION in the thriving state (DESIGN §7).
BUDGET_SHARE = 0.05


def decisions(rng: np.random.Generator, n: int, offset: int) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        arm = ARMS[int(rng.integers(len(ARMS)))]
        regime = ("calm", "volatile")[int(rng.integers(2))]
        out.append(
            {
                "text": f"chose {arm} in a {regime} market",
                "kind": "decision",
                "actor": "agent",
                "session": f"d{(offset + i) // 50}",
                "context": {"regime": regime},
                "data": {"action": arm},
                "prediction": 0.0,
                "outcome": float(rng.normal(0.2 if arm == "hedge" else 0.0, 0.3)),
            }
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--episodes", type=int, default=10_000)
    parser.add_argument("--entries", type=int, default=2_000)
    parser.add_argument("--recalls", type=int, default=300)
    parser.add_argument("--new", type=int, default=100)
    args = parser.parse_args()
    gen, rng = TextGen(SEED), np.random.default_rng(SEED)
    with tempfile.TemporaryDirectory() as tmp, oneiro.open(Path(tmp) / "c.db", embedder="hashing") as m:
        for start in range(0, args.episodes, BATCH):
            size = min(BATCH, args.episodes - start)
            half = size // 2
            m.record_many([gen.episode().record() for _ in range(size - half)] + decisions(rng, half, start))
        texts = [str(gen.episode().record()["text"]) for _ in range(args.entries)]
        rows = [
            Entry(
                entry_id("fact", t, ()),
                "fact",
                t,
                (),
                Provenance.AWAKE,
                confidence=0.6,
                status=EntryStatus.ACTIVE,
            )
            for t in texts
        ]
        for start in range(0, len(rows), BATCH):
            part = rows[start : start + BATCH]
            m.store.add_entries(part, m.embedder.embed([e.text for e in part]), m.embedder.name)
        m.dream(reason="build")
        for i in range(args.recalls):
            m.recall(gen.question(), k=10)
            m.record({"text": f"outcome {i}", "actor": "ops", "feedback": float(rng.choice([-1.0, 1.0]))})
        m.record_many(decisions(rng, args.new, args.episodes))
        t = time.perf_counter()
        report = m.dream(reason="measured")
        wall = time.perf_counter() - t
    phases = {p.phase: round(p.seconds, 3) for p in report.phases}
    evo = next(p for p in report.phases if p.phase == "evolution")
    result = {
        "episodes": args.episodes,
        "entries": args.entries,
        "recalls": args.recalls,
        "new": args.new,
        "status": report.status,
        "cycle_seconds": round(wall, 3),
        "phase_seconds": phases,
        "evolution_share": round(evo.seconds / max(sum(p.seconds for p in report.phases), 1e-9), 4),
        "budget_share": BUDGET_SHARE,
        "evolution_did": evo.did,
        "evolution_writes": evo.writes,
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
