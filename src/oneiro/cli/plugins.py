"""``oneiro plugins``: what is registered for a memory, and by which plugin."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

import typer
from rich.table import Table

from oneiro.cli.common import HomeOption, console, open_memory, print_json


def register(app: typer.Typer) -> None:
    @app.command()
    def plugins(
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
        home: HomeOption = None,
    ) -> None:
        """What is registered (built-ins, the 'oneiro' entry points): kind, name, plugin, detail."""
        with open_memory(home) as memory:
            rows = memory.plugins()
        if as_json:
            print_json([asdict(r) for r in rows])
            return
        table = Table("kind", "name", "plugin", "detail", box=None, pad_edge=False, header_style="bold")
        for r in rows:
            table.add_row(r.kind, r.name, r.plugin, r.detail)
        console.print(table)
