"""The row modules' SQLite spellings, as PostgreSQL reads them (no server needed)."""

from __future__ import annotations

import pytest

from oneiro.store.postgres.dialect import rewrite


@pytest.mark.parametrize(
    ("sqlite", "postgres"),
    [
        ("SELECT id FROM episodes WHERE id = ?", "SELECT id FROM episodes WHERE id = %s"),
        ("SELECT 1 WHERE a = '?' AND b LIKE '%x'", "SELECT 1 WHERE a = '?' AND b LIKE '%%x'"),
        (
            "INSERT OR IGNORE INTO evidence (a) VALUES (?)",
            "INSERT INTO evidence (a) VALUES (%s) ON CONFLICT DO NOTHING RETURNING rowid",
        ),
        ("INSERT INTO meta (key) VALUES (?)", "INSERT INTO meta (key) VALUES (%s)"),
        ("SELECT * FROM t WHERE 1 ORDER BY seq", "SELECT * FROM t WHERE TRUE ORDER BY seq"),
        ("SELECT * FROM t WHERE a = 1 AND 0", "SELECT * FROM t WHERE a = 1 AND FALSE"),
        ("SELECT * FROM t WHERE +status IN (%s)", "SELECT * FROM t WHERE status IN (%%s)"),
        ("UPDATE t SET n = n + ? WHERE id = ?", "UPDATE t SET n = n + %s WHERE id = %s"),
        ("PRAGMA integrity_check", "SELECT 'ok'"),
    ],
)
def test_statements_are_rewritten(sqlite: str, postgres: str) -> None:
    assert rewrite(sqlite) == postgres


def test_the_catalogue_reads_the_agents_schema() -> None:
    assert "information_schema.tables" in rewrite("SELECT name FROM sqlite_master WHERE type = 'table'")
    columns = rewrite('PRAGMA table_info("episodes")')
    assert "information_schema.columns" in columns and "'episodes'" in columns


def test_a_statement_run_many_times_returns_no_row_numbers() -> None:
    assert "RETURNING" not in rewrite("INSERT INTO vectors (a) VALUES (?)", returning=False)
