"""The sandbox: run an experiment's command on a throw-away snapshot of its workspace, measure it,
and leave the workspace exactly as it was.

Invariants, whatever the command does (crash, hang, fork, fill a disk, try the network):

- the workspace is never bound into the sandbox (only its snapshot is, read-write), and its
  digest is compared before and after every run: a difference is :class:`SandboxBreach`, never
  silently accepted;
- the command runs under bubblewrap with the namespaces and filesystem of
  :func:`oneiro.isolation.sandbox_args` (no network, no host files but the system and Python
  read-only) plus a PID namespace of its own (a wall-time kill takes every process it started);
- limits: ``RLIMIT_CPU``, ``RLIMIT_AS`` (memory), ``RLIMIT_NPROC`` (processes), ``RLIMIT_FSIZE``
  (file size), a size-capped private ``/tmp`` and, when a tmpfs can be mounted, a size-capped
  snapshot (the disk); a wall-time deadline kills the process group;
- run as root, the command is dropped to an unprivileged uid inside the sandbox (``setpriv``, after
  bubblewrap has bound what it needs, so the interpreter may live under a private home): Linux
  exempts uid 0 from ``RLIMIT_NPROC``, so a root fork bomb would not be bounded;
- without a working bubblewrap it raises IsolationUnavailable: it never runs a command unsandboxed.

The snapshot: a copy of the workspace onto a private tmpfs of ``Limits.disk_bytes`` where one can
be mounted (root), else ``cp --reflink=auto`` into a temporary folder (a reflink, copy-on-write,
where the filesystem has them; a plain copy otherwise). Overlayfs is not used: its lower files keep
their owner, which the unprivileged child could not write, so a run could not change what it must
be free to change. :func:`snapshot_method` says which is used.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from oneiro.errors import InvalidInput, IsolationUnavailable, OneiroError
from oneiro.isolation import BWRAP, child_env, isolation_available, python_paths, sandbox_args
from oneiro.sandbox.experiment import Telemetry

#: The uid/gid a root parent drops the child to (``nobody`` on Debian and most distributions).
UNPRIVILEGED_ID = 65534
#: Run inside the sandbox around the command: its rusage (peak memory, CPU of it and what it
#: reaped) is that of a process forked from this small launcher, not from the parent (a fork of
#: the parent would report the parent's resident set as its peak).
LAUNCHER = (
    "import json, os, sys\n"
    "fd = int(sys.argv[1])\n"
    "pid = os.fork()\n"
    "if pid == 0:\n"
    "    os.close(fd)\n"
    "    try:\n"
    "        os.execvp(sys.argv[2], sys.argv[2:])\n"
    "    finally:\n"
    "        os._exit(127)\n"
    "_, status, usage = os.wait4(pid, 0)\n"
    "os.write(fd, json.dumps([usage.ru_maxrss, usage.ru_utime + usage.ru_stime]).encode())\n"
    "code = os.waitstatus_to_exitcode(status)\n"
    "os._exit(code if code >= 0 else 128 - code)\n"
)
#: Where snapshots are made: not under /tmp, which the sandbox replaces with a private tmpfs
#: (a snapshot bound below it would get parents the unprivileged uid cannot traverse).
SCRATCH_ROOT = "/var/tmp"
#: Mode given to the parents of bound paths (see :func:`_drop`).
TRAVERSABLE = "0755"
#: util-linux's tool that changes uid and drops capabilities before exec.
SETPRIV = "setpriv"
#: How often the parent checks the child and the deadline (seconds).
POLL_S = 0.01
#: Bytes of standard error kept verbatim in the telemetry (the rest is in the digest).
STDERR_TAIL_BYTES = 2000
#: Bytes read of the launcher's one-line report.
REPORT_BYTES = 256
#: Kilobytes (``ru_maxrss`` unit on Linux) to bytes.
KIB = 1024
MIB = 1024 * KIB


class SandboxError(OneiroError):
    """An experiment could not be run or judged (a missing workspace, a baseline that fails)."""


class SandboxBreach(SandboxError):
    """The workspace changed during a sandboxed run: the sandbox failed at its one job."""


@dataclass(frozen=True)
class Limits:
    """Resource limits of one sandboxed run (defaults sized for a small test program)."""

    wall_seconds: float = 60.0
    cpu_seconds: int = 60
    memory_bytes: int = 1024 * MIB
    processes: int = 64
    file_bytes: int = 64 * MIB
    disk_bytes: int = 256 * MIB


def workspace_digest(root: Path) -> str:
    """SHA-256 over every path, type, mode and content under ``root`` (symlinks by target)."""
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        for name in sorted([*dirnames, *filenames]):
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            h.update(os.path.relpath(path, root).encode() + b"\0" + oct(st.st_mode).encode() + b"\0")
            if stat.S_ISLNK(st.st_mode):
                h.update(os.readlink(path).encode())
            elif stat.S_ISREG(st.st_mode):
                with open(path, "rb") as fh:
                    for chunk in iter(lambda: fh.read(MIB), b""):
                        h.update(chunk)
    return h.hexdigest()


def _can_mount() -> bool:
    return os.geteuid() == 0 and shutil.which("mount") is not None


def snapshot_method() -> str:
    """``tmpfs-copy`` (a size-capped private tmpfs) or ``cp --reflink=auto``."""
    return "tmpfs-copy" if _can_mount() else "cp --reflink=auto"


@contextmanager
def snapshot(workspace: Path, limits: Limits) -> Iterator[Path]:
    """A fresh copy of ``workspace`` (see the module doc); removed, whatever happens, on exit.
    Yields the scratch folder, holding ``ws`` (the copy) and ``out`` (the run's output files)."""
    scratch = Path(tempfile.mkdtemp(prefix="oneiro-exp-", dir=SCRATCH_ROOT))
    mounted = False
    try:
        if _can_mount():
            done = subprocess.run(
                ["mount", "-t", "tmpfs", "-o", f"size={limits.disk_bytes},mode=0755", "tmpfs", str(scratch)],
                capture_output=True,
                check=False,
            )
            mounted = done.returncode == 0
        copy = subprocess.run(
            ["cp", "-a", "--reflink=auto", f"{workspace}/.", str(scratch / "ws")],
            capture_output=True,
            text=True,
            check=False,
        )
        if copy.returncode != 0:
            raise SandboxError(f"could not snapshot {workspace}: {copy.stderr.strip()}")
        (scratch / "out").mkdir()
        for dirpath, _dirs, files in os.walk(scratch / "ws"):
            give_to_child(Path(dirpath))
            for name in files:
                give_to_child(Path(dirpath, name))
        yield scratch
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(scratch)], capture_output=True, check=False)
        shutil.rmtree(scratch, ignore_errors=True)


