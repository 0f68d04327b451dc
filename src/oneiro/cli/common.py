"""What every CLI module shares: the app, the console, and how a command opens the store."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

import oneiro
from oneiro.config import Config, check_state_dir, load_config, state_dir_from_env

app = typer.Typer(
    name="oneiro",
    help="A sleep cycle for long-lived AI agents: record awake, dream offline, trust what reality confirms.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)

HomeOption = Annotated[
    Path | None,
    typer.Option("--home", help="State directory (default: $ONEIRO_HOME or ~/.oneiro).", show_default=False),
]
PresetOption = Annotated[
    str | None,
    typer.Option("--preset", help="nap or night: a named set of settings, under the config file."),
]
EmbedderOption = Annotated[
    str | None, typer.Option("--embedder", help="minilm or hashing (default: from config).")
]


def config_for(home: Path | None, embedder: str | None = None, preset: str | None = None) -> Config:
    """The configuration a command runs with: the preset, the state directory's file, then the
    options.

    The state directory must be a directory or not exist yet (StorePathError otherwise), so a
    file or a device given as ``--home`` is refused before anything reads or writes there."""
    root = home if home is not None else state_dir_from_env()
    check_state_dir(root, "--home" if home is not None else "state directory")
    overrides = {"embedder": {"name": embedder}} if embedder else None
    return load_config(root, preset=preset, overrides=overrides)


def open_memory(home: Path | None, embedder: str | None = None, preset: str | None = None) -> oneiro.Memory:
    config = config_for(home, embedder, preset)
    return oneiro.open(config.state_dir, config=config)


def print_json(value: Any) -> None:
    console.print_json(json.dumps(value, default=str, ensure_ascii=False))


def utc(ts: float | None) -> str:
    """A stored time as people read it, in UTC: ``2026-02-25 06:13:20`` ('-' for none)."""
    if ts is None:
        return "-"
    try:
        return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")
    except (OverflowError, ValueError, OSError):
        return f"{ts!r} (not a representable time)"
