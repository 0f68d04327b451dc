"""Racing to dream: many racers start a cycle on one store at the same moment; exactly one may run.

Three kinds of race, each repeated ``--runs`` times on a fresh copy of a small store:

- ``memories``: two ``Memory`` objects on one file, each in its own thread;
- ``processes``: two processes (started once, then racing run after run on a start file);
- ``threads``: ``--threads`` threads sharing one ``Memory``.

The racers wait at a barrier (threads) or for a start file (processes) and then all call
``dream()``. The winner's cycle holds its first phase open until every other racer of the race
has been answered, so a racer that is late (a busy machine) still meets a running cycle rather
than a finished one: a second cycle in a race can only mean the lease let two through. Counted:
runs tried (racers), cycles started (reports returned, checked against the cycle rows in the
store: one per race), refusals (``CycleRunning`` naming the winner's cycle) and any other error.

    nice python bench/lease_race.py --runs 100 --out bench/results/lease_race.json
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import oneiro
from oneiro.dream.phase import Context, Outcome, PhaseName, Snapshot
from oneiro.errors import CycleRunning, LeaseLost
from oneiro.model import Tier

RESULTS = Path(__file__).resolve().parent / "results" / "lease_race.json"
#: Episodes in the prepared store: enough for a cycle to have an intake.
EPISODES = 5
#: How long a winner holds its cycle open waiting for the other racers' answers, at most.
HOLD_S = 20.0
#: How long a racer process waits for a start file, and polls for it.
START_WAIT_S = 60.0
POLL_S = 0.001
#: The first argument that makes this script a racer process (see :func:`worker`).
WORKER = "--worker"


@dataclass
class Hold:
    """ONSET's one operation in a race: wait until ``released()`` (every other racer answered)."""

    released: Callable[[], bool]
    name: str = "hold"
    tier: Tier = Tier.T0

    def run(self, snap: Snapshot, ctx: Context, carry: dict[str, Any]) -> Outcome:
        deadline = time.monotonic() + HOLD_S
        while not self.released() and time.monotonic() < deadline:
            time.sleep(POLL_S)
        return Outcome(did={"held": 1})


def race_table(released: Callable[[], bool]) -> dict[PhaseName, tuple[Hold, ...]]:
    return {PhaseName.ONSET: (Hold(released),)}


@dataclass
class Tally:
    """What the races of one kind gave."""

    races: int = 0
    tried: int = 0
    started: int = 0
    refused: int = 0
    errors: list[str] = field(default_factory=list)
    cycle_rows: int = 0
    misnamed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "races": self.races,
            "tried": self.tried,
            "started": self.started,
            "refused": self.refused,
            "other_errors": len(self.errors),
            "error_samples": self.errors[:5],
            "cycle_rows": self.cycle_rows,
            "refusals_not_naming_the_winner": self.misnamed,
        }


def prepare(folder: Path) -> Path:
    """A store with a few episodes, closed (so its file alone is the store) to copy per race."""
    path = folder / "seed.db"
    with oneiro.open(path, embedder="hashing") as memory:
        memory.record_many([{"text": f"race note {i} about the deploy"} for i in range(EPISODES)])
    return path


def fresh(seed: Path, folder: Path, name: str) -> Path:
    path = folder / f"{name}.db"
    shutil.copyfile(seed, path)
    return path


def cycle_rows(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("SELECT count(*) FROM cycles").fetchone()[0])
    finally:
        conn.close()


def score(tally: Tally, outcomes: list[Any], path: Path) -> None:
    """Add one race's outcomes (a report, a CycleRunning, another error, or a process's answer)."""
    tally.races += 1
    tally.tried += len(outcomes)
    winners = [o["cycle_id"] for o in outcomes if o["kind"] == "started"]
    for o in outcomes:
        if o["kind"] == "started":
            tally.started += 1
        elif o["kind"] == "refused":
            tally.refused += 1
            if not any(f"already dreaming: cycle {w}" in o["message"] for w in winners):
                tally.misnamed += 1
        else:
            tally.errors.append(o["message"])
    tally.cycle_rows += cycle_rows(path)


def attempt(memory: oneiro.Memory) -> dict[str, Any]:
    try:
        report = memory.dream()
    except LeaseLost as exc:  # a cycle that started and then lost the store: never in a race
        return {"kind": "error", "message": f"LeaseLost: {exc}"}
    except CycleRunning as exc:
        return {"kind": "refused", "message": str(exc)}
    except Exception as exc:
        return {"kind": "error", "message": f"{type(exc).__name__}: {exc}"}
    return {"kind": "started", "cycle_id": report.cycle_id, "status": report.status}


