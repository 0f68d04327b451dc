"""A small program with a memory-hungry function: the sum of squares below ``n``.

``strategy`` selects the implementation; the sandbox writes the run's parameters into
``oneiro_params.json`` beside this file.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

PARAMS = Path(__file__).with_name("oneiro_params.json")


def squares_total(n: int, strategy: str = "materialise", chunk: int = 4096) -> int:
    if strategy == "materialise":  # the proven solution: correct, but holds every square at once
        values = [i * i for i in range(n)]
        return sum(values)
    if strategy == "stream":
        return sum(i * i for i in range(n))
    if strategy == "chunked":
        total = 0
        for start in range(0, n, chunk):
            total += sum([i * i for i in range(start, min(n, start + chunk))])
        return total
    if strategy == "formula":  # lean and right on the tested inputs; not for a negative n
        return (n - 1) * n * (2 * n - 1) // 6
    if strategy == "skip_last":  # lean but wrong: its tests fail
        return sum(i * i for i in range(n - 1))
    raise ValueError(f"unknown strategy {strategy!r}")


def params() -> dict[str, object]:
    return json.loads(PARAMS.read_text()) if PARAMS.exists() else {}


if __name__ == "__main__":
    p = params()
    print(
        squares_total(
            int(p.get("n", 3_000_000)), str(p.get("strategy", "materialise")), int(p.get("chunk", 4096))
        )
    )
    sys.exit(0)
