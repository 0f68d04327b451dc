"""A whole memory on PostgreSQL: the demo's awake day, dream, wake and later evidence give the
same entries and validations as on SQLite, the same best answer to each question, and a journal
that verifies. Answers below the first may differ: the lexical side ranks with ``ts_rank`` there
and BM25 here."""

from __future__ import annotations

from pathlib import Path

import oneiro
from oneiro import demo
from oneiro.store.postgres import PostgresStore
from pgtest import agent_url


def _run(target: str) -> tuple[demo.DemoResult, int, list[tuple[str, str, float]]]:
    clock = demo.ScenarioClock()
    with oneiro.open(target, embedder="hashing", clock=clock) as memory:
        result = demo.run(memory, say=lambda _line: None, clock=clock)
        entries = sorted(
            (e.text, str(e.status), round(e.confidence, 6))
            for e in memory.store.entries_matching(oneiro.store.query.EntryQuery())
        )
        return result, memory.verify_journal(), entries


def test_the_demo_reads_the_same_on_postgresql_as_on_sqlite(home: Path) -> None:
    url = agent_url()
    on_pg = _run(url)
    on_sqlite = _run(str(home / "demo.db"))
    assert on_pg[0].entries > 0 and on_pg[1] > 0
    assert on_pg[0].answers.keys() == on_sqlite[0].answers.keys()
    for question, answers in on_pg[0].answers.items():
        assert answers[:1] == on_sqlite[0].answers[question][:1], question
    assert on_pg[0].validated == on_sqlite[0].validated
    assert on_pg[2] == on_sqlite[2]
    store = PostgresStore(url)
    try:
        assert store.episode_count() == on_pg[0].episodes + len(demo.LATER_DECISIONS)
    finally:
        store.close()
