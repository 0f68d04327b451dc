"""Interrupted, crashed and failed cycles: a wake-up stops at the next step boundary and leaves a
resumable checkpoint; the next dream resumes and completes without duplicating entries; a process
killed mid-phase resumes from its last checkpoint; a failed cycle undoes what it wrote."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import oneiro
from conftest import FakeClock, dump_file
from oneiro.dream.phase import PHASE_ORDER, PhaseName
from oneiro.memory import Memory
from oneiro.plugins import PluginError
from oneiro.store.query import EntryQuery
from test_cycle import Call, Writer, child_env, day, with_phase, writers

CYCLE_TABLES = ("entries", "entry_sources", "vectors", "search", "predictions", "playbook_revisions")


def entries_of(memory: Memory) -> list[tuple[str, str, str | None]]:
    return sorted((e.id, e.text, e.cycle_id) for e in memory.store.entries_matching(EntryQuery()))


def clean_run(n: int) -> list[tuple[str, str]]:
    """The entries one uninterrupted cycle over ``day(n)`` writes, on a fresh store."""
    twin = oneiro.open(":memory:", embedder="hashing", clock=FakeClock())
    try:
        twin.record_many(day(n))
        twin.engine.phases = writers(predictions=True, revisions=True)
        assert twin.dream().status == "completed"
        return sorted((e.id, e.text) for e in twin.store.entries_matching(EntryQuery()))
    finally:
        twin.close()


@pytest.mark.parametrize("phase", list(PHASE_ORDER))
def test_wake_stops_at_a_step_boundary_and_the_next_dream_resumes(memory: Memory, phase: PhaseName) -> None:
    memory.record_many(day(8))
    memory.engine.phases = with_phase(
        writers(predictions=True, revisions=True), phase, Call(memory.wake), Writer("late")
    )
    first = memory.dream()
    assert first.status == "interrupted"
    row = memory.store.cycle(first.cycle_id)
    index = PHASE_ORDER.index(phase)
    assert row is not None and row.status == "interrupted"
    assert row.checkpoint["done"] == [p.value for p in PHASE_ORDER[:index]]
    assert memory.store.integrity_check() == "ok"
    # Woken, the cycle's partial entries stay invisible to recall.
    assert not memory.store.visible_entries([e[0] for e in entries_of(memory)], 0.0)
    memory.engine.phases = writers(predictions=True, revisions=True)
    second = memory.dream()
    assert second.resumed and second.cycle_id == first.cycle_id and second.status == "completed"
    assert [p.phase for p in second.phases] == [p.value for p in PHASE_ORDER[index:]]
    assert sorted((i, t) for i, t, _ in entries_of(memory)) == clean_run(8)
    ids = [e[0] for e in entries_of(memory)]
    assert memory.store.visible_entries(ids, 0.0) == set(ids)
    kinds = [r.kind for r in memory.journal(first.cycle_id)]
    assert kinds.count("cycle_interrupted") == 1 and kinds.count("cycle_resume") == 1
    assert [r.phase for r in memory.journal(first.cycle_id, kind="phase")] == [p.value for p in PHASE_ORDER]
    memory.verify_journal()


def test_a_new_cycle_without_resume_abandons_and_undoes_the_interrupted_one(memory: Memory) -> None:
    memory.record_many(day(5))
    memory.engine.phases = with_phase(writers(), PhaseName.REM, Call(memory.wake))
    first = memory.dream()
    assert first.status == "interrupted" and entries_of(memory)
    memory.engine.phases = writers()
    second = memory.dream(resume=False)
    assert second.cycle_id != first.cycle_id and second.status == "completed"
    old = memory.store.cycle(first.cycle_id)
    assert old is not None and old.status == "failed"
    assert {c for *_, c in entries_of(memory)} == {second.cycle_id}
    assert sorted((i, t) for i, t, _ in entries_of(memory)) == clean_run_plain(5)


def clean_run_plain(n: int) -> list[tuple[str, str]]:
    twin = oneiro.open(":memory:", embedder="hashing", clock=FakeClock())
    try:
        twin.record_many(day(n))
        twin.engine.phases = writers()
        twin.dream()
        return sorted((e.id, e.text) for e in twin.store.entries_matching(EntryQuery()))
    finally:
        twin.close()


class Boom(Exception):
    pass


def test_a_failing_operation_fails_the_cycle_undoes_it_and_the_next_completes_visibly(
    file_memory: Memory, tmp_path: Path
) -> None:
    file_memory.record_many(day(6))

    def explode() -> None:
        raise Boom("operation bug")

    before = {t: v for t, v in dump_file(tmp_path / "store.db").items() if t in CYCLE_TABLES}
    file_memory.engine.phases = with_phase(
        writers(predictions=True, revisions=True), PhaseName.INTEGRATION, Call(explode)
    )
    expected = "operation 'call' of integration failed: Boom: operation bug"
    with pytest.raises(PluginError, match=expected) as caught:
        file_memory.dream()
    assert isinstance(caught.value.__cause__, Boom)
    failed = file_memory.store.recent_cycles(1)[0]
    assert failed.status == "failed"
    after = {t: v for t, v in dump_file(tmp_path / "store.db").items() if t in CYCLE_TABLES}
    assert after == before
    record = file_memory.journal(failed.id, kind="cycle_failed")[0]
    assert "operation bug" in record.payload["error"] and record.payload["undone_writes"] > 0
    file_memory.engine.phases = writers(predictions=True, revisions=True)
    report = file_memory.dream()
    assert report.status == "completed" and not report.resumed
    ids = [e[0] for e in entries_of(file_memory)]
    assert ids and file_memory.store.visible_entries(ids, 0.0) == set(ids)
    assert {c for *_, c in entries_of(file_memory)} == {report.cycle_id}


def test_keyboard_interrupt_leaves_the_cycle_resumable(memory: Memory) -> None:
    memory.record_many(day(4))

    def ctrl_c() -> None:
        raise KeyboardInterrupt

    memory.engine.phases = with_phase(writers(), PhaseName.EVOLUTION, Call(ctrl_c))
    with pytest.raises(KeyboardInterrupt):
        memory.dream()
    row = memory.store.recent_cycles(1)[0]
    assert row.status == "interrupted" and row.checkpoint["done"] == ["onset", "nrem", "rem"]
    memory.engine.phases = writers()
    report = memory.dream()
    assert report.resumed and report.status == "completed"
    assert sorted((i, t) for i, t, _ in entries_of(memory)) == clean_run_plain(4)


KILLED_CHILD = """
import os, signal, sys
import oneiro
from oneiro.dream.phase import PhaseName
sys.path.insert(0, sys.argv[2])
from test_cycle import Call, with_phase, writers
m = oneiro.open(sys.argv[1], embedder="hashing")
m.engine.phases = with_phase(writers(predictions=True, revisions=True), PhaseName(sys.argv[3]),
                             Call(lambda: os.kill(os.getpid(), signal.SIGKILL)))
