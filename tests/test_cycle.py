"""The cycle orchestrator: phase order, dream mode, the only writer (one transaction per phase with
its journal record and checkpoint), events, awake work beside a cycle, and a second cycle refused.

The operations here are test-only phase tables (``memory.engine.phases``): probes that record what
they saw, writers that propose every kind of write, and a blocker that holds a phase open until the
test releases it. Other cycle test modules import them from here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import oneiro
from conftest import FakeClock, dump_file
from oneiro.dream.phase import PHASE_ORDER, Carry, Context, Operation, Outcome, PhaseName, Snapshot
from oneiro.dream.writes import EntryUpdate, Note, Prediction, RevisionProposal, Writes
from oneiro.errors import CycleRunning
from oneiro.events import Event
from oneiro.gate import DispatchStatus, current_cycle, current_mode
from oneiro.memory import Memory
from oneiro.model import Entry, EntryStatus, Mode, Provenance, Tier, entry_id
from oneiro.store.query import EntryQuery

SRC = str(Path(__file__).resolve().parents[1] / "src")
#: How long a test waits for another thread or process before calling it stuck.
WAIT_SECONDS = 30.0


# -- test operations ---------------------------------------------------------------------------
@dataclass
class Probe:
    """Records the phase, mode and cycle it ran in; optionally dispatches a pipeline."""

    name: str
    log: list[tuple[str, Mode, str | None, int]]
    dispatch: Callable[[], Any] | None = None
    tier: Tier = Tier.T0
    results: list[Any] = field(default_factory=list)

    def run(self, snap: Snapshot, ctx: Context, carry: Carry) -> Outcome:
        self.log.append((self.name, current_mode(), current_cycle(), len(snap.new_episodes)))
        if self.dispatch is not None:
            self.results.append(self.dispatch())
        return Outcome(did={"ran": 1})


@dataclass
class Writer:
    """Proposes one staged entry per new episode (up to ``per_phase``) and, when asked, a
    prediction, a playbook revision and an update of every awake entry."""

    name: str
    per_phase: int = 3
    predictions: bool = False
    revisions: bool = False
    update_awake: bool = False
    tier: Tier = Tier.T0

    def run(self, snap: Snapshot, ctx: Context, carry: Carry) -> Outcome:
        writes = Writes()
        for ep in list(snap.new_episodes)[: self.per_phase]:
            text = f"{self.name} saw: {ep.text}"
            writes.entries.append(
                Entry(
                    id=entry_id("fact", text, (ep.id,)),
                    kind="fact",
                    text=text,
                    sources=(ep.id,),
                    provenance=Provenance.DREAM,
                    confidence=0.35,
                    status=EntryStatus.STAGED,
                    created_at=ctx.now,
                )
            )
            if self.predictions:
                writes.predictions.append(
                    Prediction(f"p-{self.name}-{ep.id[:12]}", f"{ep.text} again", ctx.now + 86_400.0)
                )
            if self.revisions:
                writes.revisions.append(
                    RevisionProposal("add", "Rules", f"{self.name}: {ep.text}", "test", evidence=(ep.id,))
                )
        if self.update_awake:
            for e in snap.entries_matching(EntryQuery(provenance=("awake",))):
                writes.updates.append(EntryUpdate(e.id, {"status": "superseded", "confidence": 0.1}, "t"))
        writes.notes.append(Note("writer", {"op": self.name, "entries": len(writes.entries)}))
        return Outcome(writes, did={"entries": len(writes.entries)})


@dataclass
class Blocker:
    """Holds its phase open until ``release`` is set (``entered`` tells the test it is inside)."""

    name: str = "blocker"
    tier: Tier = Tier.T0
    entered: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    def run(self, snap: Snapshot, ctx: Context, carry: Carry) -> Outcome:
        self.entered.set()
        if not self.release.wait(WAIT_SECONDS):
            raise TimeoutError("the test never released the blocker")
        return Outcome(did={"held": 1})


@dataclass
class Call:
    """Runs ``fn`` (e.g. ``memory.wake``) from inside a phase; proposes nothing."""

    fn: Callable[[], Any]
    name: str = "call"
    tier: Tier = Tier.T0

    def run(self, snap: Snapshot, ctx: Context, carry: Carry) -> Outcome:
        self.fn()
        return Outcome()


Table = dict[PhaseName, Sequence[Operation]]


def writers(**kw: Any) -> Table:
    """A table where every phase proposes writes of its own."""
    return {p: (Writer(f"w-{p.value}", **kw),) for p in PHASE_ORDER}


def with_phase(table: Mapping[PhaseName, Sequence[Operation]], phase: PhaseName, *ops: Operation) -> Table:
    out = dict(table)
    out[phase] = (*out.get(phase, ()), *ops)
    return out


def day(n: int, start: int = 0) -> list[dict[str, Any]]:
    return [
        {"text": f"episode {i}: the deploy of service {i % 7} took {i % 5} minutes", "session": f"s{i % 4}"}
        for i in range(start, start + n)
    ]


def cycle_thread(memory: Memory, **kw: Any) -> tuple[threading.Thread, dict[str, Any]]:
    """Run ``memory.dream`` in a plain thread; the result (report or error) lands in the dict."""
    out: dict[str, Any] = {}

    def target() -> None:
        try:
            out["report"] = memory.dream(**kw)
        except BaseException as exc:
            out["error"] = exc

    t = threading.Thread(target=target)
    t.start()
    return t, out


@pytest.fixture
def blocked(file_memory: Memory) -> Iterator[tuple[Memory, Blocker]]:
    """A file store with a day recorded whose cycle is held open inside NREM."""
    file_memory.record_many(day(20))
    blocker = Blocker()
    file_memory.engine.phases = with_phase(writers(), PhaseName.NREM, blocker)
    yield file_memory, blocker
    blocker.release.set()


# -- order, mode, the gate ---------------------------------------------------------------------
def test_phases_run_in_order_in_dream_mode_and_effects_are_gated(memory: Memory) -> None:
    fired: list[str] = []

    @memory.pipeline("send", effect="effectful")
    def send(to: str) -> str:
        fired.append(to)
        return "sent"

    memory.record_many(day(5))
    log: list[tuple[str, Mode, str | None, int]] = []
    probes = {p: Probe(p.value, log, dispatch=lambda: memory.dispatch("send", "ops")) for p in PHASE_ORDER}
    memory.engine.phases = {p: (op,) for p, op in probes.items()}
    report = memory.dream()
    assert report.status == "completed"
    assert [name for name, *_ in log] == [p.value for p in PHASE_ORDER]
    assert {mode for _, mode, _, _ in log} == {Mode.DREAM}
    assert {cycle for *_, cycle, _ in log} == {report.cycle_id}
    assert {n for *_, n in log} == {5}
    assert fired == []
    results = [r for op in probes.values() for r in op.results]
    assert {r.status for r in results} == {DispatchStatus.SKIPPED}
    assert {r.reason for r in results} == {"dream-mode-effect-gate"}
    assert memory.mode() is Mode.AWAKE and current_mode() is Mode.AWAKE
    assert memory.dispatch("send", "ops").ok and fired == ["ops"]


def test_the_journal_records_every_phase_in_order_and_what_rem_and_evolution_did(
    memory: Memory,
) -> None:
    memory.record_many(day(12))
    report = memory.dream()
    records = memory.journal(report.cycle_id)
    kinds = [r.kind for r in records]
    assert kinds[0] == "cycle_start" and kinds[-1] == "mode_change"
    assert kinds.count("cycle_completed") == 1 and kinds.count("mode_change") == 2
    phases = [r for r in records if r.kind == "phase"]
    assert [r.phase for r in phases] == [p.value for p in PHASE_ORDER]
    for r in phases:
        if r.phase in ("rem", "evolution"):
            # chat turns hold no decisions: no counterfactual is claimed, so nothing is evolved;
            # REM may only anticipate the questions the turns leave open
            writes = r.payload["writes"]
            assert r.payload["operations"] and writes["entries"] == writes.get("entries.anticipation", 0)
        else:
            assert r.payload["operations"]
    assert memory.verify_journal() == len(memory.journal())


def test_each_phase_commits_writes_journal_and_checkpoint_together(memory: Memory) -> None:
    """A wake-up after the first NREM operation proposed writes: ONSET's writes, journal record and
    checkpoint are all in the store; NREM's first operation's writes are not, nor its record."""
    memory.record_many(day(6))
    table = with_phase(writers(), PhaseName.NREM, Call(memory.wake), Writer("w-nrem-late"))
    memory.engine.phases = table
    report = memory.dream()
    assert report.status == "interrupted"
    row = memory.store.cycle(report.cycle_id)
    assert row is not None and row.status == "interrupted" and row.phase == "onset"
    assert row.checkpoint["done"] == ["onset"]
    phase_records = [r.phase for r in memory.journal(report.cycle_id, kind="phase")]
    assert phase_records == ["onset"]
    texts = {
        e.text.split(" saw:")[0] for e in memory.store.entries_matching(EntryQuery(cycle=report.cycle_id))
    }
    assert texts == {"w-onset"}
    assert [r.payload["op"] for r in memory.journal(report.cycle_id, kind="writer")] == ["w-onset"]


def test_events_announce_mode_changes_and_progress(memory: Memory) -> None:
    memory.record_many(day(3))
    events: list[Event] = []
    memory.bus.subscribe(events.append)
    report = memory.dream()
    modes = [e.payload["mode"] for e in events if e.kind == "mode_change"]
    assert modes == ["dream", "awake"]
    progress = [
        (e.payload["phase"], e.payload["state"])
        for e in events
        if e.kind == "dream_progress" and e.payload["state"] in ("start", "done")
    ]
    assert progress == [(p.value, s) for p in PHASE_ORDER for s in ("start", "done")]
    assert {e.payload["cycle_id"] for e in events} == {report.cycle_id}
    assert events[0].kind == "mode_change" and events[-1].kind == "mode_change"
    done = [e.payload for e in events if e.payload.get("state") == "done"]
    assert [d["step"] for d in done] == list(range(1, 7)) and {d["of"] for d in done} == {6}


def test_a_raising_subscriber_does_not_break_the_cycle(memory: Memory) -> None:
    memory.record_many(day(3))

    def broken(_event: Event) -> None:
        raise RuntimeError("subscriber bug")

    memory.bus.subscribe(broken)
    assert memory.dream().status == "completed"


def test_dry_run_writes_nothing_and_runs_in_dream_mode(file_memory: Memory, tmp_path: Path) -> None:
    file_memory.record_many(day(15))
    file_memory.dream()
    file_memory.record_many(day(15, start=100))
    log: list[tuple[str, Mode, str | None, int]] = []
    table = {
        p: (Probe(p.value, log), Writer(f"w-{p.value}", predictions=True, revisions=True))
        for p in PHASE_ORDER
    }
    file_memory.engine.phases = table
    before = dump_file(tmp_path / "store.db")
    report = file_memory.dream(dry_run=True)
    assert dump_file(tmp_path / "store.db") == before
    assert report.dry_run and report.status == "planned" and report.new_episodes == 15
    assert [p.phase for p in report.phases] == [p.value for p in PHASE_ORDER]
    assert all(p.writes["entries"] == 3 and p.writes["predictions"] == 3 for p in report.phases)
    assert {mode for _, mode, _, _ in log} == {Mode.DREAM}
    assert current_mode() is Mode.AWAKE


# -- awake work beside a cycle; one cycle at a time ----------------------------------------------
CHILD = """
import json, sys
import oneiro
from oneiro.errors import CycleRunning
m = oneiro.open(sys.argv[1], embedder="hashing")
eps = m.record_many([{"text": f"child note {i} about the quarterly report", "session": "child"}
                     for i in range(5)])
