"""The experiment sandbox against hostile commands: escapes, changed bytes, and what a run costs.

Rollback: ``--rounds`` rounds, each running every hostile command once on a fresh snapshot of one
workspace (:func:`oneiro.sandbox.lab.trial`): a crash (SIGSEGV), a hang (killed at the wall-time
limit), a fork bomb (against the process limit), a disk filler (one huge file, then many small
ones, in the snapshot and in /tmp), a network probe (connect to a TCP server on the host's
loopback, which counts every connection it accepts) and a vandal (rewrites and deletes the
workspace's files through its real path and the snapshot's). Every command also tries to write a
marker outside the snapshot. After each run: the workspace digest, the markers, the server's
count and any process left over of the sandbox's uid. An *escape* is any of those that is not
as before.

Overhead: the same trivial command (``python -c pass``) as a plain subprocess, as a sandboxed run
on an existing snapshot, and as a whole trial (snapshot + run), interleaved round by round;
medians and p95 in milliseconds, with the ratios.

Run: ``nice python bench/sandbox_rollback.py`` -> ``bench/results/sandbox_rollback.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from oneiro.sandbox import Experiment, Limits, Viability, snapshot_method, trial, workspace_digest
from oneiro.sandbox.runner import UNPRIVILEGED_ID, run_sandboxed, snapshot

RESULTS = Path(__file__).resolve().parent / "results" / "sandbox_rollback.json"
#: Tight limits, so a hostile run ends fast: a hang costs one wall-time limit.
LIMITS = Limits(wall_seconds=1.5, cpu_seconds=5, processes=16, file_bytes=4 << 20, disk_bytes=16 << 20)
#: Rounds of the hostile set (6 commands each): 34 rounds make 204 runs.
ROUNDS = 34
OVERHEAD_ROUNDS = 15
MARKER_DIR = Path("/var/tmp")

HOSTILE = {
    "crash": "import ctypes; ctypes.string_at(0)",
    "hang": "while True: pass",
    "fork_bomb": (
        "import os, time\n"
        "for _ in range(100000):\n"
        "    try:\n        os.fork()\n    except OSError:\n        time.sleep(0.01)\n"
    ),
    "fill_disk": (
        "import os\n"
        "for target in ('big', '/tmp/big'):\n"
        "    try:\n        f = open(target, 'wb')\n        [f.write(b'0' * 65536) for _ in range(100000)]\n"
        "    except OSError:\n        pass\n"
        "for d in ('.', '/tmp'):\n"
        "    try:\n        [open(f'{{d}}/small{{i}}', 'wb').write(b'0' * 65536) for i in range(100000)]\n"
        "    except OSError:\n        pass\n"
    ),
    "network": (
        "import socket\n"
        "for host in ('127.0.0.1', '{host_ip}'):\n"
        "    try:\n        socket.create_connection((host, {port}), timeout=0.5)\n"
        "    except OSError:\n        pass\n"
    ),
    "vandal": (
        "import os, shutil\n"
        "for root in ('.', '{workspace}'):\n"
        "    for name in ('data.txt', 'prog.py'):\n"
        "        try:\n            open(os.path.join(root, name), 'w').write('vandalised')\n"
        "        except OSError:\n            pass\n"
        "    shutil.rmtree(root, ignore_errors=True)\n"
    ),
}
#: Appended to every hostile command: try to leave a marker outside the snapshot.
MARKER = (
    "\nfor m in ('{marker}', '/work/oneiro-escape', os.path.expanduser('~/oneiro-escape')):\n"
    "    try:\n        open(m, 'w').write('escaped')\n    except OSError:\n        pass\n"
)


class Listener:
    """A TCP server on the host counting accepted connections."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("0.0.0.0", 0))
        self.port = self.sock.getsockname()[1]
        self.count = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.count += 1
            conn.close()


