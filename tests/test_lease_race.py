"""Racing to dream: two Memory objects on one file in two threads, two processes, and N threads on
one Memory, each race started at one moment (a barrier, a start file). Exactly one cycle per race;
every other racer is told ``already dreaming: cycle X``; no other error. The same code, with more
runs, is ``bench/lease_race.py`` (its counts go in the release note)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

BENCH = Path(__file__).resolve().parents[1] / "bench" / "lease_race.py"
#: Races of each kind in the test suite (about 10 s on a shared two-core machine).
RUNS = 10
THREADS = 8


def load_bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("lease_race", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["lease_race"] = module
    spec.loader.exec_module(module)
    return module


def test_exactly_one_cycle_starts_per_race() -> None:
    figures = load_bench().measure(RUNS, THREADS)
    for name, row in figures["kinds"].items():
        print(f"{name}: {row}")
    print(f"totals: {figures['totals']} in {figures['seconds']} s")
    racers = {"memories": 2, "processes": 2, "threads": THREADS}
    for name, row in figures["kinds"].items():
        assert row["races"] == RUNS, name
        assert row["tried"] == RUNS * racers[name], name
        assert row["started"] == row["races"] == row["cycle_rows"], (name, row)
        assert row["refused"] == row["tried"] - row["races"], (name, row)
        assert row["other_errors"] == 0 and row["refusals_not_naming_the_winner"] == 0, (name, row)
