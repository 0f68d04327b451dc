"""The embedded store: WAL and foreign keys, immutable content-addressed episodes, entries that
rest on sources, and vectors of one embedder."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import oneiro
from conftest import FakeClock, dump_file
from oneiro.backends import HashingEmbedder
from oneiro.errors import DimensionMismatch, InvalidInput
from oneiro.memory import Memory
from oneiro.model import Entry, EntryStatus, Provenance, entry_id
from oneiro.store import SQLiteStore


def pragma(conn: sqlite3.Connection, name: str) -> Any:
    return conn.execute(f"PRAGMA {name}").fetchone()[0]


def test_file_store_is_wal_with_foreign_keys(file_memory: Memory, tmp_path: Path) -> None:
    file_memory.record({"text": "the first thing"})
    conn = file_memory.store.db.conn()  # type: ignore[attr-defined]
    assert pragma(conn, "journal_mode") == "wal"
    assert pragma(conn, "foreign_keys") == 1
    assert (tmp_path / "store.db").exists()
    outside = sqlite3.connect(tmp_path / "store.db")
    assert pragma(outside, "journal_mode") == "wal"
    outside.close()


def test_episodes_cannot_be_updated_or_deleted(memory: Memory) -> None:
    ep = memory.record({"text": "the deploy failed", "kind": "error"})
    with memory.store.db.write() as conn:
        with pytest.raises(sqlite3.IntegrityError, match="immutable"):
            conn.execute("UPDATE episodes SET text = 'the deploy worked' WHERE id = ?", (ep.id,))
        with pytest.raises(sqlite3.IntegrityError, match="never deleted"):
            conn.execute("DELETE FROM episodes WHERE id = ?", (ep.id,))
    assert memory.store.episodes([ep.id])[ep.id].text == "the deploy failed"


def test_same_content_same_id_stored_once(memory: Memory) -> None:
    raw = {"text": "Maya moved the build", "actor": "maya", "ts": "2026-03-02T09:16:00"}
    first = memory.record(raw)
    again = memory.record(dict(raw))
    batch = memory.record_many([raw, raw])
    assert {first.id, again.id, *(e.id for e in batch)} == {first.id}
    assert memory.store.episode_count() == 1
    assert len(memory.store.load_vectors(memory.embedder.name).ids) == 1
    changed = memory.record({**raw, "text": "Maya moved the build again"})
    assert changed.id != first.id


def test_recording_known_content_returns_the_stored_episode(memory: Memory) -> None:
    first = memory.record({"text": "the deploy failed on staging", "ts": 100})
    again = memory.record({"text": "the deploy failed on staging", "ts": 100})
    twice = memory.record_many([{"text": "new twice", "ts": 1}, {"text": "new twice", "ts": 1}])
    assert again == first == memory.store.episodes([first.id])[first.id]
    assert twice[0] == twice[1]


# -- property: ids and round trips ---------------------------------------------------------------

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
json_leaf = st.none() | st.booleans() | st.integers(-(2**40), 2**40) | finite | st.text(max_size=20)
json_value = st.recursive(
    json_leaf,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
unit = st.floats(min_value=-1.0, max_value=1.0, allow_nan=False)
raw_episode = st.fixed_dictionaries(
    {"text": st.text(min_size=1, max_size=80).filter(str.strip)},
    optional={
        "ts": st.floats(min_value=0, max_value=4e9, allow_nan=False),
        "session": st.text(max_size=12),
        "actor": st.text(max_size=12),
        "kind": st.sampled_from(["message", "decision", "error", "observation", "feedback"]),
        "data": st.dictionaries(st.text(max_size=8), json_value, max_size=3),
        "context": st.dictionaries(st.text(max_size=8), json_value, max_size=2),
        "affect": st.fixed_dictionaries({"pleasure": unit, "arousal": unit, "dominance": unit}),
        "prediction": finite,
        "outcome": finite,
        "feedback": unit,
        "refs": st.lists(st.text(min_size=1, max_size=10), max_size=3),
        "provenance": st.sampled_from(["awake", "shadow"]),
    },
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.lists(raw_episode, min_size=1, max_size=6, unique_by=lambda r: r["text"]))
def test_every_field_round_trips_through_the_store(batch: list[dict[str, Any]]) -> None:
    with oneiro.open(":memory:", embedder="hashing", clock=FakeClock()) as memory:
        recorded = memory.record_many(batch)
        stored = memory.store.episodes([e.id for e in recorded])
        for ep in recorded:
            assert stored[ep.id] == ep


@settings(max_examples=25, deadline=None)
@given(batch=st.lists(raw_episode, min_size=2, max_size=6, unique_by=lambda r: r["text"]), seed=st.randoms())
def test_ids_do_not_depend_on_order(batch: list[dict[str, Any]], seed: Any) -> None:
    shuffled = list(batch)
    seed.shuffle(shuffled)
    with (
        oneiro.open(":memory:", embedder="hashing", clock=FakeClock()) as a,
        oneiro.open(":memory:", embedder="hashing", clock=FakeClock()) as b,
    ):
        ids_a = {e.text: e.id for e in a.record_many(batch)}
        ids_b = {e.text: e.id for e in b.record_many(shuffled)}
        assert ids_a == ids_b
        assert a.store.episode_count() == b.store.episode_count()


def test_ids_are_stable_across_processes(memory: Memory) -> None:
    raws = [
        {"text": "Maya moved the nightly build to 02:00 UTC", "actor": "maya", "ts": 1_772_000_000},
        {"text": "Ünïcode and emoji 🙂", "data": {"b": [1, 2.5, None], "a": {"z": True}}, "ts": 5},
        {"text": "a decision", "kind": "decision", "prediction": 0.9, "outcome": 0.3, "ts": 7.25},
    ]
    here = [memory.record(r).id for r in raws]
    script = (
        "import json, sys, oneiro\n"
        "m = oneiro.open(':memory:', embedder='hashing')\n"
        "print(json.dumps([m.record(r).id for r in json.loads(sys.stdin.read())]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], input=json.dumps(raws), capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout) == here


# -- entries -------------------------------------------------------------------------------------


def make_entry(text: str, sources: tuple[str, ...], **kw: Any) -> Entry:
    kind = kw.pop("kind", "fact")
    provenance = kw.pop("provenance", Provenance.DREAM)
    return Entry(
        id=entry_id(kind, text, sources), kind=kind, text=text, sources=sources, provenance=provenance, **kw
    )


def test_a_derived_entry_needs_sources(memory: Memory) -> None:
    before = memory.store.entry_counts()
    orphan = make_entry("an idea resting on nothing", ())
    with pytest.raises(InvalidInput, match="source"):
        memory.store.add_entries([orphan], None, memory.embedder.name)
    assert memory.store.entry_counts() == before
    awake = make_entry("a note the agent wrote itself", (), provenance=Provenance.AWAKE)
    assert memory.store.add_entries([awake], None, memory.embedder.name) == [True]


def test_entry_round_trips_with_sources_in_order(memory: Memory) -> None:
    eps = memory.record_many([{"text": f"episode {i}"} for i in range(3)])
    sources = (eps[2].id, eps[0].id, eps[1].id)
    entry = make_entry(
        "three episodes agree",
        sources,
        confidence=0.6,
        status=EntryStatus.ACTIVE,
        keys=("agree", "three"),
        data={"n": 3},
        created_at=10.0,
        expires_at=99.0,
    )
    vec = memory.embedder.embed([entry.text])
    assert memory.store.add_entries([entry, entry], vec[[0, 0]], memory.embedder.name) == [True, False]
    assert memory.store.entries([entry.id])[entry.id] == entry
    assert memory.store.entries_citing([eps[0].id]) == {eps[0].id: [entry.id]}


# -- vectors -------------------------------------------------------------------------------------


def test_a_different_dimension_is_refused_and_nothing_is_written(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "built.db"
    with oneiro.open(path, embedder="hashing", clock=clock) as built:
        assert built.embedder.name == "hashing-384"
        built.record({"text": "built with 384 dimensions"})
    before = dump_file(path)
    with oneiro.open(path, embedder=HashingEmbedder(dim=128), clock=clock) as other:
        with pytest.raises(DimensionMismatch, match="384"):
            other.record({"text": "embedded with 128 dimensions"})
        with pytest.raises(DimensionMismatch):
            other.recall("built")
    assert dump_file(path) == before


def test_another_embedder_of_the_same_dimension_is_refused(tmp_path: Path, clock: FakeClock) -> None:
    class Renamed(HashingEmbedder):
        """Same dimension, another model: its vectors mean something else."""

        def __init__(self) -> None:
            super().__init__(384)
            self.name = "another-model-384"

    path = tmp_path / "built.db"
    with oneiro.open(path, embedder="hashing", clock=clock) as built:
        built.record({"text": "built with the hashing embedder"})
    with oneiro.open(path, embedder=Renamed(), clock=clock) as other:
        with pytest.raises(DimensionMismatch, match="hashing-384"):
            other.record({"text": "a vector from another model"})
        assert other.store.episode_count() == 1


def test_integrity_check_and_reopen_keep_everything(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "s.db"
    with oneiro.open(path, embedder="hashing", clock=clock) as memory:
        ids = [e.id for e in memory.record_many([{"text": f"note {i}"} for i in range(20)])]
    store = SQLiteStore(path)
    try:
        assert store.integrity_check() == "ok"
        assert set(store.episodes(ids)) == set(ids)
        assert len(store.load_vectors("hashing-384").ids) == 20
    finally:
        store.close()
