"""``oneiro migrate --to postgresql://...``: copy this SQLite store into a PostgreSQL agent.

A thin layer over :func:`oneiro.store.postgres.copy.copy`: it refuses a non-empty target,
resumes an interrupted copy when run again, and says the counts and digests it verified.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from oneiro.cli.common import HomeOption, config_for, console, print_json
from oneiro.errors import InvalidInput


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
        from oneiro.store.factory import is_url
        from oneiro.store.sqlite import SQLiteStore

        if not to.lower().startswith(("postgresql://", "postgres://")):
            raise InvalidInput("--to takes a postgresql:// URL", field="to")
        path = store if store is not None else config_for(home).store_path
        if is_url(str(path)) or not Path(path).is_file():
            raise InvalidInput(f"{path} is not a store file to copy from", field="store")
        try:
            from oneiro.store.postgres import copy as pg_copy
            from oneiro.store.postgres.store import PostgresStore
        except ImportError as exc:
            raise InvalidInput(
                f"migrate needs the postgres extra: pip install 'oneiro[postgres]' ({exc})"
            ) from exc
        source = SQLiteStore(path)
        try:
            target = PostgresStore(to, resume_migration=True)
            try:
                if dry_run:
                    p = pg_copy.plan(source, target)
                    summary = {"dry_run": True, "resuming": p.resuming, "rows": p.counts, "done": p.done}
                else:
                    report = pg_copy.copy(source, target)
                    summary = {
                        "dry_run": False,
                        "resumed": report.resumed,
                        "rows": report.counts,
                        "journal_records": report.journal_records,
                        "digests": report.digests,
                    }
            finally:
                target.close()
        finally:
            source.close()
        if as_json:
            print_json(summary)
            return
        rows = summary["rows"]
        total = sum(rows.values()) if isinstance(rows, dict) else 0
        if dry_run:
            console.print(
                f"would copy {total} rows ({'resuming' if summary['resuming'] else 'from scratch'})"
            )
            return
        console.print(
            f"copied {total} rows into {target.path}{' (resumed)' if summary['resumed'] else ''}; "
            f"every table's count and digest match, journal verified ({summary['journal_records']} records)"
        )
