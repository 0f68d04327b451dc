"""Achilles tests: inputs chosen to make two competing variants disagree.

Two variants that both pass the experiment's tests may still differ on inputs the tests never
tried. Given the experiment's entry function (``"module:function"`` inside the workspace), the
strategies of its inputs and the parameters the variants differ by, a hypothesis search runs
inside the sandbox (one run, on a snapshot: the variants' code is never imported by this
process) for inputs where the two return different values or one raises. Hypothesis shrinks what
it finds, so the first case is a minimal one. The search is derandomized: the same variants give
the same cases, so an operation that uses it stays a pure function of its inputs.

The cases come back as data; :func:`regression_test` renders them as a pytest module, kept beside
the experiment (never inside its workspace, which stays byte-identical).

An :class:`AchillesSpec` in an experiment's data::

    {"function": "program:squares_total", "inputs": {"n": ["integers", 0, 20000]},
     "params": ["strategy", "chunk"]}

Input strategies: ``["integers", lo, hi]``, ``["floats", lo, hi]``, ``["booleans"]``,
``["text", max_size]``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from oneiro.errors import InvalidInput
from oneiro.isolation import BWRAP
from oneiro.sandbox.experiment import Experiment
from oneiro.sandbox.runner import (
    Limits,
    SandboxBreach,
    SandboxError,
    check_workspace,
    give_to_child,
    require_sandbox,
    run_sandboxed,
    snapshot,
    workspace_digest,
)

STRATEGIES = ("integers", "floats", "booleans", "text")
#: Examples hypothesis tries per search, and disagreeing cases kept.
MAX_EXAMPLES = 300
MAX_CASES = 5
SPEC_FILE = "oneiro_achilles.json"
DRIVER_FILE = "oneiro_achilles.py"
DRIVER = """\
import importlib, json
from hypothesis import HealthCheck, given, settings, strategies as st

spec = json.load(open("oneiro_achilles.json"))
module, _, name = spec["function"].partition(":")
fn = getattr(importlib.import_module(module), name)
MAKE = {
    "integers": lambda lo, hi: st.integers(lo, hi),
    "floats": lambda lo, hi: st.floats(lo, hi, allow_nan=False),
    "booleans": st.booleans,
    "text": lambda n: st.text(max_size=n),
}
found = []

def outcome(params, kw):
    try:
        return ["value", repr(fn(**kw, **params))]
    except Exception as exc:
        return ["raised", type(exc).__name__]

@settings(max_examples=spec["max_examples"], database=None, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(st.fixed_dictionaries({k: MAKE[v[0]](*v[1:]) for k, v in sorted(spec["inputs"].items())}))
def search(kw):
    a, b = outcome(spec["a"], kw), outcome(spec["b"], kw)
    if a != b:
        found.append({"input": kw, "a": a, "b": b})
        raise AssertionError("disagree")

try:
    search()
except AssertionError:
    pass
cases, seen = [], set()
for case in reversed(found):  # the last failing call is hypothesis's shrunk, minimal case
    key = json.dumps(case["input"], sort_keys=True)
    if key not in seen and len(cases) < spec["max_cases"]:
        seen.add(key)
        cases.append(case)
print(json.dumps(cases))
"""


@dataclass(frozen=True)
class AchillesSpec:
    function: str
    inputs: Mapping[str, Sequence[Any]]
    params: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.function.count(":") != 1:
            raise InvalidInput(f"function must be 'module:function', got {self.function!r}", field="function")
        for name, strategy in self.inputs.items():
            if not strategy or strategy[0] not in STRATEGIES:
                raise InvalidInput(
                    f"input {name!r}: strategy must start with one of {', '.join(STRATEGIES)}", field="inputs"
                )

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AchillesSpec:
        try:
            return cls(
                str(data["function"]),
                {str(k): list(v) for k, v in data["inputs"].items()},
                tuple(str(p) for p in data.get("params", ())),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise InvalidInput(f"malformed achilles spec: {exc!r}", field="achilles") from exc


def disagreements(
    experiment: Experiment,
    spec: AchillesSpec,
    a: Mapping[str, Any],
    b: Mapping[str, Any],
    limits: Limits | None = None,
    executable: str = BWRAP,
) -> list[dict[str, Any]]:
    """Inputs (at most :data:`MAX_CASES`, a minimal one first) on which the variants with
    parameters ``a`` and ``b`` disagree; empty when the search found none."""
    limits = limits or Limits()
    require_sandbox(executable)
    workspace = check_workspace(experiment.workspace)
    before = workspace_digest(workspace)
    call = {
        "function": spec.function,
        "inputs": dict(spec.inputs),
        "a": {k: a[k] for k in spec.params if k in a},
        "b": {k: b[k] for k in spec.params if k in b},
        "max_examples": MAX_EXAMPLES,
        "max_cases": MAX_CASES,
    }
    try:
        with snapshot(workspace, limits) as scratch:
            for name, text in ((SPEC_FILE, json.dumps(call)), (DRIVER_FILE, DRIVER)):
                (scratch / "ws" / name).write_text(text, encoding="utf-8")
                give_to_child(scratch / "ws" / name)
            run = run_sandboxed(scratch, (sys.executable, DRIVER_FILE), limits, executable, tag="achilles")
            out = (scratch / "out" / "achilles.stdout").read_text(encoding="utf-8")
    finally:
        if workspace_digest(workspace) != before:
            raise SandboxBreach(f"workspace {workspace} changed during an Achilles search")
    if not run.ok:
        raise SandboxError(
            f"the Achilles search failed (status {run.status}): {run.stderr_tail.strip()[-300:]}"
        )
    try:
        cases = json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError) as exc:
        raise SandboxError(f"the Achilles search printed no result: {exc}") from exc
    return list(cases)


def regression_test(spec: AchillesSpec, a: Mapping[str, Any], cases: Sequence[Mapping[str, Any]]) -> str:
    """A pytest module pinning, for each disagreeing input, the output of variant ``a`` (the one
    chosen to keep): a later change that flips one of them fails."""
    module, _, name = spec.function.partition(":")
    params = {k: a[k] for k in spec.params if k in a}
    rows = [(dict(c["input"]), list(c["a"])) for c in cases]
    return (
        f'"""Achilles regression tests for {spec.function}: '
        'inputs on which competing variants disagreed."""\n\n'
        "import pytest\n\n"
        f"from {module} import {name}\n\n"
        f"PARAMS = {params!r}\n"
        f"CASES = {rows!r}\n\n\n"
        '@pytest.mark.parametrize("kwargs, expected", CASES)\n'
        "def test_kept_variant_answers_as_recorded(kwargs, expected):\n"
        "    kind, value = expected\n"
        "    if kind == 'raised':\n"
        "        with pytest.raises(Exception) as info:\n"
        f"            {name}(**kwargs, **PARAMS)\n"
        "        assert type(info.value).__name__ == value\n"
        "    else:\n"
        f"        assert repr({name}(**kwargs, **PARAMS)) == value\n"
    )
