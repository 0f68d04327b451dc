"""Reverting a cycle: everything it wrote (entries and statuses, vectors and text rows, playbook
revisions, predictions) goes; its journal and every episode stay; bad requests change nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import Dump, dump_file
from oneiro.dream.phase import PhaseName
from oneiro.errors import CycleRunning, CycleStateError, UnknownCycle
from oneiro.memory import Memory
from oneiro.model import Entry, EntryStatus, Provenance, entry_id
from test_cycle import WAIT_SECONDS, Blocker, Call, cycle_thread, day, with_phase, writers

CYCLE_TABLES = (
    "entries",
    "entry_sources",
    "evidence",
    "vectors",
    "search",
    "predictions",
    "playbook_items",
    "playbook_revisions",
    "episodes",
)


def tables(path: Path) -> Dump:
    full = dump_file(path)
    return {t: full[t] for t in CYCLE_TABLES}


def seed(memory: Memory) -> None:
    eps = memory.record_many(day(9))
    awake = Entry(
        id=entry_id("fact", "deploys take minutes", (eps[0].id,)),
        kind="fact",
        text="deploys take minutes",
        sources=(eps[0].id,),
        provenance=Provenance.AWAKE,
        confidence=0.6,
        status=EntryStatus.ACTIVE,
    )
    memory.store.add_entries([awake], memory.embedder.embed([awake.text]), memory.embedder.name)


def test_revert_restores_every_table_the_cycle_wrote_and_keeps_its_journal(
    file_memory: Memory, tmp_path: Path
) -> None:
    seed(file_memory)
    path = tmp_path / "store.db"
    file_memory.dream()  # an earlier cycle, which must survive the revert of the next one
    file_memory.record_many(day(6, start=50))
    before = tables(path)
    file_memory.engine.phases = writers(predictions=True, revisions=True, update_awake=True)
    report = file_memory.dream()
    during = tables(path)
    for table in ("entries", "entry_sources", "vectors", "search", "predictions", "playbook_revisions"):
        assert during[table] != before[table], table
    journal_before = [r.hash for r in file_memory.journal(report.cycle_id)]
    undone = file_memory.revert(report.cycle_id)
    assert undone > 0
    assert tables(path) == before
    row = file_memory.store.cycle(report.cycle_id)
    assert row is not None and row.status == "reverted"
    kept = file_memory.journal(report.cycle_id)
    assert [r.hash for r in kept[: len(journal_before)]] == journal_before
    assert kept[-1].kind == "revert" and kept[-1].payload["undone_writes"] == undone
    assert file_memory.verify_journal() == len(file_memory.journal())
    # The reverted cycle's episodes are backlog again, and the next cycle takes them up.
    file_memory.engine.phases = writers()
    assert file_memory.dream().new_episodes == 6


def test_reverting_an_interrupted_cycle_restores_the_store(file_memory: Memory, tmp_path: Path) -> None:
    seed(file_memory)
    before = tables(tmp_path / "store.db")
    file_memory.engine.phases = with_phase(
        writers(predictions=True, revisions=True, update_awake=True), PhaseName.REM, Call(file_memory.wake)
    )
    report = file_memory.dream()
    assert report.status == "interrupted"
    file_memory.revert(report.cycle_id)
    assert tables(tmp_path / "store.db") == before
    file_memory.engine.phases = writers()
    assert not file_memory.dream().resumed


def test_unknown_and_already_reverted_cycles_are_refused_and_change_nothing(
    file_memory: Memory, tmp_path: Path
) -> None:
    seed(file_memory)
    file_memory.engine.phases = writers()
    report = file_memory.dream()
    path = tmp_path / "store.db"
    before = dump_file(path)
    with pytest.raises(UnknownCycle, match="c-nope"):
        file_memory.revert("c-nope")
    assert dump_file(path) == before
    file_memory.revert(report.cycle_id)
    after_first = dump_file(path)
    with pytest.raises(CycleStateError, match="already reverted"):
        file_memory.revert(report.cycle_id)
    assert dump_file(path) == after_first


def test_a_running_cycle_cannot_be_reverted(file_memory: Memory, tmp_path: Path) -> None:
    seed(file_memory)
    blocker = Blocker()
    file_memory.engine.phases = with_phase(writers(), PhaseName.REM, blocker)
    thread, out = cycle_thread(file_memory)
    try:
        assert blocker.entered.wait(WAIT_SECONDS)
        running = file_memory.store.cycles_with_status("running")[0].id
        before = dump_file(tmp_path / "store.db")
        with pytest.raises(CycleRunning, match=running):
            file_memory.revert(running)
        assert dump_file(tmp_path / "store.db") == before
    finally:
        blocker.release.set()
        thread.join(WAIT_SECONDS)
    assert out["report"].status == "completed"
