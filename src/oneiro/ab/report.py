"""How a harness result reads: one table per run, then every comparison and the goals' verdicts."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from oneiro.ab.harness import GOAL_RATIO, METRICS, STRONG_GOAL_RATIO

LABELS = {"regret": "regret", "adaptation": "adapt (steps)", "drawdown": "drawdown", "sharpe": "sharpe"}


def _ci(stat: dict[str, float]) -> str:
    return f"{stat['mean']:.2f} [{stat['low']:.2f}, {stat['high']:.2f}]"


def print_result(console: Console, result: dict[str, Any]) -> None:
    """The per-condition table (mean and 95% CI over seeds), then each paired comparison."""
    config = result["config"]
    table = Table(
        title=f"oneiro ab ({config['task']} task): seeds {config['first_seed']}.."
        f"{config['first_seed'] + config['seeds'] - 1} x {config['steps']} steps, "
        f"dream every {config['dream_every']} steps, reads {'+'.join(config['reads']) or '-'}, "
        f"strong estimator discount {config['discount']} bins {config['bins']}"
        + (f", without {'+'.join(config['disabled'])}" if config.get("disabled") else "")
        + f" ({config['embedder']} embedder); mean [95% CI] over seeds"
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
    if "degenerate" in result:
        console.print(f"DEGENERATE: {result['degenerate']}")
    comparison = result.get("comparison") or {}
    for name, pair in comparison.get("pairs", {}).items():
        diffs = ", ".join(f"{LABELS[m]} {_ci(pair[m])} p={pair[m]['p']:.3g}" for m in shown if m in pair)
        console.print(f"{name}: regret ratio {_ci(pair['regret_ratio'])}; differences: {diffs}")
    for key, target in (("goal", GOAL_RATIO), ("strong_goal", STRONG_GOAL_RATIO)):
        goal = comparison.get(key)
        if goal:
            verdict = "met" if goal["met"] else "NOT met"
            console.print(f"{key.replace('_', ' ')} (ratio <= {target}, <= sw-ucb): {verdict}")
    for name, cond in result["conditions"].items():
        activity = cond.get("activity", {})
        if activity.get("dreams"):
            console.print(
                f"{name}: {activity['dreams']} dreams, entries by kind {activity.get('entry_kinds', {})}, "
                f"corrections folded {activity.get('corrections_folded', 0)}, summaries used "
                f"{activity.get('summaries_used', 0)}, "
                f"explorations from a mix {activity.get('mix_explorations', 0)}"
            )


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
