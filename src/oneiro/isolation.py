"""Atonia at the OS level: run dream work in a child process that can touch only what it needs.

The gate refuses effectful pipelines at dispatch, but it trusts each pipeline's declared class. A
pipeline that lies ("pure", yet it POSTs) is stopped here instead: :func:`run_isolated` runs a
callable in a bubblewrap sandbox that holds only

- an empty network namespace (``--unshare-net``: no other host, not even the parent's
  ``127.0.0.1``), and fresh IPC and UTS namespaces;
- the system's ``/usr`` (and its ``/bin``, ``/lib`` links), the Python installation and every
  ``sys.path`` entry, read-only; a few files of ``/etc`` the C library reads, read-only;
- the directories the caller names as ``writable`` (a dream: its store's directory, for the
  database and its ``-wal`` and ``-shm``), read-write, and those it names as ``readable``;
- a private, empty ``/tmp`` and a minimal ``/dev`` (null, zero, random, urandom, tty);
- an environment cleared to the mode, the locale, a ``PATH`` and the ``ONEIRO_``/``HF_`` settings.

Nothing else of the host filesystem exists inside, so its unix sockets (a Docker socket, an
ssh-agent, D-Bus under ``/run``) cannot be connected to, and no file outside ``writable`` can be
written. Two deliberate omissions: no ``/proc`` (the host's would lead through ``/proc/PID/root``
back to every other process's files; a private one needs a PID namespace) and no PID namespace
(the store records the dreaming process's pid to tell a live cycle from a crashed one, and a pid
from inside a namespace would name some other process outside). So a sandboxed child can still
send signals to processes of the same user. Sockets inside a directory bound into the sandbox stay
reachable even when the bind is read-only (Linux checks no mount flag on ``connect``): keep a
store in a directory of its own (the default state directory is).

There is no silent fallback: when bubblewrap is missing or cannot create namespaces here,
:func:`run_isolated` raises :class:`IsolationUnavailable` saying why; :func:`isolation_available`
answers the same question without running anything of the caller's.

How to run something isolated::

    from oneiro.isolation import run_isolated
    result = run_isolated("mypackage.dreams:nightly", "agent.db", kwargs={"depth": 2})

The target is ``"module:qualname"`` (or ``"module.function"``), or a module-level callable, which
is sent by that name: lambdas, closures and functions of ``__main__`` cannot be imported by the
child and are refused. Arguments and the return value travel as JSON. The child adopts the
caller's mode and cycle (it dreams if the caller does) from the environment before importing the
target: this module's :func:`child_main` is the one place outside ``config.py`` that reads the
environment, because the child has nothing else to inherit the mode from.

The channel between the two: the parent writes the call as the first line of the child's stdin,
then control lines (``{"wake": true}`` when its ``wake`` event is set; end of file when it goes
away, which the child takes as a wake-up too); the child writes message lines
(``{"message": ...}``, from :func:`child_send`, handed to the parent's ``on_message``) and last the
result line (``{"result": ...}``). A child's target learns of a wake-up through :func:`on_parent_wake`.
"""

from __future__ import annotations

import functools
import importlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from oneiro.errors import InvalidInput, IsolatedRunFailed, IsolationUnavailable
from oneiro.gate import CYCLE_ENV, MODE_ENV, adopt_mode, child_environment
from oneiro.model import Mode

