"""Cost of comparing one awake fingerprint with every stored dream fingerprint (vectorised),
in ns per stored dream, at 10k and 100k fingerprints (seed 004 gives ~10 ns)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from oneiro import hdc

DIM = 8192


def main() -> None:
    rng = np.random.default_rng(0)
    out: dict[str, float] = {}
    query = rng.integers(0, 256, DIM // 8, dtype=np.uint8)
    for n in (10_000, 100_000):
        matrix = rng.integers(0, 256, (n, DIM // 8), dtype=np.uint8)
        hdc.similarities(matrix, query)
        times = []
        for _ in range(5):
            t = time.perf_counter()
            hdc.similarities(matrix, query)
            times.append(time.perf_counter() - t)
        out[f"ns_per_dream_{n}"] = float(np.median(times)) / n * 1e9
    out["dim"] = DIM
    Path("bench/results").mkdir(parents=True, exist_ok=True)
    Path("bench/results/evolution_fingerprints.json").write_text(json.dumps(out, indent=2))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
