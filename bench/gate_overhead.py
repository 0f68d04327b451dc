"""What the gate costs: dispatching a pure no-op pipeline vs calling the function directly.

Both are timed in the same run, interleaved round by round (the machine is shared and noisy), in
batches of ``BATCH`` calls so the timer's own cost is spread out; a sample is a batch's time per
call, and the figures are medians (p50) and p95 over samples, in microseconds, with the overhead as
the difference and the ratio. For context the same run also times an effectful dispatch awake
(which writes one ``dispatches`` row) and dreaming (skipped, also recorded) against the same anchor,
and both kinds of dispatch through a gate with ``sleep="exclusive"``, whose effectful door reads
the store's dream lease (a pure dispatch never asks the store).

Run: ``nice python bench/gate_overhead.py`` -> ``bench/results/gate_overhead.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from oneiro.gate import Gate
from oneiro.store import SQLiteStore

#: Calls per timed batch: large enough to hide perf_counter's ~0.1 µs, small enough for many samples.
BATCH = 200
#: Effectful dispatches write a row each, so they get smaller batches.
EFFECT_BATCH = 20
RESULTS = Path(__file__).resolve().parent / "results" / "gate_overhead.json"


def noop(x: int) -> int:
    return x


def effect_noop(x: int) -> int:
    """The effectful pipeline's own function (a function registered as effectful cannot also
    be registered as pure)."""
    return x


def per_call_us(fn: Callable[[], Any], n: int) -> float:
    start = time.perf_counter_ns()
    for _ in range(n):
        fn()
    return (time.perf_counter_ns() - start) / n / 1_000


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_us": round(statistics.median(ordered), 4),
        "p95_us": round(ordered[int(0.95 * (len(ordered) - 1))], 4),
        "samples": len(ordered),
    }


def measure(rounds: int, store_dir: Path) -> dict[str, Any]:
    store = SQLiteStore(store_dir / "bench.db")
    gate = Gate(store, time.time)
    gate.register("noop", noop, effect="pure")
    gate.register("effect", effect_noop, effect="effectful")
    # Under sleep="exclusive" an effectful dispatch asks the store whether anyone dreams there.
    exclusive = Gate(store, time.time, sleep="exclusive")
    exclusive.register("noop", noop, effect="pure")
    exclusive.register("effect", effect_noop, effect="effectful")
    cases: dict[str, tuple[Callable[[], Any], int]] = {
        "direct_call": (lambda: noop(1), BATCH),
        "dispatch_pure": (lambda: gate.dispatch("noop", 1), BATCH),
        "dispatch_effectful_awake": (lambda: gate.dispatch("effect", 1), EFFECT_BATCH),
        "dispatch_pure_exclusive": (lambda: exclusive.dispatch("noop", 1), BATCH),
        "dispatch_effectful_exclusive_awake": (lambda: exclusive.dispatch("effect", 1), EFFECT_BATCH),
    }
    samples: dict[str, list[float]] = {
        name: [] for name in [*cases, "dispatch_pure_dreaming", "dispatch_effectful_dreaming"]
    }
    for _ in range(rounds):
        for name, (fn, n) in cases.items():
            samples[name].append(per_call_us(fn, n))
        with gate.dreaming("bench"):
            samples["dispatch_pure_dreaming"].append(per_call_us(lambda: gate.dispatch("noop", 1), BATCH))
            samples["dispatch_effectful_dreaming"].append(
                per_call_us(lambda: gate.dispatch("effect", 1), EFFECT_BATCH)
            )
    store.close()
    return {name: summary(values) for name, values in samples.items()}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        figures = measure(args.rounds, Path(tmp))
    direct, pure = figures["direct_call"]["p50_us"], figures["dispatch_pure"]["p50_us"]
    result = {
        "benchmark": "gate_overhead",
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        "rounds": args.rounds,
        "batch": BATCH,
        "effect_batch": EFFECT_BATCH,
        "figures": figures,
        "pure_dispatch_overhead_p50_us": round(pure - direct, 4),
        "pure_dispatch_ratio_p50": round(pure / direct, 2) if direct else None,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"{'case':30} {'p50 µs':>10} {'p95 µs':>10}")
    for name, row in figures.items():
        print(f"{name:30} {row['p50_us']:>10.3f} {row['p95_us']:>10.3f}")
    overhead, ratio = result["pure_dispatch_overhead_p50_us"], result["pure_dispatch_ratio_p50"]
    print(f"pure dispatch overhead p50: {overhead} µs (x{ratio})")
    return result


if __name__ == "__main__":
    main()
