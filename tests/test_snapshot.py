"""An honest snapshot: a cycle's reads never see what was recorded after it began, and a cycle
killed (kill -9) while awake writers record, then resumed, writes exactly what an uninterrupted
cycle writes on a copy of the store taken when it began."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import oneiro
from conftest import FakeClock
from oneiro.dream.phase import Carry, Context, Outcome, PhaseName, Snapshot
from oneiro.model import Tier
from test_cycle import child_env

TOPICS = ("deploy", "billing", "search", "login", "payments", "backup")


def base_records(n: int, start: float, tag: str = "") -> list[dict[str, Any]]:
    return [
        {
            "text": f"{tag}the {TOPICS[i % len(TOPICS)]} service failed at step {i} and was restarted",
            "session": f"s{i % 4}",
            "actor": "user" if i % 2 else "agent",
            "ts": start + i,
        }
        for i in range(n)
    ]


class Spy:
    """Has another thread record episodes (and sync the shared index through recall), then reads
    the snapshot every way a phase can and keeps what it saw."""

    name = "spy"
    tier = Tier.T0

    def __init__(self, memory: oneiro.Memory, seen: list[set[str]], recorded: list[str]) -> None:
        self.memory, self.seen, self.recorded = memory, seen, recorded

    def run(self, snap: Snapshot, ctx: Context, carry: Carry) -> Outcome:
        def writer() -> None:
            for record in base_records(6, 1_772_100_000.0, tag=f"late {len(self.recorded)} "):
                self.recorded.append(self.memory.record(record).id)
            self.memory.recall("late the deploy service failed", k=20)

        thread = threading.Thread(target=writer)
        thread.start()
        thread.join()
        vector = np.asarray(ctx.embedder.embed(["late the deploy service failed at step"])[0])
        seen = {i for i, _ in snap.similar(vector, 200)}
        seen |= {i for row in snap.similar_many(np.vstack([vector, vector]), 200) for i, _ in row}
        seen |= set(snap.episodes(self.recorded))
        seen |= {e.id for e in snap.episodes_in_sessions(["s0", "s1", "s2", "s3"])}
        seen |= {e.id for e in snap.episodes_around("s0", 0.0, 2e9, 50)}
        self.seen.append(seen)
        return Outcome()


def test_episodes_recorded_during_a_cycle_never_reach_its_reads(tmp_path: Path) -> None:
    memory = oneiro.open(tmp_path / "store.db", embedder="hashing", clock=FakeClock())
    try:
        base = [memory.record(r).id for r in base_records(24, 1_772_000_000.0)]
        memory.recall("the deploy service", k=5)  # the shared index holds the base episodes
        seen: list[set[str]] = []
        recorded: list[str] = []
        spy = Spy(memory, seen, recorded)
        memory.engine.phases = {
            p: (spy,) if p in (PhaseName.NREM, PhaseName.INTEGRATION) else () for p in PhaseName
        }
        assert memory.dream().status == "completed"
        assert len(seen) == 2 and len(recorded) == 12
        for phase_saw in seen:
            assert phase_saw & set(base), "the spy must see the episodes of before the cycle"
            assert not phase_saw & set(recorded)
        # Awake recall, meanwhile, sees them all.
        assert set(recorded) <= {h.id for h in memory.recall("late the deploy service failed", k=50)}
    finally:
        memory.close()


FIXED_NOW = 1_772_500_000.0

CYCLE_CHILD = """
import sys
import oneiro
m = oneiro.open(sys.argv[1], embedder="hashing")
m.engine.clock = lambda: float(sys.argv[2])
print(m.dream().status, flush=True)
m.close()
"""

WRITER_CHILD = """
import sys, time
import oneiro
m = oneiro.open(sys.argv[1], embedder="hashing")
topics = ("deploy", "billing", "search", "login", "payments", "backup")
i = 0
while True:
    m.record({"text": f"late news: the {topics[i % 6]} service failed at step {i} and was restarted",
              "session": f"s{i % 4}", "actor": "user", "ts": 1772000000.0 + i + 0.5})
    if i % 5 == 0:
        m.recall("the deploy service failed", k=5)
    i += 1
    time.sleep(0.01)
"""


def cycle_writes(path: Path, cycle_id: str) -> dict[str, tuple[Any, ...]]:
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute(
            "SELECT id, text, status, confidence FROM entries WHERE cycle_id = ? ORDER BY id", (cycle_id,)
        ).fetchall()
        sources = conn.execute("SELECT entry_id, source_id FROM entry_sources ORDER BY entry_id, source_id")
        by_entry: dict[str, list[str]] = {}
        for entry_id, source_id in sources:
            by_entry.setdefault(entry_id, []).append(source_id)
        return {r[0]: (r[1], tuple(by_entry.get(r[0], [])), r[2], round(r[3], 9)) for r in rows}
    finally:
        conn.close()


def copy_store(src: Path, dst: Path) -> None:
    with sqlite3.connect(src) as a, sqlite3.connect(dst) as b:
        a.backup(b)


def run_child(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


CHUNKS = "SELECT COUNT(*) FROM journal WHERE kind = 'phase_chunk'"


def count(path: Path, sql: str) -> int:
    conn = sqlite3.connect(path, timeout=30)
    try:
        return int(conn.execute(sql).fetchone()[0])
    finally:
        conn.close()


@pytest.mark.parametrize("kill_after_chunks", [1, 2])
def test_a_killed_and_resumed_cycle_writes_what_an_uninterrupted_one_does(
    tmp_path: Path, kill_after_chunks: int
) -> None:
    path, copy = tmp_path / "store.db", tmp_path / "copy.db"
    with oneiro.open(path, embedder="hashing", clock=FakeClock()) as memory:
        memory.record_many(base_records(700, 1_772_000_000.0))
    copy_store(path, copy)  # the store as the cycle will find it when it begins
    killed = run_child(CYCLE_CHILD, str(path), str(FIXED_NOW))
    deadline = time.monotonic() + 120
    while not count(path, "SELECT COUNT(*) FROM cycles") and killed.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.005)
    writer = run_child(WRITER_CHILD, str(path))  # records from the cycle's start on
    try:
        while count(path, CHUNKS) < kill_after_chunks and killed.poll() is None:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        killed.send_signal(signal.SIGKILL)
        killed.wait(30)
        assert killed.returncode == -signal.SIGKILL, "the cycle finished before it could be killed"
        resumed = run_child(CYCLE_CHILD, str(path), str(FIXED_NOW))
        out, err = resumed.communicate(timeout=300)
        assert resumed.returncode == 0 and out.strip() == "completed", err
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait(30)
    with oneiro.open(copy, embedder="hashing") as twin:
        twin.engine.clock = lambda: FIXED_NOW
        reference = twin.dream()
    assert reference.status == "completed"
    with oneiro.open(path, embedder="hashing") as memory:
        row = memory.store.recent_cycles(1)[0]
        assert row.id == reference.cycle_id and row.status == "completed"
        assert memory.store.episode_count() > 700, "the writers recorded during the cycle"
    mine, theirs = cycle_writes(path, row.id), cycle_writes(copy, row.id)
    assert theirs
    mismatches = {i for i in mine.keys() | theirs.keys() if mine.get(i) != theirs.get(i)}
    detail = sorted((i in mine, i in theirs, (mine.get(i) or theirs[i])[0][:60]) for i in mismatches)
    assert not mismatches, f"{len(mismatches)} of {len(theirs)} entries differ: {detail[:6]}"
