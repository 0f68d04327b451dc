"""kill -9 at random points in every phase of a dream cycle, then recover and check.

Each run copies a prepared file store (a few hundred episodes, hashing embedder), starts a child
process that dreams on it with the default phase table plus a short pause at the start of every
phase (so that a uniformly random kill delay lands in every phase, not only the slowest one), and
SIGKILLs the child after a random delay. The parent then checks:

- no episode lost or altered (ids and a hash of every episode row equal the pre-kill set);
- ``PRAGMA integrity_check`` is ``ok``;
- the journal's hash chain verifies;
- recovery: the next ``dream()`` resumes the cycle and completes it, writing exactly the entries an
  uninterrupted cycle with the same id writes on a fresh copy (operations draw their randomness
  from the cycle id, so that is the cycle's one correct outcome: no duplicates, none missing);
  or, on every third run, ``revert()`` of the killed cycle restores the entries, sources,
  vectors, text rows, predictions and playbook revisions to their state before the cycle
  (compared as dumps).

Which phase a kill hit is read from the cycle row afterwards: the phase after the last checkpointed
one ("begin" when no cycle row exists yet, "done" when the cycle had completed).

    nice python bench/crash.py --runs 200 --out bench/results/crash.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import oneiro
from oneiro.dream.phase import PHASE_ORDER, Context, Outcome, Snapshot
from oneiro.dream.phases import default_phases
from oneiro.model import Tier

#: Pause at the start of each phase in the child (seconds): long enough that a phase is a
#: target, short enough that 200 runs take minutes.
PHASE_PAUSE = 0.12
#: Episodes in the prepared store ("a few hundred").
EPISODES = 300
#: Every third run recovers by revert instead of resume.
REVERT_EVERY = 3
#: Tables a cycle writes, compared as dumps before the cycle and after a revert.
CYCLE_TABLES = ("entries", "entry_sources", "vectors", "search", "predictions", "playbook_revisions")
VOCABULARY = (
    "deploy rollback latency budget invoice meeting tuesday paris backup disk alert customer "
    "refund schema migration cache outage release ticket review"
)
WORDS = tuple(VOCABULARY.split())


class Pause:
    """A test-only operation: sleeps, proposes nothing (it exists to give each phase duration)."""

    name = "pause"
    tier = Tier.T0

    def run(self, snap: Snapshot, ctx: Context, carry: dict[str, Any]) -> Outcome:
        time.sleep(PHASE_PAUSE)
        return Outcome()


def child(store: str) -> None:
    """The process that gets killed: dream with a pause in front of every phase."""
    memory = oneiro.open(store, embedder="hashing")
    table = default_phases(memory.config)
    memory.engine.phases = {p: (Pause(), *table[p]) for p in PHASE_ORDER}
    print("ready", flush=True)
    memory.dream(reason="crash-bench")
    print("done", flush=True)


def prepare(path: Path, seed: int) -> None:
    rng = random.Random(seed)
    with oneiro.open(path, embedder="hashing") as memory:
        items = [
            {
                "text": " ".join(rng.choice(WORDS) for _ in range(10)) + f" (item {i}, yesterday)",
                "session": f"s{i % 12}",
                "actor": rng.choice(["ana", "bo", "cy"]),
                "ts": 1_770_000_000 + 90 * i,
                "prediction": rng.random(),
                "outcome": rng.random(),
            }
            for i in range(EPISODES)
        ]
        memory.record_many(items)


def connect(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path)


def episode_hashes(path: Path) -> set[str]:
    conn = connect(path)
    try:
        return {
            hashlib.sha256(repr(tuple(r)).encode()).hexdigest()
            for r in conn.execute("SELECT * FROM episodes")
        }
    finally:
        conn.close()


def dump(path: Path, tables: tuple[str, ...]) -> dict[str, list[str]]:
    conn = connect(path)
    try:
        out = {}
        for t in tables:
            query = f"SELECT rowid, * FROM {t}" if t == "search" else f"SELECT * FROM {t}"
            out[t] = sorted(repr(tuple(r)) for r in conn.execute(query))
        return out
    finally:
        conn.close()


def integrity(path: Path) -> str:
    conn = connect(path)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


def entry_set(path: Path) -> list[tuple[str, str, str]]:
    conn = connect(path)
    try:
        return sorted((r[0], r[1], r[2]) for r in conn.execute("SELECT id, kind, text FROM entries"))
    finally:
        conn.close()


def reference(template: Path, work: Path, cycle_id: str) -> list[tuple[str, str, str]]:
    """The entries an uninterrupted cycle named ``cycle_id`` writes on a fresh copy of the store:
    the cycle row is created as an interrupted cycle that has done nothing, so that ``dream()``
    runs it, with its id (and so its seeds), from ONSET to RETURN."""
    for suffix in ("", "-wal", "-shm"):
        Path(str(work) + suffix).unlink(missing_ok=True)
    shutil.copy(template, work)
    with oneiro.open(work, embedder="hashing") as memory:
        store = memory.store
        checkpoint = {"done": [], "carry": {}, "from_rowid": 0, "to_rowid": store.episode_max_rowid()}
        budget = memory.engine.default_budget().to_dict()
        store.create_cycle(cycle_id, memory.clock(), budget, "reference", 0, checkpoint)
        store.update_cycle(cycle_id, status="interrupted")
        report = memory.dream()
        assert report.cycle_id == cycle_id and report.status == "completed"
    return entry_set(work)


def calibrate(template: Path, work: Path) -> float:
    """Time one uninterrupted child cycle, from the child's 'ready' to its exit."""
    shutil.copy(template, work)
    started = None
    proc = subprocess.Popen(
        [sys.executable, __file__, "--child", str(work)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.strip() == "ready":
            started = time.monotonic()
    proc.wait()
    assert started is not None and proc.returncode == 0
    return time.monotonic() - started


def kill_phase(path: Path) -> tuple[str, str | None]:
    """(the phase the kill hit, the cycle id), from the cycle row."""
    conn = connect(path)
    try:
        row = conn.execute(
            "SELECT id, status, checkpoint FROM cycles ORDER BY started_at DESC LIMIT 1"
        ).fetchone()
    finally:
        conn.close()
    if row is None:
        return "begin", None
    if row[1] == "completed":
        return "done", row[0]
    done = json.loads(row[2]).get("done", [])
    return PHASE_ORDER[len(done)].value, row[0]


def one_run(i: int, template: Path, work: Path, window: float, rng: random.Random) -> dict[str, Any]:
    for suffix in ("", "-wal", "-shm"):
        Path(str(work) + suffix).unlink(missing_ok=True)
    shutil.copy(template, work)
    before_eps = episode_hashes(work)
    before_tables = dump(work, CYCLE_TABLES)
    proc = subprocess.Popen(
        [sys.executable, __file__, "--child", str(work)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    delay = rng.uniform(0.0, window)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    phase, cycle_id = kill_phase(work)
    failures: list[str] = []
    if episode_hashes(work) != before_eps:
        failures.append("episodes lost or altered")
    if integrity(work) != "ok":
        failures.append("integrity_check failed")
    recovery = "revert" if (i % REVERT_EVERY == 0 and cycle_id is not None and phase != "done") else "resume"
    with oneiro.open(work, embedder="hashing") as memory:
        try:
            memory.verify_journal()
        except oneiro.OneiroError as exc:
            failures.append(f"journal after kill: {exc}")
        if recovery == "revert":
            assert cycle_id is not None
            memory.revert(cycle_id)
            if dump(work, CYCLE_TABLES) != before_tables:
                failures.append("revert did not restore the cycle tables")
        elif phase != "done":
            report = memory.dream(reason="crash-bench recovery")
            if report.status != "completed":
                failures.append(f"recovery ended {report.status}")
            if cycle_id is not None and not (report.resumed and report.cycle_id == cycle_id):
                failures.append("the killed cycle was not resumed")
            cycle_id = report.cycle_id
    if recovery == "resume":
        assert cycle_id is not None
        got = entry_set(work)
        if got != reference(template, work.with_name("reference.db"), cycle_id):
            failures.append("entries differ from an uninterrupted cycle's")
    with oneiro.open(work, embedder="hashing") as memory:
        try:
            memory.verify_journal()
        except oneiro.OneiroError as exc:
            failures.append(f"journal after recovery: {exc}")
    if episode_hashes(work) != before_eps:
        failures.append("episodes lost or altered by recovery")
    if integrity(work) != "ok":
        failures.append("integrity_check failed after recovery")
    return {"run": i, "delay": round(delay, 4), "phase": phase, "recovery": recovery, "failures": failures}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path("bench/results/crash.json"))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    rng = random.Random(args.seed)
    root = Path(tempfile.mkdtemp(prefix="oneiro-crash-"))
    try:
        template = root / "template.db"
        prepare(template, args.seed)
        with sqlite3.connect(template) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        work = root / "work.db"
        window = calibrate(template, work)
        started = time.monotonic()
        runs = [one_run(i, template, work, window * 1.05, rng) for i in range(args.runs)]
        elapsed = time.monotonic() - started
    finally:
        shutil.rmtree(root, ignore_errors=True)
    kills = Counter(r["phase"] for r in runs)
    failed = [r for r in runs if r["failures"]]
    result = {
        "benchmark": "crash",
        "runs": len(runs),
        "episodes": EPISODES,
        "phase_pause_seconds": PHASE_PAUSE,
        "uninterrupted_cycle_seconds": round(window, 3),
        "kills_per_phase": {p: kills.get(p, 0) for p in ["begin", *(p.value for p in PHASE_ORDER), "done"]},
        "recoveries": dict(Counter(r["recovery"] for r in runs)),
        "failed_runs": len(failed),
        "failures": Counter(f for r in failed for f in r["failures"]),
        "seconds": round(elapsed, 1),
        "runs_detail": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in result.items() if k != "runs_detail"}, indent=2, default=str))


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    main()