#: bubblewrap's executable name (Debian/Ubuntu package ``bubblewrap``).
BWRAP = "bwrap"
#: Namespaces and lifetime: an empty network namespace (only a loopback of its own), private IPC
#: and host name, the cgroup view where the kernel allows it, and the child killed with its parent
#: in a session of its own (a terminal's Ctrl-C reaches the parent, which relays a wake-up).
BWRAP_FLAGS = (
    "--unshare-net",
    "--unshare-ipc",
    "--unshare-uts",
    "--unshare-cgroup-try",
    "--die-with-parent",
    "--new-session",
)
#: The system tree bound read-only; the classic top-level directories, bound or (merged /usr)
#: recreated as the same symbolic links.
SYSTEM_DIR = "/usr"
SYSTEM_LINKS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
#: Files of /etc the C library and Python read (dynamic linker, users, time zone, certificates);
#: nothing else of /etc is visible.
ETC_FILES = (
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
    "/etc/passwd",
    "/etc/group",
    "/etc/nsswitch.conf",
    "/etc/ssl/certs",
)
#: Environment a child keeps: the locale and time zone, and settings of the model libraries (read
#: by name prefix; oneiro's own settings travel with the call); everything else (tokens, SSH_AUTH_SOCK,
#: DBUS_SESSION_BUS_ADDRESS, DOCKER_HOST, ...) is cleared.
ENV_KEEP = ("LANG", "LANGUAGE", "TZ")
ENV_KEEP_PREFIXES = ("LC_", "HF_", "TRANSFORMERS_", "SENTENCE_TRANSFORMERS_", "OMP_", "MKL_")
#: Directories shared by many programs, never bound whole (see :func:`_shared`).
SHARED_DIRS = frozenset(
    {
        "/",
        "/tmp",
        "/var/tmp",
        "/run",
        "/var/run",
        "/dev",
        "/dev/shm",
        "/home",
        "/var",
        "/etc",
        "/mnt",
        "/media",
    }
)
CHILD_PATH = "/usr/local/bin:/usr/bin:/bin"
CHILD_HOME = "/tmp"
#: A dream's default wall-clock limit in a child (the config's default budget is 600 s of wall time).
DEFAULT_TIMEOUT_S = 600.0
#: The probe must finish quickly; namespace creation takes milliseconds when it works at all.
PROBE_TIMEOUT_S = 20.0
#: What the probe prints inside the sandbox: the names of its network interfaces (only ``lo``).
PROBE_CODE = "import socket; print(','.join(name for _, name in socket.if_nameindex()))"
CHILD_CODE = "from oneiro.isolation import child_main; child_main()"
#: Lines of the child's stderr quoted in an error.
STDERR_TAIL_LINES = 20
#: How often the parent looks at its wake event and the deadline while the child runs.
POLL_S = 0.05
#: After a Ctrl-C in the parent, how long the child has to stop at its next step boundary and
#: record that it was woken, before it is killed.
WAKE_GRACE_S = 30.0
WAKE_LINE = '{"wake": true}\n'
CONTROL_READ_BYTES = 4096
INSTALL_HINT = (
    "install bubblewrap (apt-get install -y bubblewrap) and make sure unprivileged user namespaces "
    "are allowed (sysctl user.max_user_namespaces > 0; kernel.unprivileged_userns_clone = 1 where it exists)"
)

Message = Callable[[dict[str, Any]], None]


