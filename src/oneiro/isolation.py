"""Atonia at the OS level: run dream work in a child process that has no network.

The gate refuses effectful pipelines at dispatch, but it trusts each pipeline's declared class. A
pipeline that lies ("pure", yet it POSTs) is stopped here instead: :func:`run_isolated` runs a
callable in a subprocess inside a fresh, empty network namespace (bubblewrap ``--unshare-net``), so
nothing it does can reach another host, nor a server on the parent's ``127.0.0.1``. The filesystem
is bound read-write as it is (the dream must still write its store); limiting files is the
sandbox's job, not this module's.

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
"""

from __future__ import annotations

import functools
import importlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from typing import Any

from oneiro.errors import InvalidInput, IsolatedRunFailed, IsolationUnavailable
from oneiro.gate import CYCLE_ENV, MODE_ENV, adopt_mode, child_environment
from oneiro.model import Mode

#: bubblewrap's executable name (Debian/Ubuntu package ``bubblewrap``).
BWRAP = "bwrap"
#: bubblewrap flags: an empty network namespace (only a loopback of its own), the host filesystem as
#: it is, and the child killed with its parent so a cancelled dream leaves nothing running.
BWRAP_FLAGS = ("--unshare-net", "--die-with-parent", "--new-session", "--bind", "/", "/", "--dev", "/dev")
#: A dream's default wall-clock limit in a child (the config's default budget is 600 s of wall time).
DEFAULT_TIMEOUT_S = 600.0
#: The probe must finish quickly; namespace creation takes milliseconds when it works at all.
PROBE_TIMEOUT_S = 20.0
#: What the probe prints inside the sandbox: the names of its network interfaces (only ``lo``).
PROBE_CODE = "import socket; print(','.join(name for _, name in socket.if_nameindex()))"
CHILD_CODE = "from oneiro.isolation import child_main; child_main()"
#: Lines of the child's stderr quoted in an error.
STDERR_TAIL_LINES = 20
INSTALL_HINT = (
    "install bubblewrap (apt-get install -y bubblewrap) and make sure unprivileged user namespaces "
    "are allowed (sysctl user.max_user_namespaces > 0; kernel.unprivileged_userns_clone = 1 where it exists)"
)


@functools.cache
def isolation_available(executable: str = BWRAP) -> tuple[bool, str]:
    """Whether :func:`run_isolated` can work here, and why (or why not). Runs a tiny probe once."""
    path = shutil.which(executable)
    if path is None:
        return False, f"{executable!r} not found: {INSTALL_HINT}"
    try:
        probe = subprocess.run(
            [path, *BWRAP_FLAGS, "--", sys.executable, "-c", PROBE_CODE],
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"{path} could not start a sandbox: {exc}; {INSTALL_HINT}"
    if probe.returncode != 0:
        return False, f"{path} cannot create namespaces here: {probe.stderr.strip()}; {INSTALL_HINT}"
    interfaces = probe.stdout.strip().split(",")
    if interfaces != ["lo"]:
        return False, f"{path} ran, but the sandbox still sees network interfaces {interfaces}"
    return True, f"{path} --unshare-net works (the sandbox sees only its own loopback)"


def run_isolated(
    target: str | Callable[..., Any],
    /,
    *args: Any,
    kwargs: Mapping[str, Any] | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
    executable: str = BWRAP,
) -> Any:
    """Run ``target(*args, **kwargs)`` in a subprocess without network; return its JSON result.

    Raises IsolationUnavailable when no network-less sandbox can be made here (never runs the
    target unisolated), IsolatedRunFailed when the target fails, InvalidInput for a target that
    cannot be imported by name or arguments that are not JSON.
    """
    ok, why = isolation_available(executable)
    if not ok:
        raise IsolationUnavailable(f"cannot run {_target_name(target)} without network: {why}")
    prefix = [shutil.which(executable) or executable, *BWRAP_FLAGS, "--"]
    return _run_child(prefix, target, args, kwargs, timeout)


def run_in_subprocess(
    target: str | Callable[..., Any],
    /,
    *args: Any,
    kwargs: Mapping[str, Any] | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> Any:
    """Like :func:`run_isolated` but with the network as it is: the child still inherits the mode,
    so the gate holds in it; only the OS-level clamp is missing."""
    return _run_child([], target, args, kwargs, timeout)


def _run_child(
    prefix: list[str],
    target: str | Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any] | None,
    timeout: float,
) -> Any:
    name = _target_name(target)
    try:
        spec = json.dumps(
            {"target": name, "args": list(args), "kwargs": dict(kwargs or {}), "path": sys.path}
        )
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"arguments of an isolated run must be JSON: {exc}") from exc
    env = {**os.environ, **child_environment()}
    try:
        done = subprocess.run(
            [*prefix, sys.executable, "-c", CHILD_CODE],
            input=spec,
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise IsolatedRunFailed(f"{name} did not finish within {timeout:g} s and was killed") from exc
    return _result(name, done)


def _result(name: str, done: subprocess.CompletedProcess[str]) -> Any:
    tail = "\n".join(done.stderr.strip().splitlines()[-STDERR_TAIL_LINES:])
    try:
        outcome = json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        raise IsolatedRunFailed(
            f"{name} exited with status {done.returncode} and no result:\n{tail}"
        ) from None
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


def child_main() -> None:
    """The child's entry point: adopt the parent's mode, run the target, print one JSON line.

    The target's own prints go to stderr, so stdout carries nothing but the result.
    """
    mode_value = os.environ.get(MODE_ENV)
    # Erring closed: anything but an explicit "awake" from the parent means dreaming.
    mode = Mode.AWAKE if mode_value in (None, Mode.AWAKE.value) else Mode.DREAM
    adopt_mode(mode, os.environ.get(CYCLE_ENV))
    result_fd = os.dup(1)
    os.dup2(2, 1)
    with os.fdopen(result_fd, "w", encoding="utf-8") as out:
        out.write(json.dumps(_run_spec(json.loads(sys.stdin.read()))) + "\n")


def _run_spec(spec: dict[str, Any]) -> dict[str, Any]:
    for entry in reversed(spec.get("path", [])):
        if entry not in sys.path:
            sys.path.insert(0, entry)
    try:
        value = resolve(spec["target"])(*spec.get("args", []), **spec.get("kwargs", {}))
        return {"ok": True, "value": json.loads(json.dumps(value))}
    except Exception as exc:
        return {"ok": False, "error": type(exc).__name__, "message": str(exc)}