def thread_race(memories: list[oneiro.Memory], racers: int) -> list[dict[str, Any]]:
    """``racers`` threads, racer i dreaming through ``memories[i % len(memories)]``."""
    barrier = threading.Barrier(racers)
    outcomes: list[dict[str, Any]] = []
    lock = threading.Lock()
    answered = threading.Event()

    def answered_all() -> bool:
        return answered.is_set()

    for memory in memories:
        memory.engine.phases = race_table(answered_all)

    def racer(i: int) -> None:
        try:
            barrier.wait(START_WAIT_S)
            outcome = attempt(memories[i % len(memories)])
        except BaseException as exc:
            outcome = {"kind": "error", "message": f"{type(exc).__name__}: {exc}"}
        with lock:
            outcomes.append(outcome)
            if sum(o["kind"] != "started" for o in outcomes) >= racers - 1:
                answered.set()

    threads = [threading.Thread(target=racer, args=(i,)) for i in range(racers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(START_WAIT_S + HOLD_S)
    return outcomes


def race_memories(seed: Path, folder: Path, runs: int) -> Tally:
    tally = Tally()
    for run in range(runs):
        path = fresh(seed, folder, f"memories-{run}")
        memories = [oneiro.open(path, embedder="hashing") for _ in range(2)]
        try:
            outcomes = thread_race(memories, 2)
        finally:
            for m in memories:
                m.close()
        score(tally, outcomes, path)
    return tally


def race_threads(seed: Path, folder: Path, runs: int, racers: int) -> Tally:
    tally = Tally()
    for run in range(runs):
        path = fresh(seed, folder, f"threads-{run}")
        with oneiro.open(path, embedder="hashing") as memory:
            outcomes = thread_race([memory], racers)
        score(tally, outcomes, path)
    return tally


# -- processes -----------------------------------------------------------------------------------
def worker(folder: str, runs: int, racers: int, me: int) -> None:
    """A racer process: for each run, wait for its start file, dream, write the outcome.

    The winner holds its cycle until every other racer's outcome file of the run exists."""
    root = Path(folder)
    for run in range(runs):
        start = root / f"go-{run}"
        deadline = time.monotonic() + START_WAIT_S
        while not start.exists() and time.monotonic() < deadline:
            time.sleep(POLL_S)
        path = root / f"processes-{run}.db"

        def others_answered(run: int = run) -> bool:
            return len(list(root.glob(f"out-{run}-*.json"))) >= racers - 1

        try:
            with oneiro.open(path, embedder="hashing") as memory:
                memory.engine.phases = race_table(others_answered)
                outcome = attempt(memory)
        except Exception as exc:
            outcome = {"kind": "error", "message": f"{type(exc).__name__}: {exc}"}
        part = root / f"out-{run}-{me}.part"
        part.write_text(json.dumps(outcome), encoding="utf-8")
        part.rename(root / f"out-{run}-{me}.json")


def race_processes(seed: Path, folder: Path, runs: int, racers: int = 2) -> Tally:
    tally = Tally()
    for run in range(runs):
        fresh(seed, folder, f"processes-{run}")
    procs = [
        subprocess.Popen([sys.executable, __file__, WORKER, str(folder), str(runs), str(racers), str(me)])
        for me in range(racers)
    ]
    try:
        time.sleep(0.5)  # let the racers import oneiro before the first start
        for run in range(runs):
            (folder / f"go-{run}").touch()
            deadline = time.monotonic() + START_WAIT_S + HOLD_S
            while len(list(folder.glob(f"out-{run}-*.json"))) < racers and time.monotonic() < deadline:
                time.sleep(POLL_S * 5)
            answers = sorted(folder.glob(f"out-{run}-*.json"))
            outcomes = [json.loads(p.read_text(encoding="utf-8")) for p in answers]
            outcomes += [{"kind": "error", "message": "no answer"}] * (racers - len(outcomes))
            score(tally, outcomes, folder / f"processes-{run}.db")
    finally:
        for proc in procs:
            try:
                proc.wait(timeout=START_WAIT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
    return tally


def measure(runs: int, threads: int, process_runs: int | None = None) -> dict[str, Any]:
    """Every kind of race; ``process_runs`` (default ``runs``) for the costlier process races."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        seed = prepare(root)
        kinds = {
            "memories": race_memories(seed, root, runs),
            "processes": race_processes(seed, root, runs if process_runs is None else process_runs),
            "threads": race_threads(seed, root, runs, threads),
        }
    totals = {
        key: sum(getattr(t, key) for t in kinds.values()) for key in ("races", "tried", "started", "refused")
    }
    totals["other_errors"] = sum(len(t.errors) for t in kinds.values())
    return {
        "kinds": {name: t.to_dict() for name, t in kinds.items()},
        "totals": totals,
        "threads_per_race": threads,
        "seconds": round(time.monotonic() - started, 1),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=100, help="races of each kind")
    parser.add_argument("--threads", type=int, default=8, help="racers in a threads race")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    figures = measure(args.runs, args.threads)
    result = {
        "benchmark": "lease_race",
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        "runs": args.runs,
        **figures,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"{'race':10} {'races':>6} {'tried':>6} {'started':>8} {'refused':>8} {'errors':>7}")
    for name, row in result["kinds"].items():
        print(
            f"{name:10} {row['races']:>6} {row['tried']:>6} {row['started']:>8} "
            f"{row['refused']:>8} {row['other_errors']:>7}"
        )
    t = result["totals"]
    print(
        f"{'total':10} {t['races']:>6} {t['tried']:>6} {t['started']:>8} "
        f"{t['refused']:>8} {t['other_errors']:>7}"
    )
    return result


if __name__ == "__main__":
    if sys.argv[1:2] == [WORKER]:
        folder, runs, racers, me = sys.argv[2:6]
        worker(folder, int(runs), int(racers), int(me))
    else:
        main()