def host_ip() -> str:
    """An address of this host other than loopback (the sandbox must not reach it either)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.255.255.255", 1))
            return str(s.getsockname()[0])
        except OSError:
            return "127.0.0.1"


def leftover_processes(tag: str) -> int:
    """Processes of the sandbox's uid still alive whose command line holds this bench's ``tag``
    (other sandboxed work on the machine runs under the same uid and is not counted)."""
    out = subprocess.run(
        ["ps", "-u", str(UNPRIVILEGED_ID), "-o", "args="], capture_output=True, text=True, check=False
    )
    return sum(tag in line for line in out.stdout.splitlines())


def make_workspace(root: Path) -> Path:
    ws = root / "ws"
    ws.mkdir()
    (ws / "prog.py").write_text("print('hello')\n")
    (ws / "data.txt").write_text("keep me\n")
    return ws


def rollback(ws: Path, rounds: int) -> dict[str, Any]:
    listener = Listener()
    before = workspace_digest(ws)
    ip = host_ip()
    per_kind: dict[str, dict[str, Any]] = {k: {"runs": 0, "statuses": {}, "killed": 0} for k in HOSTILE}
    escapes: list[dict[str, Any]] = []
    changed = 0
    runs = 0
    for r in range(rounds):
        for kind, code in HOSTILE.items():
            marker = MARKER_DIR / f"oneiro-escape-{os.getpid()}-{r}-{kind}"
            src = "import os\n" + code.format(port=listener.port, host_ip=ip, workspace=ws)
            src += MARKER.format(marker=marker)
            exp = Experiment(ws, (sys.executable, "-c", src), (), Viability.of({}))
            t = trial(exp, {}, LIMITS)
            runs += 1
            stats = per_kind[kind]
            stats["runs"] += 1
            stats["statuses"][str(t.run.status)] = stats["statuses"].get(str(t.run.status), 0) + 1
            stats["killed"] += t.run.killed is not None
            leaked = [
                str(p)
                for p in (marker, Path("/work/oneiro-escape"), Path.home() / "oneiro-escape")
                if p.exists()
            ]
            if workspace_digest(ws) != before:
                changed += 1
            time.sleep(0.05)
            left = leftover_processes(f"oneiro-escape-{os.getpid()}-")
            if leaked or left or listener.count:
                escapes.append(
                    {
                        "round": r,
                        "kind": kind,
                        "files": leaked,
                        "processes": left,
                        "connections": listener.count,
                    }
                )
                for p in leaked:
                    Path(p).unlink()
    return {
        "runs": runs,
        "escapes": len(escapes),
        "escape_details": escapes[:20],
        "runs_with_changed_workspace": changed,
        "connections_accepted": listener.count,
        "per_kind": per_kind,
    }


def control() -> dict[str, Any]:
    """The detectors' own check: the network probe and the marker writer run once as a plain
    subprocess (nothing else of the hostile set runs unsandboxed); both must be seen."""
    listener = Listener()
    marker = MARKER_DIR / f"oneiro-escape-{os.getpid()}-control"
    src = "import os\n" + HOSTILE["network"].format(port=listener.port, host_ip=host_ip())
    src += MARKER.format(marker=marker)
    subprocess.run([sys.executable, "-c", src], check=False, timeout=30)
    seen = {"connections": listener.count, "marker_written": marker.exists()}
    marker.unlink(missing_ok=True)
    for extra in (Path("/work/oneiro-escape"), Path.home() / "oneiro-escape"):
        extra.unlink(missing_ok=True)
    return seen


def ms(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50": round(statistics.median(ordered) * 1000, 2),
        "p95": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] * 1000, 2),
    }


def overhead(ws: Path, rounds: int) -> dict[str, Any]:
    argv = [sys.executable, "-c", "pass"]
    exp = Experiment(ws, tuple(argv), (), Viability.of({}))
    plain: list[float] = []
    sandboxed: list[float] = []
    whole: list[float] = []
    with snapshot(ws, LIMITS) as scratch:
        for _ in range(rounds):
            start = time.perf_counter()
            subprocess.run(argv, check=True)
            plain.append(time.perf_counter() - start)
            start = time.perf_counter()
            run_sandboxed(scratch, argv, LIMITS)
            sandboxed.append(time.perf_counter() - start)
            start = time.perf_counter()
            trial(exp, {}, LIMITS)
            whole.append(time.perf_counter() - start)
    p, s, w = statistics.median(plain), statistics.median(sandboxed), statistics.median(whole)
    return {
        "rounds": rounds,
        "plain_subprocess_ms": ms(plain),
        "sandboxed_run_ms": ms(sandboxed),
        "trial_with_snapshot_ms": ms(whole),
        "sandboxed_minus_plain_ms": round((s - p) * 1000, 2),
        "ratio_sandboxed_to_plain": round(s / p, 2),
        "ratio_trial_to_plain": round(w / p, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--overhead-rounds", type=int, default=OVERHEAD_ROUNDS)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ws = make_workspace(Path(tmp))
        cost = overhead(ws, args.overhead_rounds)
        result = rollback(ws, args.rounds)
    detectors = control()
    out = {
        "bench": "sandbox_rollback",
        "python": platform.python_version(),
        "snapshot_method": snapshot_method(),
        "limits": LIMITS.__dict__,
        "rollback": result,
        "control_unsandboxed": detectors,
        "overhead": cost,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(
        json.dumps(
            {"rollback": {k: v for k, v in result.items() if k != "per_kind"}, "overhead": cost}, indent=2
        )
    )


if __name__ == "__main__":
    main()
