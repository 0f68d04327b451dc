"""What leaves a store and what enters it: ``forget``, ``export`` and ``import``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from oneiro.cli.common import HomeOption, console, open_memory, print_json
from oneiro.errors import InvalidInput


def _read_lines(path: Path) -> list[str]:
    if str(path) == "-":
        return sys.stdin.read().splitlines()
    if not path.is_file():
        raise InvalidInput(f"{path} is not a file", field="export")
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read {path}: {exc}", field="export") from None


def register(app: typer.Typer) -> None:
    @app.command()
    def forget(
        episode: Annotated[
            list[str] | None, typer.Option("--episode", help="An episode id (repeatable).")
        ] = None,
        actor: Annotated[str | None, typer.Option("--actor", help="Every episode of this actor.")] = None,
        session: Annotated[
            str | None, typer.Option("--session", help="Every episode of this session.")
        ] = None,
        dry_run: Annotated[
            bool, typer.Option("--dry-run", help="List what would go; write nothing.")
        ] = False,
        as_json: Annotated[bool, typer.Option("--json")] = False,
        home: HomeOption = None,
    ) -> None:
        """Remove episodes and what was derived from them; the journal keeps ids and hashes only."""
        with open_memory(home) as memory:
            plan = memory.forget(tuple(episode or ()), actor=actor, session=session, dry_run=dry_run)
        if as_json:
            print_json({"dry_run": dry_run, **plan.as_dict()})
            return
        verb = "would forget" if dry_run else "forgot"
        console.print(
            f"{verb} {len(plan.episodes)} episodes, {len(plan.removed_entries)} entries derived from "
            f"them; {len(plan.trimmed)} entries keep their other sources; "
            f"{len(plan.journal)} journal records blanked"
        )

    @app.command("export")
    def export_store(
        out: Annotated[Path, typer.Argument(help="JSON lines file to write; '-' for stdout.")],
        home: HomeOption = None,
    ) -> None:
        """Write the whole store as JSON lines (import reads it back with every hash intact)."""
        if str(out) != "-" and out.exists():
            raise InvalidInput(f"{out} exists: choose a new file", field="out")
        with open_memory(home) as memory:
            lines = list(memory.export())
        text = "".join(line + "\n" for line in lines)
        if str(out) == "-":
            sys.stdout.write(text)
            return
        try:
            out.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise InvalidInput(f"cannot write {out}: {exc}", field="out") from None
        console.print(f"exported {len(lines) - 1} rows to {out}")

    @app.command("import")
    def import_store(
        source: Annotated[Path, typer.Argument(help="An export's JSON lines; '-' for stdin.")],
        home: HomeOption = None,
    ) -> None:
        """Load an export into an empty store, all or nothing."""
        lines = _read_lines(source)
        with open_memory(home) as memory:
            counts = memory.import_lines(lines)
        console.print(f"imported {sum(counts.values())} rows ({counts.get('episodes', 0)} episodes)")