def give_to_child(path: Path) -> None:
    """Make ``path`` of a snapshot the child's own (as root the child runs unprivileged)."""
    if os.geteuid() == 0:
        os.chown(path, UNPRIVILEGED_ID, UNPRIVILEGED_ID, follow_symlinks=False)


def require_sandbox(executable: str = BWRAP) -> None:
    """Raise IsolationUnavailable (saying why) unless bubblewrap works here."""
    if shutil.which(executable) is None:
        raise IsolationUnavailable(
            f"refusing to run an experiment unsandboxed: {executable!r} not found on PATH"
        )
    ok, why = isolation_available(executable)
    if not ok:
        raise IsolationUnavailable(f"refusing to run an experiment unsandboxed: {why}")


def check_workspace(workspace: Path) -> Path:
    if not workspace.is_dir():
        raise InvalidInput(f"experiment workspace {workspace} is not a folder", field="workspace")
    return workspace.resolve()


def _limit(limits: Limits) -> None:
    """Runs in the child between fork and exec (inherited by bubblewrap and the command)."""
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds))
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
    resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes, limits.processes))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _drop(bound: Sequence[Path]) -> tuple[list[str], list[str]]:
    """Extra bubblewrap flags and the command prefix that drop root to :data:`UNPRIVILEGED_ID`
    inside the sandbox (nothing when not root); all capabilities go with the uid."""
    if os.geteuid() != 0:
        return [], []
    setpriv = shutil.which(SETPRIV)
    if setpriv is None:
        raise IsolationUnavailable(
            "refusing to run an experiment as root without setpriv (util-linux): "
            "root is exempt from the process limit"
        )
    ids = str(UNPRIVILEGED_ID)
    flags = ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    # bubblewrap makes the parents of a bound path with mode 0700, which would hide the
    # interpreter and the snapshot from the unprivileged uid. Made traversable first; they hold
    # nothing but the binds below them.
    for parent in _parents(bound):
        flags += ["--perms", TRAVERSABLE, "--dir", parent]
    return flags, [setpriv, f"--reuid={ids}", f"--regid={ids}", "--clear-groups", "--inh-caps=-all", "--"]