m.dream()
"""


@pytest.mark.parametrize("phase", [PhaseName.NREM, PhaseName.RETURN])
def test_a_process_killed_mid_phase_resumes_from_its_checkpoint(
    tmp_path: Path, clock: FakeClock, phase: PhaseName
) -> None:
    path = tmp_path / "store.db"
    with oneiro.open(path, embedder="hashing", clock=clock) as memory:
        memory.record_many(day(10))
        episodes_before = dump_file(path)["episodes"]
    proc = subprocess.run(
        [sys.executable, "-c", KILLED_CHILD, str(path), str(Path(__file__).parent), phase.value],
        env=child_env(),
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    with oneiro.open(path, embedder="hashing", clock=clock) as memory:
        assert memory.store.integrity_check() == "ok"
        row = memory.store.recent_cycles(1)[0]
        index = PHASE_ORDER.index(phase)
        assert row.status == "running" and row.checkpoint["done"] == [p.value for p in PHASE_ORDER[:index]]
        assert row.pid != os.getpid()
        memory.engine.phases = writers(predictions=True, revisions=True)
        report = memory.dream()
        assert report.resumed and report.cycle_id == row.id and report.status == "completed"
        assert sorted((i, t) for i, t, _ in entries_of(memory)) == clean_run(10)
        assert memory.verify_journal() > 0
    assert dump_file(path)["episodes"] == episodes_before
