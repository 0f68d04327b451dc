"""The dream lease as the cycle holds it: taken with the cycle, renewed at step boundaries, given
back however the cycle ends; a holder elsewhere refused by name with nothing written; a crashed or
lapsed holder's cycle resumed or reverted; a lost lease stops the cycle without another write."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import oneiro
from conftest import FakeClock, dump_file
from oneiro.config import load_config
from oneiro.dream.phase import PhaseName
from oneiro.errors import ConfigError, CycleRunning, LeaseLost
from oneiro.gate import Gate
from oneiro.memory import Memory
from oneiro.model import Mode
from oneiro.plugins import PluginError
from oneiro.store import SQLiteStore
from oneiro.store.lease import Lease
from test_cycle import WAIT_SECONDS, Blocker, Call, cycle_thread, day, with_phase, writers

HERE = socket.gethostname()
#: A lease that lives through a test, and a short heartbeat so renewals can be seen.
QUICK = {"cycle": {"lease_seconds": 30.0, "heartbeat_seconds": 0.01}}


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def open_file(path: Path, **overrides: Any) -> Memory:
    return oneiro.open(path, embedder="hashing", clock=FakeClock(), overrides=overrides or None)


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "store.db"


@pytest.fixture
def seeded(store_path: Path) -> Memory:
    memory = open_file(store_path)
    memory.record_many(day(6))
    memory.engine.phases = writers()
    yield memory
    memory.close()


def test_a_running_cycle_holds_the_lease_and_gives_it_back(seeded: Memory) -> None:
    seen: list[Lease | None] = []
    seeded.engine.phases = with_phase(
        writers(), PhaseName.REM, Call(lambda: seen.append(seeded.store.lease_holder()))
    )
    before = time.time()
    report = seeded.dream()
    assert report.status == "completed"
    lease = seen[0]
    assert lease is not None and lease.holder == report.cycle_id
    assert (lease.host, lease.pid) == (HERE, os.getpid())
    # Wall-clock time (the memory runs on a simulated clock), and the configured ttl.
    assert before <= lease.started <= lease.heartbeat < lease.expires
    assert lease.expires - lease.heartbeat == pytest.approx(seeded.config.cycle.lease_seconds)
    assert seeded.store.lease_holder() is None


@pytest.mark.parametrize("ending", ["wake", "error", "keyboard"])
def test_the_lease_is_given_back_however_the_cycle_ends(seeded: Memory, ending: str) -> None:
    def end() -> None:
        if ending == "wake":
            seeded.wake()
        elif ending == "error":
            raise RuntimeError("a phase broke")
        else:
            raise KeyboardInterrupt

    seeded.engine.phases = with_phase(writers(), PhaseName.REM, Call(end))
    if ending == "wake":
        assert seeded.dream().status == "interrupted"
    else:
        with pytest.raises((RuntimeError, KeyboardInterrupt, PluginError)):
            seeded.dream()
    assert seeded.store.lease_holder() is None
    seeded.engine.phases = writers()
    assert seeded.dream().status == "completed"


def test_the_lease_is_renewed_at_step_boundaries(store_path: Path) -> None:
    memory = open_file(store_path, **QUICK)
    try:
        memory.record_many(day(6))
        seen: list[Lease | None] = []

        def look() -> None:
            seen.append(memory.store.lease_holder())
            time.sleep(0.03)  # past the heartbeat interval

        memory.engine.phases = {p: (*ops, Call(look)) for p, ops in writers().items()}
        memory.dream()
    finally:
        memory.close()
    beats = [lease.heartbeat for lease in seen if lease is not None]
    assert len(beats) == 6 and beats == sorted(beats) and len(set(beats)) == 6
    assert all(lease is not None and lease.expires - lease.heartbeat == pytest.approx(30.0) for lease in seen)


def test_a_lease_held_on_another_host_refuses_by_name_and_writes_nothing(
    seeded: Memory, store_path: Path
) -> None:
    now = time.time()
    assert seeded.store.lease_acquire("c-far", "far-host", 4242, now, 600.0)[0]
    before = dump_file(store_path)
    with pytest.raises(CycleRunning) as refused:
        seeded.dream()
    message = str(refused.value)
    assert message.startswith("already dreaming: cycle c-far (host far-host, pid 4242, until ")
    assert time.strftime("%Y-%m-%d %H:%M", time.gmtime(now + 600.0)) in message
    assert "another host (far-host)" in message
    with pytest.raises(CycleRunning, match="far-host"):
        seeded.dream(resume=False)
    assert dump_file(store_path) == before


def test_a_lapsed_lease_elsewhere_frees_the_store(seeded: Memory) -> None:
    assert seeded.store.lease_acquire("c-far", "far-host", 4242, time.time() - 700.0, 600.0)[0]
    assert seeded.dream().status == "completed"
    assert seeded.store.lease_holder() is None


class _Died(BaseException):
    pass


def _die() -> None:
    raise _Died()


def test_a_crashed_holder_on_this_host_is_resumed_at_once(seeded: Memory) -> None:
    cycle_id = _crashed(seeded, HERE, dead_pid(), time.time())
    seeded.engine.phases = writers()
    report = seeded.dream()
    assert report.resumed and report.cycle_id == cycle_id and report.status == "completed"
    assert seeded.store.lease_holder() is None


def test_a_lapsed_holder_elsewhere_is_resumed_and_a_live_one_is_not(seeded: Memory) -> None:
    cycle_id = _crashed(seeded, "far-host", 4242, time.time())
    seeded.engine.phases = writers()
    with pytest.raises(CycleRunning, match=f"cycle {cycle_id} \\(host far-host"):
        seeded.dream()
    with pytest.raises(CycleRunning, match="far-host"):
        seeded.revert(cycle_id)
    seeded.store.lease_release(cycle_id)
    assert seeded.store.lease_acquire(cycle_id, "far-host", 4242, time.time() - 601.0, 600.0)[0]
    report = seeded.dream()
    assert report.resumed and report.cycle_id == cycle_id and report.status == "completed"


def test_revert_of_a_dead_holders_cycle_works_and_clears_its_lease(seeded: Memory) -> None:
    cycle_id = _crashed(seeded, HERE, dead_pid(), time.time())
    assert seeded.revert(cycle_id) > 0
    assert seeded.store.lease_holder() is None
    assert seeded.store.cycle(cycle_id).status == "reverted"  # type: ignore[union-attr]


def _crashed(memory: Memory, host: str, pid: int, started: float) -> str:
    """A cycle that committed some phases, then 'crashed': status running, and a lease of
    ``host``/``pid`` (the undo log of its finished phases kept, as a kill -9 leaves it)."""
    memory.engine.phases = with_phase(writers(), PhaseName.REM, Call(_die))
    # A raising phase fails the cycle and undoes its writes; a kill -9 does neither, so take the
    # failure path out of the way for this one run.
    fail = memory.engine._fail
    memory.engine._fail = lambda cycle_id, error: None  # type: ignore[method-assign]
    try:
        with pytest.raises(_Died):
            memory.dream()
    finally:
        memory.engine._fail = fail  # type: ignore[method-assign]
    row = memory.store.cycles_with_status("running")[0]
    memory.store.lease_release(row.id)
    assert memory.store.lease_acquire(row.id, host, pid, started, 600.0)[0]
    return row.id


def test_a_same_cycle_resume_from_another_live_process_is_refused(seeded: Memory) -> None:
    """The lease binds a process: the cycle id alone does not let a second process resume a cycle
    the first one still runs."""
    cycle_id = _crashed(seeded, HERE, os.getppid(), time.time())
    with pytest.raises(CycleRunning, match=f"pid {os.getppid()}"):
        seeded.dream()
    assert seeded.store.lease_holder().pid == os.getppid()  # type: ignore[union-attr]
    assert seeded.store.cycle(cycle_id).status == "running"  # type: ignore[union-attr]


def test_a_cycle_that_loses_its_lease_stops_without_writing(store_path: Path) -> None:
    memory = open_file(store_path, **QUICK)
    thief = SQLiteStore(store_path)
    try:
        memory.record_many(day(6))

        def steal() -> None:
            time.sleep(0.03)
            holder = thief.lease_holder()
            assert holder is not None
            with thief.transaction():
                thief.lease_release(holder.holder)
                thief.lease_acquire("c-thief", "far-host", 4242, time.time(), 600.0)

        memory.engine.phases = with_phase(writers(), PhaseName.REM, Call(steal))
        with pytest.raises(LeaseLost, match="c-thief"):
            memory.dream()
        row = memory.store.recent_cycles(1)[0]
        # Nothing after the theft: REM never committed, no end record, the thief keeps the lease.
        assert row.status == "running" and row.checkpoint["done"] == ["onset", "nrem"]
        kinds = [r.kind for r in memory.journal(row.id)]
        assert not any(k.startswith("cycle_") and k not in ("cycle_start",) for k in kinds)
        assert memory.store.lease_holder().holder == "c-thief"  # type: ignore[union-attr]
    finally:
        thief.close()
        memory.close()


def test_two_memories_one_file_one_cycle(seeded: Memory, store_path: Path) -> None:
    blocker = Blocker()
    seeded.engine.phases = with_phase(writers(), PhaseName.REM, blocker)
    thread, out = cycle_thread(seeded)
    other = open_file(store_path)
    try:
        assert blocker.entered.wait(WAIT_SECONDS)
        running = seeded.store.cycles_with_status("running")[0].id
        with pytest.raises(
            CycleRunning, match=f"already dreaming: cycle {running} \\(host {HERE}, pid {os.getpid()}"
        ):
            other.dream()
        with pytest.raises(CycleRunning, match=running):
            other.revert(running)
    finally:
        blocker.release.set()
        thread.join(WAIT_SECONDS)
        other.close()
    assert out["report"].status == "completed"


def test_a_dry_run_neither_takes_nor_renews_a_lease(store_path: Path) -> None:
    memory = open_file(store_path, **QUICK)
    try:
        memory.record_many(day(6))
        before = dump_file(store_path)
        memory.dream(dry_run=True)
        assert dump_file(store_path) == before and memory.store.lease_holder() is None
    finally:
        memory.close()


@pytest.mark.parametrize(
    ("cycle", "message"),
    [
        ({"lease_seconds": 0.5}, "cycle.lease_seconds"),
        ({"lease_seconds": float("inf")}, "cycle.lease_seconds"),
        ({"heartbeat_seconds": 0.0}, "cycle.heartbeat_seconds"),
        ({"lease_seconds": 60.0, "heartbeat_seconds": 30.0}, "at most a third of 'cycle.lease_seconds'"),
    ],
)
def test_lease_settings_are_checked(tmp_path: Path, cycle: dict[str, float], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(tmp_path, overrides={"cycle": cycle})


# -- the exclusive gate reads the lease, and pure dispatches never ask ----------------------------
def test_pure_dispatches_never_query_the_store_and_effectful_ones_read_the_lease(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "g.db")
    try:
        gate = Gate(store, time.time, sleep="exclusive")
        gate.register("double", lambda x: 2 * x, effect="pure")

        def send(x: int) -> int:
            return x

        gate.register("send", send, effect="effectful")
        store.lease_acquire("c-far", "far-host", 1, time.time(), 600.0)
        statements: list[str] = []
        store.db.conn().set_trace_callback(statements.append)
        for n in range(50):
            assert gate.dispatch("double", n).value == 2 * n
        assert statements == []
        assert gate.dispatch("send", 1).reason == "asleep" and gate.mode() is Mode.DREAM
        assert any("leases" in s for s in statements)
    finally:
        store.db.conn().set_trace_callback(None)
        store.close()


def test_threads_racing_on_one_memory_start_one_cycle(seeded: Memory) -> None:
    """The same Memory from several threads at once: exactly one cycle, the rest refused."""
    blocker = Blocker()
    seeded.engine.phases = with_phase(writers(), PhaseName.REM, blocker)
    barrier = threading.Barrier(4)
    outcomes: list[Any] = []

    def race() -> None:
        barrier.wait(WAIT_SECONDS)
        try:
            outcomes.append(seeded.dream())
        except CycleRunning as exc:
            outcomes.append(exc)
            if sum(isinstance(o, CycleRunning) for o in outcomes) == 3:
                blocker.release.set()

    threads = [threading.Thread(target=race) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT_SECONDS)
    refused = [o for o in outcomes if isinstance(o, CycleRunning)]
    ran = [o for o in outcomes if not isinstance(o, CycleRunning)]
    assert len(ran) == 1 and len(refused) == 3 and ran[0].status == "completed"
    assert all(ran[0].cycle_id in str(r) for r in refused)
