"""Moving a store to PostgreSQL: the library call behind ``oneiro migrate``.

:func:`migrate` copies a SQLite store file into a PostgreSQL agent's schema and verifies it
(:mod:`oneiro.store.postgres.copy`): row counts and content digests of every table, and the
journal chain. It refuses a target that already holds a store, and resumes a copy that was
interrupted; until a copy is verified, the target cannot be opened as a store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from oneiro.errors import InvalidInput
from oneiro.store.factory import is_url

SCHEMES = ("postgresql://", "postgres://")


@dataclass(frozen=True)
class Migration:
    """What a migration did (or, for a dry run, would do)."""

    source: str
    target: str
    dry_run: bool
    resumed: bool
    rows: dict[str, int]
    journal_records: int = 0
    digests: dict[str, str] = field(default_factory=dict)

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


def migrate(source: str | Path, to: str, *, dry_run: bool = False) -> Migration:
    """Copy the SQLite store file ``source`` into the PostgreSQL store URL ``to``."""
    if not to.lower().startswith(SCHEMES):
        raise InvalidInput("the target must be a postgresql:// URL", field="to")
    if is_url(str(source)) or not Path(source).is_file():
        raise InvalidInput(f"{source} is not a store file to copy from", field="store")
    try:
        from oneiro.store.postgres import copy
        from oneiro.store.postgres.store import PostgresStore
    except ImportError as exc:
        raise InvalidInput(
            f"migrate needs the postgres extra: pip install 'oneiro[postgres]' ({exc})"
        ) from exc
    from oneiro.store.sqlite import SQLiteStore

    sqlite = SQLiteStore(source)
    try:
        target = PostgresStore(to, resume_migration=True)
        try:
            if dry_run:
                plan = copy.plan(sqlite, target)
                return Migration(plan.source, plan.target, True, plan.resuming, plan.counts)
            report = copy.copy(sqlite, target)
            return Migration(
                report.source,
                report.target,
                False,
                report.resumed,
                report.counts,
                report.journal_records,
                report.digests,
            )
        finally:
            target.close()
    finally:
        sqlite.close()
