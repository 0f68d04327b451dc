"""An experiment: code a hypothesis carries, as data, with the rule that says whether a variant of
it is viable.

An :class:`Experiment` names a workspace (a folder), the command that exercises it, the command
that tests it, the parameters of the proven solution and a :class:`Viability` rule over named
metrics of :class:`Telemetry` (``peak_memory``, ``wall_time``, ``cpu_time``): each :class:`Rule`
says how much better a variant must be than the baseline, measured in the same sandbox on the
same snapshot. A rule naming a metric that does not exist is refused when the experiment is
built, before anything runs, so a typo never makes every variant silently "viable".

The variant's parameters reach the command as a JSON file (:data:`PARAMS_FILE`) written into the
snapshot, never into the workspace.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from oneiro.errors import InvalidInput

#: The file, at the root of a run's snapshot, holding the parameters the run is made with.
PARAMS_FILE = "oneiro_params.json"
#: Metrics a viability rule may name, each read from a run's telemetry (lower is better for all).
METRICS = ("peak_memory", "wall_time", "cpu_time")


@dataclass(frozen=True)
class Telemetry:
    """What one sandboxed run of a command measured.

    ``status`` is the exit status (negative: killed by that signal); ``killed`` names the limit
    that stopped it (``wall_time``) or is None; ``peak_memory`` is the largest resident set of the
    run's processes in bytes (the child's rusage); times are in seconds; the digests are SHA-256
    of the run's whole standard output and error.
    """

    status: int
    killed: str | None
    wall_time: float
    cpu_time: float
    peak_memory: int
    stdout_sha256: str
    stderr_sha256: str
    stderr_tail: str = ""

    @property
    def ok(self) -> bool:
        return self.status == 0 and self.killed is None

    def metric(self, name: str) -> float:
        if name not in METRICS:
            raise InvalidInput(f"unknown metric {name!r}; known: {', '.join(METRICS)}", field="metric")
        return float(getattr(self, name))

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "killed": self.killed,
            "wall_time": round(self.wall_time, 6),
            "cpu_time": round(self.cpu_time, 6),
            "peak_memory": self.peak_memory,
            "stdout_sha256": self.stdout_sha256,
            "stderr_sha256": self.stderr_sha256,
        }


@dataclass(frozen=True)
class Rule:
    """``metric`` of the variant must be at most ``1 - min_gain`` times the baseline's
    (``min_gain=0.2`` on ``peak_memory``: at least 20% less peak memory)."""

    metric: str
    min_gain: float

    def __post_init__(self) -> None:
        if self.metric not in METRICS:
            raise InvalidInput(
                f"viability rule names unknown metric {self.metric!r}; known: {', '.join(METRICS)}",
                field="metric",
            )
        if not -1.0 < self.min_gain < 1.0:
            raise InvalidInput(f"min_gain must lie in (-1, 1), got {self.min_gain!r}", field="min_gain")

    def gain(self, baseline: Telemetry, variant: Telemetry) -> float:
        base = baseline.metric(self.metric)
        return 0.0 if base <= 0 else 1.0 - variant.metric(self.metric) / base

    def holds(self, baseline: Telemetry, variant: Telemetry) -> bool:
        return self.gain(baseline, variant) >= self.min_gain


@dataclass(frozen=True)
class Viability:
    """Every rule holds and (when ``tests_pass``) the variant's tests pass in its snapshot."""

    rules: tuple[Rule, ...]
    tests_pass: bool = True

    @classmethod
    def of(cls, rules: Mapping[str, float], tests_pass: bool = True) -> Viability:
        return cls(tuple(Rule(m, g) for m, g in sorted(rules.items())), tests_pass)

    def reasons(self, baseline: Telemetry, variant: Telemetry, tests: Telemetry | None) -> list[str]:
        """Why the variant is not viable; empty when it is."""
        why: list[str] = []
        if not variant.ok:
            why.append(f"command failed (status {variant.status}, killed by {variant.killed})")
        if self.tests_pass and (tests is None or not tests.ok):
            why.append("tests failed" if tests is not None else "tests did not run")
        for rule in self.rules:
            if not rule.holds(baseline, variant):
                why.append(f"{rule.metric} gain {rule.gain(baseline, variant):.1%} < {rule.min_gain:.0%}")
        return why

    def to_json(self) -> dict[str, Any]:
        return {"rules": {r.metric: r.min_gain for r in self.rules}, "tests_pass": self.tests_pass}


@dataclass(frozen=True)
class Experiment:
    """A workspace, its command and tests (argument vectors run with the snapshot as working
    directory), the proven solution's ``params`` and the values each may take (``space``)."""

    workspace: Path
    command: tuple[str, ...]
    tests: tuple[str, ...]
    viability: Viability
    params: Mapping[str, Any] = field(default_factory=dict)
    space: Mapping[str, Sequence[Any]] = field(default_factory=dict)
    #: How to search inputs on which two variants disagree (:mod:`oneiro.sandbox.achilles`).
    achilles: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        if not self.command:
            raise InvalidInput("an experiment needs a command", field="command")
        unknown = sorted(set(self.space) - set(self.params))
        if unknown:
            raise InvalidInput(
                f"space names parameters the solution does not record: {unknown}", field="space"
            )

    def to_json(self) -> dict[str, Any]:
        return {
            "workspace": str(self.workspace),
            "command": list(self.command),
            "tests": list(self.tests),
            "viability": self.viability.to_json(),
            "params": dict(self.params),
            "space": {k: list(v) for k, v in self.space.items()},
            **({"achilles": dict(self.achilles)} if self.achilles is not None else {}),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Experiment:
        """Read an experiment from an entry's data; malformed data is InvalidInput."""
        try:
            via = data["viability"]
            return cls(
                workspace=Path(str(data["workspace"])),
                command=tuple(str(a) for a in data["command"]),
                tests=tuple(str(a) for a in data.get("tests", ())),
                viability=Viability.of(
                    {str(k): float(v) for k, v in via.get("rules", {}).items()},
                    bool(via.get("tests_pass", True)),
                ),
                params=dict(data.get("params", {})),
                space={str(k): list(v) for k, v in data.get("space", {}).items()},
                achilles=dict(data["achilles"]) if data.get("achilles") is not None else None,
            )
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise InvalidInput(f"malformed experiment: {exc!r}", field="experiment") from exc
