"""Bad input when opening a PostgreSQL store: each a clear StoreError leaf naming what to fix,
with nothing created or changed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from oneiro.errors import InvalidInput, MigrationError, NotAStore, SchemaTooNew, StoreError
from oneiro.store.factory import open_url
from oneiro.store.migrations import MIGRATIONS, Migration
from oneiro.store.postgres import PostgresStore, schema
from pgtest import agent_url, server_url


def _schemas() -> set[str]:
    with psycopg.connect(server_url()) as raw:
        return {str(r[0]) for r in raw.execute("SELECT nspname FROM pg_namespace")}


def test_an_unreachable_server_is_named_as_such() -> None:
    with pytest.raises(StoreError, match="cannot be reached"):
        open_url("postgresql://oneiro@127.0.0.1:1/agents?connect_timeout=2")


def test_an_unknown_role_is_a_credentials_error() -> None:
    url = server_url().replace("postgres:@", "nobody:wrong@")
    with pytest.raises(StoreError, match="refused the credentials") as caught:
        open_url(url + "&agent=a1")
    assert "wrong" not in str(caught.value)  # the password is never echoed


def test_a_missing_database_is_named() -> None:
    url = server_url().replace("/postgres?", "/no_such_db?")
    with pytest.raises(StoreError, match="does not exist"):
        open_url(url)


@pytest.mark.parametrize(("param", "message"), [("agent=../x", "agent"), ("pool=0", "pool")])
def test_bad_url_parameters_are_refused(param: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        open_url(f"{server_url()}&{param}")


def test_a_newer_schema_is_refused_untouched(open_pg: Callable[..., PostgresStore]) -> None:
    url = agent_url()
    store = open_pg(url)
    with psycopg.connect(server_url(), autocommit=True) as raw:
        raw.execute(
            f'INSERT INTO "{store.target.schema}"._migrations VALUES (999, %s, 0)', ("from-the-future",)
        )
    with pytest.raises(SchemaTooNew, match="999"):
        PostgresStore(url)


def test_a_schema_of_another_program_is_refused_untouched() -> None:
    url = agent_url("theirs")
    with psycopg.connect(server_url(), autocommit=True) as raw:
        raw.execute('CREATE SCHEMA IF NOT EXISTS "agent_theirs"')
        raw.execute('CREATE TABLE IF NOT EXISTS "agent_theirs".orders (id int)')
    with pytest.raises(NotAStore, match="orders"):
        PostgresStore(url)
    with psycopg.connect(server_url()) as raw:
        tables = raw.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'agent_theirs'"
        ).fetchall()
    assert [t[0] for t in tables] == ["orders"]


def test_a_migration_without_a_postgresql_script_creates_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    future = (*MIGRATIONS, Migration(MIGRATIONS[-1].seq + 1, "not_mirrored", lambda _conn: None))
    monkeypatch.setattr(schema, "known", lambda: future)
    url = agent_url("unmirrored")
    with pytest.raises(MigrationError, match="no PostgreSQL script"):
        PostgresStore(url)
    assert "agent_unmirrored" not in _schemas()


def test_every_migration_has_its_postgresql_script() -> None:
    assert [schema.script(m) for m in MIGRATIONS]


def test_a_wrong_password_is_refused_and_the_right_one_opens() -> None:
    with psycopg.connect(server_url(), autocommit=True) as raw:
        data = str(raw.execute("SHOW data_directory").fetchone()[0])  # type: ignore[index]
        hba = Path(data) / "pg_hba.conf"
        rule = "local all oneiro_pw scram-sha-256\n"
        if rule not in hba.read_text():
            hba.write_text(rule + hba.read_text())  # first match wins: only this role needs a password
        if raw.execute("SELECT 1 FROM pg_roles WHERE rolname = 'oneiro_pw'").fetchone() is None:
            raw.execute("CREATE ROLE oneiro_pw LOGIN SUPERUSER PASSWORD 'right'")
        raw.execute("SELECT pg_reload_conf()")
    wrong = server_url().replace("postgres:@", "oneiro_pw:wrong@")
    with pytest.raises(StoreError, match="refused the credentials") as caught:
        open_url(wrong + "&agent=pw")
    assert "wrong" not in str(caught.value)
    store = open_url(server_url().replace("postgres:@", "oneiro_pw:right@") + "&agent=pw")
    try:
        assert store.schema_version() == MIGRATIONS[-1].seq and "right" not in store.path
    finally:
        store.close()
