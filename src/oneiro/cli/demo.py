"""``oneiro demo``: the README's first command."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import typer

import oneiro
from oneiro import demo as scenario
from oneiro.cli.common import EmbedderOption, config_for, console


def register(app: typer.Typer) -> None:
    @app.command()
    def demo(
        home: Annotated[
            Path | None,
            typer.Option("--home", help="Keep the demo store here (default: a temporary folder)."),
        ] = None,
        embedder: EmbedderOption = None,
    ) -> None:
        """Run a small agent's day: awake -> dream -> wake, on the embedded defaults."""
        with tempfile.TemporaryDirectory(prefix="oneiro-demo-") as tmp:
            root = home or Path(tmp)
            clock = scenario.ScenarioClock()
            config = config_for(root, embedder)
            with oneiro.open(config.state_dir, config=config, clock=clock) as memory:
                where = memory.status().store
                console.print(f"[bold]oneiro demo[/bold] (store: {where}, embedder: {memory.embedder.name})")
                scenario.run(memory, say=console.print, clock=clock)
