"""The experiment sandbox on real bubblewrap: bad input refused clearly, a run that misbehaves
contained, measured and rolled back; the workspace byte-identical after every case."""

from __future__ import annotations

import socket
import sys
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oneiro.errors import InvalidInput, IsolationUnavailable, OneiroError
from oneiro.isolation import isolation_available
from oneiro.sandbox import Experiment, Limits, SandboxError, Viability, compare, workspace_digest

requires_bwrap = pytest.mark.skipif(not isolation_available()[0], reason=isolation_available()[1])
#: Short limits: a hang is cut at two seconds of wall time.
QUICK = Limits(wall_seconds=2.0, cpu_seconds=10, processes=32, file_bytes=1 << 20, disk_bytes=16 << 20)

PROGRAM = """\
import json
p = json.load(open("oneiro_params.json"))
n = p["n"]
if p["mode"] == "list":
    print(sum([i * i for i in range(n)]))
else:
    print(sum(i * i for i in range(n)))
"""


def workspace(tmp_path: Path, program: str = PROGRAM) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "prog.py").write_text(program)
    (ws / "data.txt").write_text("keep me\n")
    return ws


def experiment(ws: Path, command: str | None = None, tests: str = "pass", **rules: float) -> Experiment:
    run = (sys.executable, "-c", command) if command else (sys.executable, "prog.py")
    return Experiment(
        workspace=ws,
        command=run,
        tests=(sys.executable, "-c", tests),
        viability=Viability.of(rules or {"peak_memory": 0.2}),
        params={"mode": "list", "n": 300_000},
        space={"mode": ["list", "gen"]},
    )


def test_unknown_metric_is_refused_before_anything_runs() -> None:
    with pytest.raises(InvalidInput, match="unknown metric 'peak_memroy'"):
        Viability.of({"peak_memroy": 0.2})


def test_missing_workspace_is_refused(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(InvalidInput, match="not a folder"):
        compare(experiment(missing), [], QUICK)
    assert not missing.exists()


def test_without_bubblewrap_it_refuses_and_runs_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = workspace(tmp_path)
    before = workspace_digest(ws)
    marker = tmp_path / "ran"
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    exp = experiment(ws, command=f"open({str(marker)!r}, 'w')")
    with pytest.raises(IsolationUnavailable, match="unsandboxed"):
        compare(exp, [], QUICK)
    assert not marker.exists()
    assert workspace_digest(ws) == before


@requires_bwrap
def test_a_never_ending_baseline_is_killed_and_reported(tmp_path: Path) -> None:
    ws = workspace(tmp_path)
    before = workspace_digest(ws)
    with pytest.raises(SandboxError, match="killed by wall_time"):
        compare(experiment(ws, command="open('data.txt', 'w').write('x')\nwhile True: pass"), [], QUICK)
    assert workspace_digest(ws) == before


@requires_bwrap
def test_a_hanging_test_is_killed_and_reported(tmp_path: Path) -> None:
    ws = workspace(tmp_path)
    before = workspace_digest(ws)
    with pytest.raises(SandboxError, match=r"tests failed .*killed by wall_time"):
        compare(experiment(ws, tests="import time; time.sleep(60)"), [], QUICK)
    assert workspace_digest(ws) == before


@requires_bwrap
def test_a_leaner_variant_survives_and_a_broken_one_is_pruned(tmp_path: Path) -> None:
    ws = workspace(tmp_path)
    before = workspace_digest(ws)
    result = compare(experiment(ws), [{"mode": "gen", "n": 300_000}, {"mode": "gen"}], QUICK)
    lean, broken = result.verdicts
    assert lean.viable, lean.reasons
    assert lean.gains["peak_memory"] >= 0.2
    assert lean.trial.run.stdout_sha256 == result.baseline.run.stdout_sha256
    assert not broken.viable and broken.trial.run.status != 0
    assert workspace_digest(ws) == before == result.workspace_sha256


@requires_bwrap
def test_writes_deletions_and_a_file_bomb_stay_in_the_snapshot(tmp_path: Path) -> None:
    ws = workspace(tmp_path)
    before = workspace_digest(ws)
    vandal = (
        "import os\n"
        "open('data.txt', 'w').write('changed')\n"
        "os.remove('prog.py')\n"
        "f = open('big', 'wb')\n"
        "try:\n    [f.write(b'0' * 65536) for _ in range(10_000)]\nexcept OSError: pass\n"
    )
    with pytest.raises(SandboxError):
        compare(experiment(ws, command=vandal + "raise SystemExit(3)"), [], QUICK)
    assert workspace_digest(ws) == before
    assert (ws / "data.txt").read_text() == "keep me\n"


@requires_bwrap
def test_a_fork_bomb_meets_the_process_limit(tmp_path: Path) -> None:
    ws = workspace(tmp_path)
    before = workspace_digest(ws)
    bomb = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"
    with pytest.raises(SandboxError, match="killed by wall_time"):
        compare(experiment(ws, command=bomb), [], QUICK)
    assert workspace_digest(ws) == before


class Listener:
    """A TCP server on the host's loopback counting the connections it accepts."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.count = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.count += 1
            conn.close()

    def close(self) -> None:
        self.sock.close()


@requires_bwrap
def test_the_network_is_out_of_reach(tmp_path: Path) -> None:
    ws = workspace(tmp_path)
    listener = Listener()
    try:
        probe = f"import socket\nsocket.create_connection(('127.0.0.1', {listener.port}), timeout=1)"
        with pytest.raises(SandboxError, match="baseline command failed"):
            compare(experiment(ws, command=probe), [], QUICK)
        assert listener.count == 0
        socket.create_connection(("127.0.0.1", listener.port), timeout=1).close()  # the server works
        listener.thread.join(0.2)
        assert listener.count == 1
    finally:
        listener.close()


@settings(max_examples=30, deadline=None)
@given(st.binary(max_size=64), st.integers(min_value=0, max_value=63))
def test_the_digest_sees_any_changed_byte(content: bytes, at: int) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "f").write_bytes(content + b"x")
        before = workspace_digest(root)
        data = bytearray(content + b"x")
        data[at % len(data)] ^= 0x01
        (root / "f").write_bytes(bytes(data))
        assert workspace_digest(root) != before


def test_errors_belong_to_the_one_tree() -> None:
    assert issubclass(SandboxError, OneiroError)
