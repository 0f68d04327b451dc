"""``oneiro migrate --to postgresql://...``: a SQLite store copied, verified, resumable, and a
non-empty target refused."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

import oneiro
from oneiro import demo
from oneiro.errors import InvalidInput, MigrationError, StoreError
from oneiro.store.postgres import PostgresStore
from oneiro.store.postgres import copy as pg_copy
from oneiro.store.query import EntryQuery
from oneiro.store.sqlite import SQLiteStore
from pgtest import agent_url, server_url
from test_cli_awake import run


class Interrupt(Exception):
    """Stands for a kill in the middle of a copy."""


@pytest.fixture
def source(home: Path) -> Path:
    """A SQLite store after the demo: episodes with observations, a dream, evidence, journal."""
    path = home / "agent.db"
    clock = demo.ScenarioClock()
    with oneiro.open(str(path), embedder="hashing", clock=clock) as memory:
        demo.run(memory, say=lambda _line: None, clock=clock)
    return path


def _content(store: SQLiteStore | PostgresStore) -> tuple[object, ...]:
    """What a reader sees: episodes with their row numbers, entries, the journal, cycles."""
    return (
        store.episodes_since(0),
        store.entries_matching(EntryQuery()),
        store.journal_read(),
        [(c.id, c.status) for c in store.recent_cycles(100)],
        store.load_vectors((store.built_with() or ("", 0))[0]).ids,
    )


@contextmanager
def _pair(source: Path, url: str) -> Iterator[tuple[SQLiteStore, PostgresStore]]:
    sqlite, pg = SQLiteStore(source), PostgresStore(url, resume_migration=True)
    try:
        yield sqlite, pg
    finally:
        pg.close()
        sqlite.close()


def _interrupted(source: Path, url: str, after: int) -> None:
    calls: list[str] = []

    def die(table: str, _done: int, _total: int) -> None:
        calls.append(table)
        if len(calls) == after:
            raise Interrupt

    with _pair(source, url) as (sqlite, pg), pytest.raises(Interrupt):
        pg_copy.copy(sqlite, pg, progress=die)


def test_migrate_copies_and_verifies_then_refuses_a_second_copy(
    source: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = agent_url()
    code, out = run(monkeypatch, "migrate", "--to", "sqlite:///elsewhere.db", "--store", str(source))
    assert code == 2 and "postgresql://" in out
    code, out = run(monkeypatch, "migrate", "--to", url, "--store", str(source), "--dry-run", "--json")
    assert code == 0 and json.loads(out)["rows"]["episodes"] > 0
    code, out = run(monkeypatch, "migrate", "--to", url, "--store", str(source))
    assert code == 0 and "count and digest match" in out and "from scratch" in out, out
    with (
        oneiro.open(url, embedder="hashing") as on_pg,
        oneiro.open(str(source), embedder="hashing") as on_sqlite,
    ):
        assert on_pg.verify_journal() == on_sqlite.verify_journal() > 0
        assert on_pg.status().episodes == on_sqlite.status().episodes
        question = demo.QUESTIONS[0]
        assert [h.item.id for h in on_pg.recall(question)][:1] == [
            h.item.id for h in on_sqlite.recall(question)
        ][:1]
    code, out = run(monkeypatch, "migrate", "--to", url, "--store", str(source))
    assert code == 2 and "not empty" in out


def test_an_interrupted_copy_is_refused_until_resumed_and_then_matches(
    source: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pg_copy, "CHUNK_ROWS", 5)
    url = agent_url()
    _interrupted(source, url, after=4)
    with pytest.raises(StoreError, match="not verified"):
        PostgresStore(url)
    with _pair(source, url) as (sqlite, pg):
        assert pg_copy.plan(sqlite, pg).done  # it resumes, not from scratch
        report = pg_copy.copy(sqlite, pg)
        assert report.resumed and report.counts["episodes"] == sqlite.episode_count()
    with _pair(source, url) as (sqlite, _pg):
        done = PostgresStore(url)
        try:
            assert _content(done) == _content(sqlite)
        finally:
            done.close()


def test_a_copy_that_does_not_match_is_never_marked_done(
    source: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pg_copy, "CHUNK_ROWS", 5)
    url = agent_url()
    _interrupted(source, url, after=20)
    with _pair(source, url) as (_sqlite, pg), psycopg.connect(server_url(), autocommit=True) as raw:
        raw.execute(f'UPDATE "{pg.target.schema}".entries SET confidence = confidence + 0.5')
    with _pair(source, url) as (sqlite, pg), pytest.raises(MigrationError, match="entries"):
        pg_copy.copy(sqlite, pg)
    with pytest.raises(StoreError, match="not verified"):
        PostgresStore(url)


def test_a_source_that_changed_since_the_interruption_is_refused(
    source: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pg_copy, "CHUNK_ROWS", 5)
    url = agent_url()
    _interrupted(source, url, after=3)
    with oneiro.open(str(source), embedder="hashing") as memory:
        memory.record({"text": "one more thing", "ts": 1.9e9})
    with _pair(source, url) as (sqlite, pg), pytest.raises(InvalidInput, match="looked different"):
        pg_copy.copy(sqlite, pg)
