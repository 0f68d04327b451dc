"""``oneiro model``: the weight tier's adapters, blue-green. Status, promote, rollback.

Thin: every command calls :class:`oneiro.train.adapters.AdapterStore`. Promotion refuses a
candidate that failed its probes and one whose file no longer matches its recorded hash.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from oneiro.cli.common import HomeOption, console, open_memory, print_json
from oneiro.train.adapters import AdapterStore, for_memory

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]

model_app = typer.Typer(help="The weight tier's adapters: which one serves, promote a candidate, roll back.")


def _status(adapters: AdapterStore) -> dict[str, Any]:
    active = adapters.active()
    return {
        "active": active,
        "versions": [
            {
                "version": v.name,
                "sha256": v.sha256,
                "active": v.name == active,
                "passed": v.passed,
                "steps": v.meta.get("steps"),
                "nonzero": v.meta.get("nonzero"),
                "forgetting": v.meta.get("verdict", {}).get("forgetting"),
                "gain": v.meta.get("verdict", {}).get("gain"),
            }
            for v in adapters.versions()
        ],
    }


def _show(status: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(status)
        return
    console.print(f"active: {status['active'] or 'none (the base model alone)'}")
    table = Table("version", "active", "probes", "steps", "nonzero", "forgetting", "gain", "sha256")
    for v in status["versions"]:
        table.add_row(
            v["version"],
            "*" if v["active"] else "",
            "passed" if v["passed"] else "failed",
            str(v["steps"]),
            str(v["nonzero"]),
            _num(v["forgetting"]),
            _num(v["gain"]),
            v["sha256"][:12],
        )
    console.print(table)


def _num(value: Any) -> str:
    return "-" if value is None else f"{float(value):+.3f}"


@model_app.command()
def status(as_json: JsonOption = False, home: HomeOption = None) -> None:
    """The active adapter and every staged version with its probe verdict."""
    with open_memory(home) as memory:
        _show(_status(for_memory(memory)), as_json)


@model_app.command()
def promote(
    version: Annotated[
        str | None, typer.Argument(help="Version to make active (default: newest passed).")
    ] = None,
    as_json: JsonOption = False,
    home: HomeOption = None,
) -> None:
    """Make a candidate that passed its probes the active adapter, in one step."""
    with open_memory(home) as memory:
        adapters = for_memory(memory)
        adapters.promote(version)
        _show(_status(adapters), as_json)


@model_app.command()
def rollback(as_json: JsonOption = False, home: HomeOption = None) -> None:
    """Go back to the adapter that was active before (or to the base model alone)."""
    with open_memory(home) as memory:
        adapters = for_memory(memory)
        adapters.rollback()
        _show(_status(adapters), as_json)


def register(app: typer.Typer) -> None:
    app.add_typer(model_app, name="model")
