"""``oneiro migrate --to postgresql://...``: copy this SQLite store into a PostgreSQL agent.

A thin layer over :func:`oneiro.migrate.migrate`: it refuses a non-empty target, resumes an
interrupted copy when run again, and says what it verified.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from oneiro.cli.common import HomeOption, config_for, console, print_json


def register(app: typer.Typer) -> None:
    @app.command()
    def migrate(
        to: Annotated[str, typer.Option("--to", help="The target: postgresql://user@host/db?agent=NAME")],
        store: Annotated[
            Path | None,
            typer.Option("--store", help="The SQLite store file (default: the state directory's)."),
        ] = None,
        dry_run: Annotated[bool, typer.Option("--dry-run", help="Check both sides; copy nothing.")] = False,
        as_json: Annotated[bool, typer.Option("--json")] = False,
        home: HomeOption = None,
    ) -> None:
        """Copy the store into PostgreSQL, verify counts and hashes, resume if interrupted."""
        from oneiro.migrate import migrate as run

        done = run(store if store is not None else config_for(home).store_path, to, dry_run=dry_run)
        if as_json:
            print_json(asdict(done))
            return
        how = "resuming an interrupted copy" if done.resumed else "from scratch"
        if done.dry_run:
            console.print(f"would copy {done.total_rows} rows into {done.target} ({how})")
            return
        console.print(
            f"copied {done.total_rows} rows into {done.target} ({how}); every table's count and "
            f"digest match the source, journal verified ({done.journal_records} records)"
        )
