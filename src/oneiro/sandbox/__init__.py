"""Experiments in a sandbox: a hypothesis that carries code is run isolated, measured against its
baseline on the same snapshot, and pruned or staged; the workspace is never changed.

- :mod:`oneiro.sandbox.experiment`: the experiment as data, its telemetry and viability rule;
- :mod:`oneiro.sandbox.runner`: the snapshot and the bubblewrap run with limits;
- :mod:`oneiro.sandbox.lab`: baseline against variants.
"""

from oneiro.sandbox.experiment import METRICS, PARAMS_FILE, Experiment, Rule, Telemetry, Viability
from oneiro.sandbox.lab import Comparison, Trial, Verdict, compare, trial
from oneiro.sandbox.runner import Limits, SandboxBreach, SandboxError, snapshot_method, workspace_digest

__all__ = [
    "METRICS",
    "PARAMS_FILE",
    "Comparison",
    "Experiment",
    "Limits",
    "Rule",
    "SandboxBreach",
    "SandboxError",
    "Telemetry",
    "Trial",
    "Verdict",
    "Viability",
    "compare",
    "snapshot_method",
    "trial",
    "workspace_digest",
]