@functools.cache
def isolation_available(executable: str = BWRAP) -> tuple[bool, str]:
    """Whether :func:`run_isolated` can work here, and why (or why not). Runs a tiny probe once."""
    path = shutil.which(executable)
    if path is None:
        return False, f"{executable!r} not found: {INSTALL_HINT}"
    try:
        probe = subprocess.run(
            [path, *sandbox_args(), "--", sys.executable, "-c", PROBE_CODE],
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT_S,
            check=False,
            env=child_env({}),
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"{path} could not start a sandbox: {exc}; {INSTALL_HINT}"
    if probe.returncode != 0:
        return False, f"{path} cannot create namespaces here: {probe.stderr.strip()}; {INSTALL_HINT}"
    interfaces = probe.stdout.strip().split(",")
    if interfaces != ["lo"]:
        return False, f"{path} ran, but the sandbox still sees network interfaces {interfaces}"
    return True, f"{path} --unshare-net works (the sandbox sees only its own loopback)"


def sandbox_args(
    writable: Iterable[str | Path] = (),
    readable: Iterable[str | Path] = (),
    *,
    tmp_bytes: int | None = None,
    extra_flags: Sequence[str] = (),
) -> list[str]:
    """bubblewrap arguments for a sandbox holding the system, Python and its code read-only,
    ``readable`` read-only, ``writable`` read-write, and nothing else (see the module doc).

    ``tmp_bytes`` caps the private /tmp (a tmpfs lives in memory: unbounded, a run could fill it);
    ``extra_flags`` are further namespace flags (``--unshare-pid`` for an experiment's run)."""
    args = [*BWRAP_FLAGS, *extra_flags, "--ro-bind", SYSTEM_DIR, SYSTEM_DIR]
    for link in SYSTEM_LINKS:
        if os.path.islink(link):
            args += ["--symlink", os.readlink(link), link]
        elif os.path.isdir(link):
            args += ["--ro-bind", link, link]
    for name in ETC_FILES:
        args += ["--ro-bind-try", name, name]
    args += ["--dev", "/dev"]
    args += [*(["--size", str(tmp_bytes)] if tmp_bytes is not None else []), "--tmpfs", "/tmp"]
    asked = [str(p) for p in writable]
    rw = _roots(asked)
    shared = [p for p in asked if _shared(p)]
    if shared:
        raise InvalidInput(
            f"{shared[0]} is shared with other programs (their sockets and files would be reachable "
            "from the sandbox); keep what an isolated run writes in a directory of its own",
            field="writable",
        )
    code = [p for p in python_paths() if not _shared(p)]
    ro = [p for p in _roots([*code, *readable]) if not _inside(p, [SYSTEM_DIR, *rw])]
    args += _traversable_parents([*ro, *rw])
    for path in ro:
        args += ["--ro-bind", path, path]
    for path in rw:
        args += ["--bind", path, path]
    # The sandbox's own root (where bubblewrap made the mount points) is read-only too, so that a
    # write can land nowhere but ``writable`` and the private /tmp.
    return [*args, "--remount-ro", "/", "--chdir", rw[0] if rw else "/tmp"]


def _traversable_parents(paths: Iterable[str]) -> list[str]:
    """Arguments that make, mode 0755, the directories of the private /tmp leading to ``paths``.

    bubblewrap makes a bound path's missing parents mode 0700, which a command dropped to an
    unprivileged uid cannot traverse: code in a checkout under /tmp (bound into the private /tmp)
    would then be out of its reach."""
    out: list[str] = []
    made: set[str] = set()
    for path in paths:
        parts = Path(os.path.realpath(path)).parts
        if len(parts) < 3 or parts[1] != "tmp":
            continue
        for depth in range(3, len(parts)):
            parent = str(Path(*parts[:depth]))
            if parent not in made:
                made.add(parent)
                out += ["--perms", "0755", "--dir", parent]
    return out


def child_env(extra: Mapping[str, str]) -> dict[str, str]:
    """The cleared environment of a sandboxed child (see ENV_KEEP), plus ``extra``."""
    kept = {k: v for k, v in os.environ.items() if k in ENV_KEEP or k.startswith(ENV_KEEP_PREFIXES)}
    # The parent's import path, so that the child's first import (of this module) finds the same
    # oneiro the parent runs, not another installed copy.
    path = os.pathsep.join(p for p in sys.path if p)
    return {"PATH": CHILD_PATH, "HOME": CHILD_HOME, "LANG": "C.UTF-8", **kept, "PYTHONPATH": path, **extra}


def python_paths() -> list[str]:
    """The interpreter and every import location, so the child can import what the parent can."""
    exe = os.path.realpath(sys.executable)
    found = [sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(os.path.dirname(exe))]
    found += [p for p in sys.path if p]
    return [p for p in found if os.path.exists(p) and os.path.realpath(p) != "/"]


def _shared(path: str) -> bool:
    """A directory many programs use (``/tmp``, ``/run``, a home directory, ...): binding it would
    bring their unix sockets and files into the sandbox. An import path that is one (a script's
    directory in /tmp) is left out; a writable one is refused."""
    real = os.path.realpath(path)
    home = os.path.realpath(os.path.expanduser("~"))
    return real in SHARED_DIRS or real == home or os.path.dirname(real) == "/home"


def _roots(paths: Iterable[str | Path]) -> list[str]:
    """Existing real paths, without any that lie inside another, shortest first (bind order)."""
    real = sorted({os.path.realpath(p) for p in paths if os.path.exists(p)}, key=len)
    out: list[str] = []
    for path in real:
        if path != "/" and not _inside(path, out):
            out.append(path)
    return out


def _inside(path: str, roots: Sequence[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


def run_isolated(
    target: str | Callable[..., Any],
    /,
    *args: Any,
    kwargs: Mapping[str, Any] | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
    executable: str = BWRAP,
    writable: Sequence[str | Path] = (),
    readable: Sequence[str | Path] = (),
    on_message: Message | None = None,
    wake: threading.Event | None = None,
) -> Any:
    """Run ``target(*args, **kwargs)`` in the sandbox; return its JSON result.

    ``writable`` and ``readable`` are the directories it may write and read besides the system
    and Python; ``on_message`` receives what the child sends with :func:`child_send`; setting
    ``wake`` (or a Ctrl-C in the parent) asks the child to stop through :func:`on_parent_wake`.

    Raises IsolationUnavailable when no sandbox can be made here (never runs the target
    unisolated), IsolatedRunFailed when the target fails, InvalidInput for a target that cannot be
    imported by name or arguments that are not JSON.
    """
    ok, why = isolation_available(executable)
    if not ok:
        raise IsolationUnavailable(f"cannot run {_target_name(target)} without network: {why}")
    prefix = [shutil.which(executable) or executable, *sandbox_args(writable, readable), "--"]
    channel = _Channel(on_message, wake)
    return _run_child(prefix, target, args, kwargs, timeout, child_env(child_environment()), channel)


def run_in_subprocess(
    target: str | Callable[..., Any],
    /,
    *args: Any,
    kwargs: Mapping[str, Any] | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
    on_message: Message | None = None,
    wake: threading.Event | None = None,
) -> Any:
    """Like :func:`run_isolated` but with the network and files as they are: the child still
    inherits the mode, so the gate holds in it; only the OS-level clamp is missing."""
    env = {**os.environ, **child_environment()}
    return _run_child([], target, args, kwargs, timeout, env, _Channel(on_message, wake))


class _Channel:
    """The parent's side of the pipes: messages in, wake-ups out, the result line kept."""

    def __init__(self, on_message: Message | None, wake: threading.Event | None) -> None:
        self.on_message = on_message
        self.wake = wake
        self.result: dict[str, Any] | None = None
        self.stderr: list[str] = []
        self.woken = False

    def read_stdout(self, stream: IO[str]) -> None:
        for line in stream:
            try:
                parsed = json.loads(line)
            except ValueError:
                continue
            if not isinstance(parsed, dict):
                continue
            if isinstance(parsed.get("result"), dict):
                self.result = parsed["result"]
            elif self.on_message is not None and isinstance(parsed.get("message"), dict):
                _deliver(self.on_message, parsed["message"])

    def read_stderr(self, stream: IO[str]) -> None:
        for line in stream:
            self.stderr.append(line.rstrip("\n"))
            del self.stderr[:-STDERR_TAIL_LINES]

    def send_wake(self, stdin: IO[str] | None) -> None:
        if self.woken or stdin is None:
            return
        self.woken = True
        try:
            stdin.write(WAKE_LINE)
            stdin.flush()
        except (OSError, ValueError):  # the child has gone already
            pass


def _deliver(on_message: Message, message: dict[str, Any]) -> None:
    try:
        on_message(message)
    except Exception:  # a broken display must not break the run
        return


def _run_child(
    prefix: list[str],
    target: str | Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any] | None,
    timeout: float,
    env: dict[str, str],
    channel: _Channel,
) -> Any:
    name = _target_name(target)
    try:
        spec = json.dumps(
            {"target": name, "args": list(args), "kwargs": dict(kwargs or {}), "path": sys.path}
        )
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"arguments of an isolated run must be JSON: {exc}") from exc
    proc = subprocess.Popen(
        [*prefix, sys.executable, "-c", CHILD_CODE],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    readers = [
        threading.Thread(target=channel.read_stdout, args=(proc.stdout,), daemon=True),
        threading.Thread(target=channel.read_stderr, args=(proc.stderr,), daemon=True),
    ]
    for reader in readers:
        reader.start()
    try:
        proc.stdin.write(spec + "\n")
        proc.stdin.flush()
        _wait(proc, channel, time.monotonic() + timeout, name, timeout)
    except KeyboardInterrupt:
        channel.send_wake(proc.stdin)
        _wait(proc, channel, time.monotonic() + WAKE_GRACE_S, name, WAKE_GRACE_S)
        raise
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        with _quiet():
            proc.stdin.close()
        for reader in readers:
            reader.join(timeout=PROBE_TIMEOUT_S)
    return _result(name, proc.returncode, channel)


def _wait(proc: subprocess.Popen[str], channel: _Channel, deadline: float, name: str, limit: float) -> None:
    while True:
        try:
            proc.wait(timeout=POLL_S)
            return
        except subprocess.TimeoutExpired:
            pass
        if channel.wake is not None and channel.wake.is_set():
            channel.send_wake(proc.stdin)
        if time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            raise IsolatedRunFailed(f"{name} did not finish within {limit:g} s and was killed")


class _quiet:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return exc[0] is not None and issubclass(exc[0], (OSError, ValueError))  # type: ignore[arg-type]


def _result(name: str, returncode: int, channel: _Channel) -> Any:
    tail = "\n".join(channel.stderr)
    outcome = channel.result
    if outcome is None:
        raise IsolatedRunFailed(f"{name} exited with status {returncode} and no result:\n{tail}")
    if not outcome.get("ok"):
        raise IsolatedRunFailed(f"{name} raised {outcome.get('error')}: {outcome.get('message')}")
    return outcome.get("value")


def _target_name(target: str | Callable[..., Any]) -> str:
    if isinstance(target, str):
        if not target or target.startswith((".", ":")) or target.count(":") > 1:
            raise InvalidInput(f"target must look like 'package.module:function', got {target!r}")
        return target
    module, qualname = getattr(target, "__module__", None), getattr(target, "__qualname__", "")
    if not module or module == "__main__" or "<" in qualname:
        raise InvalidInput(
            f"{target!r} cannot be imported by name in a child process; pass a module-level function "
            "of an importable module, or its 'module:function' path"
        )
    return f"{module}:{qualname}"


def resolve(name: str) -> Callable[..., Any]:
    """Import ``"module:qualname"`` or ``"module.function"`` and return the callable it names."""
    module_name, _, qualname = name.partition(":") if ":" in name else name.rpartition(".")
    obj: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    if not callable(obj):
        raise InvalidInput(f"{name} is not callable")
    return obj  # type: ignore[no-any-return]


# -- the child's side -----------------------------------------------------------------------------
class _ChildChannel:
    """Set up by :func:`child_main`: the result stream, and the wake-up callbacks."""

    def __init__(self, out: IO[str]) -> None:
        self.out = out
        self.lock = threading.Lock()
        self.on_wake: list[Callable[[], None]] = []
        self.woken = threading.Event()

    def write(self, obj: dict[str, Any]) -> None:
        line = json.dumps(obj, default=str) + "\n"
        with self.lock:
            self.out.write(line)
            self.out.flush()

    def listen(self, fd: int, pending: bytes) -> None:
        """Read control lines from ``fd`` until end of file; a wake line or the end wakes the
        target. Raw reads on a file descriptor: a buffered stream's lock, held by a blocked read
        in this daemon thread, would hang the interpreter's shutdown."""
        buffer = pending
        while WAKE_LINE.encode() not in buffer:
            chunk = os.read(fd, CONTROL_READ_BYTES)
            if not chunk:
                break
            buffer = buffer[-len(WAKE_LINE) :] + chunk
        self.woken.set()
        for callback in list(self.on_wake):
            with _quiet():
                callback()


def _read_line(fd: int) -> tuple[bytes, bytes]:
    """The first line from ``fd`` and whatever was read after it."""
    data = b""
    while b"\n" not in data:
        chunk = os.read(fd, CONTROL_READ_BYTES)
        if not chunk:
            break
        data += chunk
    line, _, rest = data.partition(b"\n")
    return line, rest


_CHILD: _ChildChannel | None = None


def child_send(message: dict[str, Any]) -> None:
    """Send ``message`` (JSON) to the parent's ``on_message``; nothing outside an isolated child."""
    if _CHILD is not None:
        _CHILD.write({"message": message})


def on_parent_wake(callback: Callable[[], None]) -> None:
    """Call ``callback`` (from a helper thread) when the parent asks the child to stop, or goes
    away; at once when that has already happened. Nothing outside an isolated child."""
    if _CHILD is None:
        return
    _CHILD.on_wake.append(callback)
    if _CHILD.woken.is_set():
        callback()


def child_main() -> None:
    """The child's entry point: adopt the parent's mode, run the target, print one JSON line.

    The target's own prints go to stderr, so stdout carries nothing but messages and the result.
    """
    global _CHILD
    mode_value = os.environ.get(MODE_ENV)
    # Erring closed: anything but an explicit "awake" from the parent means dreaming.
    mode = Mode.AWAKE if mode_value in (None, Mode.AWAKE.value) else Mode.DREAM
    adopt_mode(mode, os.environ.get(CYCLE_ENV))
    result_fd = os.dup(1)
    os.dup2(2, 1)
    with os.fdopen(result_fd, "w", encoding="utf-8") as out:
        _CHILD = _ChildChannel(out)
        line, rest = _read_line(0)
        spec = json.loads(line)
        threading.Thread(target=_CHILD.listen, args=(0, rest), daemon=True).start()
        _CHILD.write({"result": _run_spec(spec)})


def _run_spec(spec: dict[str, Any]) -> dict[str, Any]:
    for entry in reversed(spec.get("path", [])):
        if entry not in sys.path:
            sys.path.insert(0, entry)
    try:
        value = resolve(spec["target"])(*spec.get("args", []), **spec.get("kwargs", {}))
        return {"ok": True, "value": json.loads(json.dumps(value))}
    except Exception as exc:
        return {"ok": False, "error": type(exc).__name__, "message": str(exc)}
