"""What the sandbox of an isolated run holds: no unix socket or file outside the store, a cleared
environment, messages to the parent and wake-ups from it; and ``oneiro dream --isolate`` woken by
a real SIGINT like a dream in-process.

The functions at the top are the children's targets, imported by name in the child process.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import socketserver
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from oneiro.errors import InvalidInput
from oneiro.isolation import (
    child_send,
    isolation_available,
    on_parent_wake,
    run_in_subprocess,
    run_isolated,
    sandbox_args,
)

requires_bwrap = pytest.mark.skipif(not isolation_available()[0], reason=isolation_available()[1])
#: Seconds the wake test's child waits for the parent's wake-up before giving up.
WAKE_WAIT_S = 30.0


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("localhost", timeout=5)
        self.socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(5)
        sock.connect(self.socket_path)
        self.sock = sock


def post_to_socket(path: str) -> dict[str, Any]:
    try:
        conn = _UnixHTTPConnection(path)
        conn.request("POST", "/containers/create", body=b"{}", headers={"Content-Type": "application/json"})
        return {"reached": True, "status": conn.getresponse().status}
    except OSError as exc:
        return {"reached": False, "error": f"{type(exc).__name__}: {exc}"}


def write_file(path: str) -> dict[str, Any]:
    try:
        Path(path).write_text("written from the sandbox", encoding="utf-8")
        return {"written": True}
    except OSError as exc:
        return {"written": False, "error": f"{type(exc).__name__}: {exc}"}


def environment() -> dict[str, str]:
    return dict(os.environ)


def talk_then_wait_for_wake() -> str:
    woken = threading.Event()
    on_parent_wake(woken.set)
    child_send({"kind": "hello", "payload": {"n": 1}})
    return "woken" if woken.wait(WAKE_WAIT_S) else "never woken"


class SocketServer:
    """An HTTP server on a unix socket (as the Docker daemon serves) that counts requests."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.requests = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                # Read the body before answering: closing on an unread body races the client's
                # send of it (a broken pipe on the client's side).
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                owner.requests += 1
                self.send_response(201)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.server = socketserver.ThreadingUnixStreamServer(str(path), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> SocketServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    path = tmp_path / "outside"
    path.mkdir()
    return path


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    path = tmp_path / "store"
    path.mkdir()
    return path


@pytest.fixture
def docker(outside: Path) -> Iterator[SocketServer]:
    with SocketServer(outside / "docker.sock") as server:
        yield server


def test_control_a_plain_child_reaches_the_socket_and_writes(docker: SocketServer, outside: Path) -> None:
    reached = run_in_subprocess(post_to_socket, str(docker.path), timeout=60)
    assert reached["reached"] is True, reached
    assert run_in_subprocess(write_file, str(outside / "f.txt"), timeout=60)["written"] is True
    assert docker.requests == 1


@requires_bwrap
def test_an_isolated_child_cannot_post_to_a_unix_socket_outside_the_store(
    docker: SocketServer, store_dir: Path
) -> None:
    result = run_isolated(post_to_socket, str(docker.path), timeout=60, writable=[store_dir])
    assert result["reached"] is False, result
    assert docker.requests == 0


@requires_bwrap
def test_a_shared_directory_on_the_import_path_is_not_bound(
    docker: SocketServer, store_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A script run from /tmp puts /tmp on sys.path: binding it would bring every socket there."""
    monkeypatch.syspath_prepend("/tmp")
    args = sandbox_args([store_dir])
    assert [args[i + 1] for i, a in enumerate(args) if a.endswith("bind")].count("/tmp") == 0
    result = run_isolated(post_to_socket, str(docker.path), timeout=60, writable=[store_dir])
    assert result["reached"] is False and docker.requests == 0


def test_a_shared_directory_is_never_made_writable(tmp_path: Path) -> None:
    for shared in ("/tmp", Path.home(), "/"):
        with pytest.raises(InvalidInput, match="shared with other programs"):
            sandbox_args([shared])


@requires_bwrap
def test_an_isolated_child_writes_only_inside_the_store(outside: Path, store_dir: Path) -> None:
    result = run_isolated(write_file, str(outside / "f.txt"), timeout=60, writable=[store_dir])
    assert result["written"] is False and not (outside / "f.txt").exists()
    assert run_isolated(write_file, str(store_dir / "ok.txt"), timeout=60, writable=[store_dir]) == {
        "written": True
    }
    assert (store_dir / "ok.txt").read_text(encoding="utf-8") == "written from the sandbox"
    home = Path.home() / ".oneiro-sandbox-probe"
    assert run_isolated(write_file, str(home), timeout=60, writable=[store_dir])["written"] is False
    assert not home.exists()


@requires_bwrap
def test_the_environment_is_cleared(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSH_AUTH_SOCK", "/tmp/ssh-agent.sock")
    monkeypatch.setenv("DOCKER_HOST", "unix:///var/run/docker.sock")
    monkeypatch.setenv("API_TOKEN", "secret")
    env = run_isolated(environment, timeout=60)
    assert not {"SSH_AUTH_SOCK", "DOCKER_HOST", "API_TOKEN"} & set(env)
    assert env["ONEIRO_MODE"] == "awake" and env["HOME"] == "/tmp"


@requires_bwrap
def test_messages_reach_the_parent_and_a_wake_up_reaches_the_child() -> None:
    wake = threading.Event()
    seen: list[dict[str, Any]] = []

    def on_message(message: dict[str, Any]) -> None:
        seen.append(message)
        wake.set()

    assert run_isolated(talk_then_wait_for_wake, timeout=60, on_message=on_message, wake=wake) == "woken"
    assert seen == [{"kind": "hello", "payload": {"n": 1}}]


# -- the CLI: progress relayed from the child, and a real SIGINT ----------------------------------
def cli(home: Path, *args: str, **options: Any) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "ONEIRO_HOME": str(home),
        "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
        "PYTHONUNBUFFERED": "1",
        "COLUMNS": "200",
    }
    return subprocess.Popen(
        [sys.executable, "-c", "from oneiro.cli import main; main()", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        **options,
    )


def finished(proc: subprocess.Popen[str]) -> tuple[int, str]:
    out, _ = proc.communicate(timeout=300)
    return proc.returncode, out


@pytest.fixture
def cli_home(tmp_path: Path) -> Path:
    from test_cli_awake import EPISODES, jsonl

    home = tmp_path / "home"
    assert finished(cli(home, "init", "--embedder", "hashing"))[0] == 0
    (tmp_path / "day.jsonl").write_bytes(jsonl(EPISODES))
    assert finished(cli(home, "record", str(tmp_path / "day.jsonl")))[0] == 0
    return home


def statuses(home: Path) -> list[str]:
    conn = sqlite3.connect(home / "oneiro.db")
    try:
        return [r[0] for r in conn.execute("SELECT status FROM cycles ORDER BY started_at")]
    finally:
        conn.close()


@requires_bwrap
def test_isolated_dream_shows_the_childs_progress(cli_home: Path) -> None:
    code, out = finished(cli(cli_home, "dream", "--isolate"))
    assert code == 0, out
    assert "mode -> dream" in out and "[1/6] ONSET" in out and "[6/6] RETURN" in out
    assert "status: completed" in out and statuses(cli_home) == ["completed"]


@requires_bwrap
def test_sigint_wakes_an_isolated_dream_as_it_wakes_one_in_process(cli_home: Path) -> None:
    proc = cli(cli_home, "dream", "--isolate")
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if "dreaming in a sandbox" in line:
            proc.send_signal(signal.SIGINT)
            break
    code, rest = finished(proc)
    out = "".join(lines) + rest
    assert code == 0 and "status: interrupted" in out, out
    assert statuses(cli_home) == ["interrupted"]
    code, out = finished(cli(cli_home, "dream", "--isolate"))
    assert code == 0 and "resumed" in out and statuses(cli_home) == ["completed"], out


# -- the dream lease of an isolated cycle -----------------------------------------------------------
@requires_bwrap
def test_an_isolated_cycle_holds_and_renews_the_lease_from_its_own_process(tmp_path: Path) -> None:
    """The sandboxed child (no PID namespace, its host name kept) takes the store's dream lease
    under its own pid and this host, renews it as it runs and gives it back; meanwhile the parent's
    exclusive gate, which runs no cycle itself, sleeps because of that lease."""
    import time

    import oneiro
    from oneiro.model import Mode

    quick = {"sleep": "exclusive", "cycle": {"lease_seconds": 30.0, "heartbeat_seconds": 0.005}}
    with oneiro.open(tmp_path / "home", embedder="hashing", overrides=quick) as memory:
        memory.record_many([{"text": f"note {i}: the deploy of service {i % 7} was slow"} for i in range(80)])
        seen: list[tuple[Any, Mode]] = []
        stop = threading.Event()

        def watch() -> None:
            while not stop.is_set():
                lease = memory.store.lease_holder()
                if lease is not None:
                    seen.append((lease, memory.mode()))
                time.sleep(0.002)

        watcher = threading.Thread(target=watch)
        watcher.start()
        try:
            report = memory.dream(isolate=True)
        finally:
            stop.set()
            watcher.join(30)
        assert report.status == "completed" and seen
        holders = {(lease.holder, lease.host, lease.pid) for lease, _ in seen}
        assert len(holders) == 1
        holder, host, pid = holders.pop()
        assert holder == report.cycle_id and host == socket.gethostname() and pid != os.getpid()
        # The lease is read before the mode, so only the last sample may see it released.
        assert len(seen) > 1 and {mode for _, mode in seen[:-1]} == {Mode.DREAM}
        assert len({lease.heartbeat for lease, _ in seen}) > 1  # renewed inside the sandbox
        assert memory.store.lease_holder() is None
