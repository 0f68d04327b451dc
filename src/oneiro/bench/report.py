"""Aggregation and presentation: per-item scores into per-condition tables, the provenance every
result file carries, and the short table printed at the end of a run."""

from __future__ import annotations

import json
import subprocess
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

import oneiro
from oneiro.bench.data import sha256_file
from oneiro.bench.metrics import mean, percentile
from oneiro.config import Config, to_dict

#: Latency percentiles reported for every condition.
LATENCY_PERCENTILES = (50, 95)
#: Decimal places kept for fractions in result files: finer than any difference a 1k-item dev set
#: can resolve.
DIGITS = 4


def average(rows: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """Mean of each metric over ``rows`` (every row has the same keys)."""
    if not rows:
        return {}
    return {name: round(mean([r[name] for r in rows]), DIGITS) for name in rows[0]}


def table(
    rows: Sequence[Mapping[str, float]], groups: Sequence[str], seconds: Sequence[float]
) -> dict[str, Any]:
    """One condition's table: overall means, means per group (e.g. category), latency."""
    by_group: dict[str, list[Mapping[str, float]]] = defaultdict(list)
    for row, group in zip(rows, groups, strict=True):
        by_group[group].append(row)
    return {
        "n": len(rows),
        "overall": average(rows),
        "by_group": {g: {"n": len(r), **average(r)} for g, r in sorted(by_group.items())},
        "latency_ms": {f"p{q}": round(1000 * percentile(seconds, q), 3) for q in LATENCY_PERCENTILES},
    }


def git_commit() -> str:
    """The commit of the working tree the benchmark ran from, or ``"unknown"``."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
            cwd=Path(__file__).resolve().parent,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() or "unknown"


def source_dirty() -> bool | None:
    """Whether the package's source differs from the commit (None when git cannot tell)."""
    here = Path(__file__).resolve().parent.parent
    try:
        out = subprocess.run(
            ["git", "status", "--porcelain", "--", str(here)],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
            cwd=here,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return bool(out.stdout.strip())


def provenance(path: Path, config: Config) -> dict[str, Any]:
    """What makes a result reproducible: the data's hash, the code, the configuration. Taken when
    the run starts, so the commit names the code that was loaded."""
    return {
        "data": {"path": str(path), "sha256": sha256_file(path)},
        "git_commit": git_commit(),
        "source_dirty": source_dirty(),
        "oneiro_version": oneiro.__version__,
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "config": to_dict(config),
    }


def write_json(result: Mapping[str, Any], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, ensure_ascii=False, default=str) + "\n", encoding="utf-8")


def print_table(
    console: Console, title: str, tables: Mapping[str, Mapping[str, Any]], columns: Sequence[str]
) -> None:
    """Conditions as rows, the named overall metrics as columns, plus p50 latency."""
    out = Table(title=title)
    out.add_column("condition")
    for col in columns:
        out.add_column(col, justify="right")
    out.add_column("p50 ms", justify="right")
    for name, tab in tables.items():
        overall = tab["overall"]
        cells = [_cell(overall.get(col)) for col in columns]
        out.add_row(name, *cells, f"{tab['latency_ms']['p50']:.1f}")
    console.print(out)


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"
