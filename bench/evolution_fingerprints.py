"""Cost of comparing one awake fingerprint with every stored dream fingerprint (vectorised),
in ns per stored dream, at 10k and 100k fingerprints (seed 004 gives ~10 ns), beside two anchors
from the same run: the unblocked scan (XOR and popcount over the whole matrix at once, what
``hdc.similarities`` did before it scanned in blocks) and the memory-bandwidth floor (the
matrix's bytes over a measured streaming rate: no scan of it can be faster).

Run: ``nice python bench/evolution_fingerprints.py``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from oneiro import hdc

DIM = 8192
REPEATS = 7
OUT = Path(__file__).resolve().parent / "results" / "evolution_fingerprints.json"


def unblocked(matrix: np.ndarray, query: np.ndarray) -> np.ndarray:
    words, q = matrix.view(np.uint64), query.view(np.uint64)
    counts = np.bitwise_count(np.bitwise_xor(words, q[None, :])).sum(axis=1, dtype=np.int64)
    return 1.0 - 2.0 * counts / DIM


def median_seconds(fn: Callable[[], object]) -> float:
    fn()
    times = []
    for _ in range(REPEATS):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def main() -> None:
    rng = np.random.default_rng(0)
    out: dict[str, float] = {"dim": DIM}
    query = rng.integers(0, 256, DIM // 8, dtype=np.uint8)
    for n in (10_000, 100_000):
        matrix = rng.integers(0, 256, (n, DIM // 8), dtype=np.uint8)
        assert np.allclose(hdc.similarities(matrix, query), unblocked(matrix, query))
        blocked_s = median_seconds(lambda m=matrix: hdc.similarities(m, query))
        plain_s = median_seconds(lambda m=matrix: unblocked(m, query))
        stream_s = median_seconds(lambda m=matrix: m.view(np.uint64).sum(dtype=np.uint64))
        out[f"ns_per_dream_{n}"] = round(blocked_s / n * 1e9, 1)
        out[f"ns_per_dream_unblocked_{n}"] = round(plain_s / n * 1e9, 1)
        out[f"ns_per_dream_streaming_floor_{n}"] = round(stream_s / n * 1e9, 1)
    out["seed_ns_per_dream"] = 10.0
    out["load_average_1m"] = round(os.getloadavg()[0], 2)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