hits = m.recall("quarterly report", k=5)
try:
    m.dream()
    refused = ""
except CycleRunning as exc:
    refused = str(exc)
print(json.dumps({"ids": [e.id for e in eps], "hits": [h.id for h in hits], "refused": refused,
                  "mode": m.mode().value}))
m.close()
"""


def child_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": SRC, "HF_HUB_OFFLINE": "1"}


def test_awake_record_and_recall_go_on_during_a_cycle(blocked: tuple[Memory, Blocker]) -> None:
    memory, blocker = blocked
    thread, out = cycle_thread(memory)
    assert blocker.entered.wait(WAIT_SECONDS)
    cycle_id = memory.store.cycles_with_status("running")[0].id
    assert memory.mode() is Mode.AWAKE
    # Other threads of this process.
    recorded: list[str] = []
    errors: list[BaseException] = []

    # Recall waits for every writer: record and recall racing in one process is the recall
    # index's concern (it grows in place), not the cycle's.
    recorded_all = threading.Barrier(3)

    def awake_writer(n: int) -> None:
        try:
            eps = memory.record_many(
                [{"text": f"thread {n} note {i} on the quarterly report"} for i in range(5)]
            )
            recorded.extend(e.id for e in eps)
            recorded_all.wait(WAIT_SECONDS)
            assert memory.recall("quarterly report", k=3)
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=awake_writer, args=(n,)) for n in range(3)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(WAIT_SECONDS)
    assert errors == [] and len(recorded) == 15
    # Another process.
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, memory.store.path],
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    child = json.loads(proc.stdout.strip().splitlines()[-1])
    assert len(child["ids"]) == 5 and set(child["hits"]) & set(child["ids"])
    assert cycle_id in child["refused"] and child["mode"] == "awake"
    blocker.release.set()
    thread.join(WAIT_SECONDS)
    report = out["report"]
    assert report.status == "completed" and report.cycle_id == cycle_id
    assert report.new_episodes == 20
    stored = memory.store.episodes(recorded + child["ids"])
    assert len(stored) == 20
    # What was recorded during the cycle is the next cycle's backlog.
    row = memory.store.cycle(cycle_id)
    assert row is not None and memory.store.backlog(int(row.checkpoint["to_rowid"]))[0] == 20


def test_a_second_cycle_from_another_thread_is_refused_naming_the_running_one(
    blocked: tuple[Memory, Blocker],
) -> None:
    memory, blocker = blocked
    thread, out = cycle_thread(memory)
    assert blocker.entered.wait(WAIT_SECONDS)
    cycle_id = memory.store.cycles_with_status("running")[0].id
    memory.wake()  # a wake-up waits for the next step boundary, after the blocker
    second, second_out = cycle_thread(memory)
    second.join(WAIT_SECONDS)
    assert isinstance(second_out.get("error"), CycleRunning)
    assert cycle_id in str(second_out["error"])
    # Through another Memory on the same file, its path spelled differently.
    folder = Path(memory.store.path).parent
    other = oneiro.open(folder / ".." / folder.name / "store.db", embedder="hashing")
    try:
        with pytest.raises(CycleRunning, match=cycle_id):
            other.dream()
    finally:
        other.close()
    blocker.release.set()
    thread.join(WAIT_SECONDS)
    # The refused runs did not swallow the wake-up.
    assert out["report"].status == "interrupted"
    assert memory.dream().status == "completed"


def test_two_in_memory_stores_dream_independently() -> None:
    a = oneiro.open(":memory:", embedder="hashing", clock=FakeClock())
    b = oneiro.open(":memory:", embedder="hashing", clock=FakeClock())
    try:
        a.record_many(day(3))
        b.record_many(day(3))
        b_report: list[Any] = []
        a.engine.phases = with_phase(writers(), PhaseName.REM, Call(lambda: b_report.append(b.dream())))
        assert a.dream().status == "completed"
        assert b_report[0].status == "completed"
    finally:
        a.close()
        b.close()


def test_a_dry_run_records_no_dispatch_even_of_what_it_refuses(memory: Memory) -> None:
    """A dry run writes nothing: the gate does not log the effectful call it refused inside one."""
    calls: list[str] = []

    @memory.pipeline(effect="effectful")
    def send(text: str) -> str:
        calls.append(text)
        return "sent"

    class Sender:
        name = "sender"
        tier = Tier.T0

        def run(self, snap: Any, ctx: Any, carry: Carry) -> Outcome:
            memory.dispatch("send", "hello")
            return Outcome()

    memory.record({"text": "something happened"})
    memory.engine.phases = {**memory.engine.phases, PhaseName.NREM: (Sender(),)}
    before = memory.store.db.conn().execute("SELECT COUNT(*) FROM dispatches").fetchone()[0]
    memory.dream(dry_run=True)
    after = memory.store.db.conn().execute("SELECT COUNT(*) FROM dispatches").fetchone()[0]
    assert calls == [] and after == before
    memory.dream()
    assert calls == []
    assert memory.store.db.conn().execute("SELECT COUNT(*) FROM dispatches").fetchone()[0] == before + 1
