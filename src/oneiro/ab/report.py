"""How a harness result reads: one table per run, then the twin comparison and the goal's verdict."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from oneiro.ab.harness import GOAL_RATIO, METRICS

LABELS = {"regret": "regret", "adaptation": "adapt (steps)", "drawdown": "drawdown"}


def _ci(stat: dict[str, float]) -> str:
    return f"{stat['mean']:.2f} [{stat['low']:.2f}, {stat['high']:.2f}]"


def print_result(console: Console, result: dict[str, Any]) -> None:
    """The per-condition table (mean and 95% CI over seeds), then the dream-vs-no-dream lines."""
    config = result["config"]
    table = Table(
        title=f"oneiro ab: {config['seeds']} seeds x {config['steps']} steps, "
        f"dream every {config['dream_every']} steps, reads {'+'.join(config['reads']) or '-'} "
        f"({config['embedder']} embedder); "
        "mean [95% CI] over seeds"
    )
    table.add_column("condition")
    shown = [m for m in METRICS if any(m in c["summary"] for c in result["conditions"].values())]
    for metric in shown:
        table.add_column(LABELS[metric], justify="right")
    table.add_column("seconds", justify="right")
    for name, cond in result["conditions"].items():
        cells = [_ci(cond["summary"][m]) if m in cond["summary"] else "-" for m in shown]
        table.add_row(name, *cells, f"{cond['seconds']:.1f}")
    console.print(table)
    comparison = result.get("comparison") or {}
    if not comparison:
        return
    for metric in shown:
        key = f"{metric}_difference"
        if key in comparison:
            console.print(f"dream - no-dream {LABELS[metric]}: {_ci(comparison[key])}")
    console.print(f"regret ratio dream / no-dream: {_ci(comparison['regret_ratio'])} (goal <= {GOAL_RATIO})")
    if "regret_ratio_vs_sw_ucb" in comparison:
        console.print(f"regret ratio dream / sw-ucb: {_ci(comparison['regret_ratio_vs_sw_ucb'])} (goal <= 1)")
    activity = result["conditions"].get("dream", {}).get("activity", {})
    if activity:
        console.print(
            f"dream twin: {activity.get('dreams', 0)} dreams, "
            f"entries by kind {activity.get('entry_kinds', {})}, "
            f"corrections folded {activity.get('corrections_folded', 0)}, "
            f"summaries used {activity.get('summaries_used', 0)}"
        )
    operations = activity.get("dream_operations", {})
    if operations:
        ran = ", ".join(f"{phase}: {'+'.join(ops) or '-'}" for phase, ops in operations.items())
        console.print(f"dream operations: {ran}")
    verdict = "met" if comparison["goal"]["met"] else "NOT met"
    console.print(f"goal: {verdict}")


def git_commit(root: Path | None = None) -> str | None:
    """The working tree's commit, or None outside a git checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def write_json(result: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, sort_keys=False) + "\n", encoding="utf-8")
