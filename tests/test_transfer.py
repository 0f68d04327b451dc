"""Export and import: a round trip reproduces every hash, and a bad export changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

import oneiro
from conftest import FakeClock, dump_file
from oneiro.errors import InvalidInput

DAY = 86_400.0


def seeded(path: Path, clock: FakeClock) -> list[str]:
    with oneiro.open(path, embedder="hashing", clock=clock) as m:
        for i in range(20):
            m.record(
                {
                    "text": f"ana moved the nightly build to 0{i % 5}:00 UTC after incident {i}",
                    "actor": "ana" if i % 2 else "ben",
                    "session": f"s{i % 4}",
                    "ts": clock.now + i * 600,
                    "kind": "decision" if i % 3 == 0 else "message",
                    "data": {"context": "nightly build", "blob": [i, {"x": i / 7}]},
                    "prediction": 0.8,
                    "outcome": 0.2 + (i % 3) / 10,
                }
            )
        clock.advance(DAY)
        m.dream()
        return list(m.export())


def test_a_round_trip_reproduces_every_row_and_hash(tmp_path: Path, clock: FakeClock) -> None:
    lines = seeded(tmp_path / "a.db", clock)
    with oneiro.open(tmp_path / "b.db", embedder="hashing", clock=clock) as b:
        counts = b.import_lines(lines)
        assert counts["episodes"] == 20 and counts["journal"] > 0
        assert b.verify_journal() == counts["journal"]
        assert list(b.export()) == lines
        hits = b.recall("when does the nightly build run", k=3)
        assert hits
    with oneiro.open(tmp_path / "a.db", embedder="hashing", clock=clock) as a:
        assert [h.id for h in a.recall("when does the nightly build run", k=3)] == [h.id for h in hits]
    assert dump_file(tmp_path / "a.db")["episodes"] == dump_file(tmp_path / "b.db")["episodes"]


@pytest.mark.parametrize(
    "mutate",
    [
        lambda ls: ls[1:],  # no header
        lambda ls: [ls[0].replace('"schema": ', '"schema": 9'), *ls[1:]],
        lambda ls: [*ls[:5], "{not json", *ls[5:]],
        lambda ls: [*ls, '{"table": "nope", "row": {"a": 1}}'],
        lambda ls: [*ls, '{"table": "episodes", "row": {"id": "x"}}'],
        lambda ls: [
            *ls,
            '{"table": "journal", "row": {"seq": 999999, "ts": 1.0, "kind": "x", "payload": "{}", '
            '"prev_hash": "0", "hash": "0"}}',
        ],
    ],
)
def test_a_bad_export_is_refused_and_writes_nothing(tmp_path: Path, clock: FakeClock, mutate) -> None:  # type: ignore[no-untyped-def]
    lines = seeded(tmp_path / "a.db", clock)
    target = tmp_path / "b.db"
    oneiro.open(target, embedder="hashing", clock=clock).close()
    before = dump_file(target)
    with oneiro.open(target, embedder="hashing", clock=clock) as b, pytest.raises(InvalidInput):
        b.import_lines(mutate(lines))
    assert dump_file(target) == before


def test_import_needs_an_empty_store(tmp_path: Path, clock: FakeClock) -> None:
    lines = seeded(tmp_path / "a.db", clock)
    with (
        oneiro.open(tmp_path / "a.db", embedder="hashing", clock=clock) as a,
        pytest.raises(InvalidInput, match="empty store"),
    ):
        a.import_lines(lines)