def run_sandboxed(
    scratch: Path, argv: Sequence[str], limits: Limits, executable: str = BWRAP, tag: str = "run"
) -> Telemetry:
    """Run ``argv`` under bubblewrap in ``scratch/ws`` (from :func:`snapshot`) and measure it."""
    require_sandbox(executable)
    ws = scratch / "ws"
    flags, prefix = _drop([ws])
    args = sandbox_args(writable=[ws], tmp_bytes=limits.file_bytes, extra_flags=("--unshare-pid", *flags))
    env = child_env({"PYTHONPATH": str(ws), "PYTHONDONTWRITEBYTECODE": "1"})
    out, err = scratch / "out" / f"{tag}.stdout", scratch / "out" / f"{tag}.stderr"
    read_fd, write_fd = os.pipe()
    launcher = [sys.executable, "-c", LAUNCHER, str(write_fd)]
    try:
        with open(out, "wb") as fo, open(err, "wb") as fe:
            start = time.monotonic()
            proc = subprocess.Popen(
                [shutil.which(executable) or executable, *args, "--", *prefix, *launcher, *argv],
                stdin=subprocess.DEVNULL,
                stdout=fo,
                stderr=fe,
                env=env,
                start_new_session=True,
                pass_fds=(write_fd,),
                preexec_fn=lambda: _limit(limits),
            )
            os.close(write_fd)
            write_fd = -1
            status, usage, killed = _wait(proc, start + limits.wall_seconds)
            wall = time.monotonic() - start
        report = os.read(read_fd, REPORT_BYTES)
    finally:
        os.close(read_fd)
        if write_fd >= 0:
            os.close(write_fd)
    peak_kib, cpu = _measured(report, usage)
    tail = err.read_bytes()[-STDERR_TAIL_BYTES:].decode("utf-8", "replace")
    return Telemetry(
        status=status,
        killed=killed,
        wall_time=wall,
        cpu_time=cpu,
        peak_memory=peak_kib * KIB,
        stdout_sha256=_file_digest(out),
        stderr_sha256=_file_digest(err),
        stderr_tail=tail,
    )


def _wait(proc: subprocess.Popen[bytes], deadline: float) -> tuple[int, resource.struct_rusage, str | None]:
    """Reap the child with its rusage (peak memory of it and its reaped descendants); kill its
    process group at the deadline. The PID namespace ends with bubblewrap, taking the rest."""
    killed: str | None = None
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            killed = "wall_time"
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            _pid, status, usage = os.wait4(proc.pid, 0)
            break
        time.sleep(POLL_S)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage, killed


def _parents(bound: Sequence[Path]) -> list[str]:
    """Ancestors of the bound paths (Python's and the snapshot's), outermost first."""
    found: set[str] = set()
    paths: list[str] = [*python_paths(), *(str(b) for b in bound)]
    for path in paths:
        found.update(str(parent) for parent in Path(os.path.realpath(path)).parents if str(parent) != "/")
    return sorted(found, key=lambda p: (p.count("/"), p))


def _measured(report: bytes, usage: resource.struct_rusage) -> tuple[int, float]:
    """Peak memory (KiB) and CPU seconds the launcher reported; when it could not report (the run
    was killed), what the kernel says of the whole sandbox (an upper bound)."""
    try:
        peak, cpu = json.loads(report)
        return int(peak), float(cpu)
    except (ValueError, TypeError):
        return usage.ru_maxrss, usage.ru_utime + usage.ru_stime


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(MIB), b""):
            h.update(chunk)
    return h.hexdigest()
