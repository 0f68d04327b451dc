"""Judge variants of an experiment against its baseline, each on a fresh snapshot of the same
workspace state, and prove the workspace untouched afterwards.

A run is: snapshot the workspace, write the run's parameters into the snapshot
(:data:`~oneiro.sandbox.experiment.PARAMS_FILE`), run the command, then the tests, in that snapshot,
under the sandbox (:mod:`oneiro.sandbox.runner`); the snapshot is then thrown away. The baseline
is the proven solution's own parameters; it must itself run and pass its tests (else there is
nothing to compare with, and :class:`SandboxError` says which part failed). Each variant is
judged by the experiment's :class:`~oneiro.sandbox.experiment.Viability` rule.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from oneiro.isolation import BWRAP
from oneiro.sandbox.experiment import PARAMS_FILE, Experiment, Telemetry
from oneiro.sandbox.runner import (
    Limits,
    SandboxBreach,
    SandboxError,
    check_workspace,
    give_to_child,
    require_sandbox,
    run_sandboxed,
    snapshot,
    snapshot_method,
    workspace_digest,
)


@dataclass(frozen=True)
class Trial:
    """One run of the experiment with ``params``: the command's and the tests' telemetry."""

    params: Mapping[str, Any]
    run: Telemetry
    tests: Telemetry | None

    def to_json(self) -> dict[str, Any]:
        return {
            "params": dict(self.params),
            "run": self.run.to_json(),
            "tests": None if self.tests is None else self.tests.to_json(),
        }


@dataclass(frozen=True)
class Verdict:
    """A variant's trial and why it is not viable (``reasons`` empty: it survives)."""

    trial: Trial
    reasons: tuple[str, ...]
    gains: Mapping[str, float] = field(default_factory=dict)

    @property
    def viable(self) -> bool:
        return not self.reasons


@dataclass(frozen=True)
class Comparison:
    baseline: Trial
    verdicts: tuple[Verdict, ...]
    workspace_sha256: str
    snapshot_method: str


def trial(
    experiment: Experiment, params: Mapping[str, Any], limits: Limits, executable: str = BWRAP
) -> Trial:
    """Run the command, then the tests, with ``params`` on one fresh snapshot."""
    with snapshot(experiment.workspace, limits) as scratch:
        target = scratch / "ws" / PARAMS_FILE
        target.write_text(json.dumps(dict(params), sort_keys=True), encoding="utf-8")
        give_to_child(target)
        run = run_sandboxed(scratch, experiment.command, limits, executable, tag="run")
        tests = None
        if experiment.tests and run.ok:
            tests = run_sandboxed(scratch, experiment.tests, limits, executable, tag="tests")
        return Trial(params=dict(params), run=run, tests=tests)


def compare(
    experiment: Experiment,
    variants: Sequence[Mapping[str, Any]],
    limits: Limits | None = None,
    executable: str = BWRAP,
) -> Comparison:
    """The baseline's trial and a verdict per variant. Raises IsolationUnavailable without
    bubblewrap, InvalidInput for a missing workspace, SandboxError when the baseline itself fails,
    SandboxBreach if the workspace changed (checked after every trial)."""
    limits = limits or Limits()
    require_sandbox(executable)
    workspace = check_workspace(experiment.workspace)
    before = workspace_digest(workspace)

    def checked(params: Mapping[str, Any]) -> Trial:
        try:
            return trial(experiment, params, limits, executable)
        finally:
            if workspace_digest(workspace) != before:
                raise SandboxBreach(f"workspace {workspace} changed during a sandboxed run")

    base = checked(experiment.params)
    if not base.run.ok:
        raise SandboxError(
            f"the baseline command failed (status {base.run.status}, killed by {base.run.killed}): "
            f"{base.run.stderr_tail.strip()[-300:]}"
        )
    if experiment.tests and (base.tests is None or not base.tests.ok):
        assert base.tests is not None
        raise SandboxError(
            f"the baseline's tests failed (status {base.tests.status}, killed by {base.tests.killed})"
        )
    verdicts = []
    for params in variants:
        t = checked(params)
        reasons = experiment.viability.reasons(base.run, t.run, t.tests if experiment.tests else base.run)
        gains = {r.metric: round(r.gain(base.run, t.run), 4) for r in experiment.viability.rules}
        verdicts.append(Verdict(trial=t, reasons=tuple(reasons), gains=gains))
    return Comparison(base, tuple(verdicts), before, snapshot_method())
