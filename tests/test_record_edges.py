"""record() at its edge: timestamps in a documented range, numbers a float can hold, JSON that is
bounded in depth and size, and only OneiroError out, with the store unchanged on any refusal."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import oneiro
from conftest import FakeClock
from fakes import begin_cycle, complete_cycle
from oneiro.capture import MAX_JSON_DEPTH, TS_MAX, TS_MIN
from oneiro.errors import InvalidInput, OneiroError
from oneiro.memory import Memory
from oneiro.model import Entry, EntryStatus, Provenance, entry_id
from oneiro.validation import Validator


def deep(levels: int) -> Any:
    value: Any = []
    for _ in range(levels):
        value = [value]
    return value


def iterdump(path: Path) -> list[str]:
    """The store file as SQL text, through a fresh connection (committed data only)."""
    conn = sqlite3.connect(path)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def stage_hypothesis(memory: Memory) -> Entry:
    """A dream-made hypothesis that every recorded decision is checked against."""
    now = memory.clock()
    begin_cycle(memory.store, "c1", now)  # type: ignore[arg-type]
    test = {"type": "residual_bias", "context": "pool", "direction": 1}
    source = memory.record({"text": "the pool decision", "kind": "decision", "context": {"key": "pool"}})
    entry = Entry(
        id=entry_id("correction", "pool outcomes run high", (source.id,), {"test": test}),
        kind="correction",
        text="pool outcomes run high",
        sources=(source.id,),
        provenance=Provenance.DREAM,
        cycle_id="c1",
        confidence=0.2,
        status=EntryStatus.STAGED,
        data={"test": test},
        created_at=now,
    )
    memory.store.add_entries([entry], memory.embedder.embed([entry.text]), memory.embedder.name, "c1")
    complete_cycle(memory.store, "c1", now)  # type: ignore[arg-type]
    return entry


# -- the documented time range ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("ts", "needle"),
    [
        (1e300, "outside the accepted range"),
        (-1e18, "outside the accepted range"),
        (-1.0, "outside the accepted range"),
        (TS_MAX, "outside the accepted range"),
        (1_772_000_000_000, "milliseconds"),
        (1_772_000_000_000_000, "microseconds"),
        (10**400, "too large"),
        ("0001-01-01T00:00:00+23:59", "outside"),
        ("9999-12-31T23:59:59-23:59", "outside"),
        ("2300-01-01T00:00:00Z", "outside the accepted range"),
        (datetime(1969, 12, 31, 23, 59, tzinfo=UTC), "outside the accepted range"),
    ],
)
def test_a_timestamp_outside_the_range_is_refused_and_nothing_is_written(
    memory: Memory, ts: Any, needle: str
) -> None:
    with pytest.raises(InvalidInput) as err:
        memory.record({"text": "a dated event", "ts": ts})
    assert err.value.field == "ts" and needle in str(err.value)
    assert memory.store.episode_count() == 0


def test_the_ends_of_the_range_and_odd_offsets_inside_it_are_kept(memory: Memory) -> None:
    odd = datetime(2030, 6, 1, 12, 0, tzinfo=timezone(timedelta(hours=13, minutes=45)))
    kept = memory.record_many(
        [
            {"text": "epoch", "ts": TS_MIN},
            {"text": "last second", "ts": TS_MAX - 1},
            {"text": "far east", "ts": odd},
        ]
    )
    assert [e.ts for e in kept] == [TS_MIN, TS_MAX - 1, odd.timestamp()]


# -- values that used to escape as TypeError, OverflowError, RecursionError, UnicodeEncodeError ----

ESCAPES: list[tuple[dict[Any, Any], str]] = [
    ({"text": "x", 1: "a", "b": 2}, "1"),  # mixed key types among unknown fields
    ({"text": "x", "affect": {1: 0.1, "z": 0.2}}, "affect"),
    ({"text": "x", "data": {1: "x", "a": "y"}}, "data"),
    ({"text": "x", "data": {(1, 2): "x"}}, "data"),
    ({"text": "x", "prediction": 10**400}, "prediction"),
    ({"text": "x", "outcome": -(10**400)}, "outcome"),
    ({"text": "x", "feedback": 10**400}, "feedback"),
    ({"text": "x", "affect": [10**400, 0, 0]}, "affect"),
    ({"text": "x", "prediction": 1e308, "outcome": -1e308}, "prediction"),
    ({"text": "x", "data": {"n": 10**400}}, "data"),
    ({"text": "x", "data": {"n": 10**5000}}, "data"),
    ({"text": "x", "data": {"deep": deep(5000)}}, "data"),
    ({"text": "x", "context": {"deep": deep(MAX_JSON_DEPTH + 1)}}, "context"),
    ({"text": "x", "data": {"b": b"bytes"}}, "data"),
    ({"text": "x", "data": {"s": {1, 2}}}, "data"),
    ({"text": "x", "data": {"bad \ud800 key": 1}}, "data"),
    ({"text": "x", "refs": ["bad \udc00 ref"]}, "refs"),
    ({"text": "x", "refs": ["r"] * 100_000}, "refs"),
    ({"text": "x", "provenance": ["awake"]}, "provenance"),
]


@pytest.mark.parametrize(("raw", "field"), ESCAPES, ids=[f"{f}-{i}" for i, (_, f) in enumerate(ESCAPES)])
def test_values_that_escaped_validation_are_invalid_input(memory: Memory, raw: Any, field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        memory.record(raw)
    assert err.value.field == field
    assert memory.store.episode_count() == 0


def test_a_cyclic_structure_is_refused_without_encoding_it(memory: Memory) -> None:
    loop: dict[str, Any] = {}
    loop["self"] = loop
    with pytest.raises(InvalidInput, match="field 'data'"):
        memory.record({"text": "x", "data": loop})


def test_data_nested_to_the_bound_is_kept_and_round_trips(memory: Memory) -> None:
    ep = memory.record({"text": "nested", "data": {"d": deep(MAX_JSON_DEPTH - 2)}})
    assert memory.store.episodes([ep.id])[ep.id].data == {"d": deep(MAX_JSON_DEPTH - 2)}


def test_batches_and_line_numbers_of_the_wrong_shape_are_invalid_input(memory: Memory) -> None:
    with pytest.raises(InvalidInput, match="field 'items'"):
        memory.record_many(42)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="field 'lines'"):
        memory.record_many([{"text": "a"}, {"text": "b"}], lines=[1])
    assert memory.store.episode_count() == 0


# -- all or nothing, including what validation does after the episodes are written -------------


def test_a_bad_timestamp_with_a_staged_hypothesis_writes_nothing(tmp_path: Path, clock: FakeClock) -> None:
    """The awake validator runs on every recorded batch; a far-future ts used to be committed and
    then fail there with OverflowError (turning it into a UTC day)."""
    with oneiro.open(tmp_path / "s.db", embedder="hashing", clock=clock) as memory:
        stage_hypothesis(memory)
        before = iterdump(tmp_path / "s.db")
        with pytest.raises(InvalidInput, match="field 'ts'"):
            memory.record({"text": "pool again", "kind": "decision", "ts": 1e300, "context": {"key": "pool"}})
        assert iterdump(tmp_path / "s.db") == before


class FailingValidator(Validator):
    """A validator that fails after the episodes are in the transaction."""

    def run(self, episodes: Any, now: float) -> Any:
        super().run(episodes, now)
        raise RuntimeError("validation failed")


def test_a_failure_in_validation_rolls_the_episodes_back(tmp_path: Path, clock: FakeClock) -> None:
    with oneiro.open(tmp_path / "s.db", embedder="hashing", clock=clock) as memory:
        memory.record({"text": "already here"})
        memory.validator = FailingValidator(memory.store, memory.embedder, memory.config)
        before = iterdump(tmp_path / "s.db")
        with pytest.raises(RuntimeError):
            memory.record_many([{"text": "one"}, {"text": "two"}])
        assert iterdump(tmp_path / "s.db") == before
        assert memory.store.episode_count() == 1


def test_record_batch_tells_new_from_duplicate(memory: Memory) -> None:
    memory.record({"text": "known", "ts": 10})
    result = memory.record_batch(
        [{"text": "known", "ts": 10}, {"text": "fresh", "ts": 11}, {"text": "fresh", "ts": 11}]
    )
    assert (result.new, result.new_count, result.duplicates) == ((False, True, False), 1, 2)


def test_progress_reports_the_whole_batch_and_changes_nothing_else(memory: Memory) -> None:
    seen: list[tuple[int, int]] = []
    total = 2 * memory.embedder.batch_size + 1
    batch = [{"text": f"item {i}", "ts": i} for i in range(total)]
    quiet = oneiro.open(":memory:", embedder="hashing", clock=FakeClock())
    ids = [e.id for e in memory.record_batch(batch, progress=lambda d, t: seen.append((d, t))).episodes]
    assert seen[-1] == (total, total) and len(seen) == 3
    assert [e.id for e in quiet.record_many(batch)] == ids
    quiet.close()


# -- fuzz: anything at all goes in, only OneiroError comes out, a refusal changes nothing ---------

keys = st.text(max_size=6) | st.integers() | st.none() | st.booleans() | st.tuples(st.integers())
wild_text = st.text(alphabet=st.characters(exclude_categories=()), max_size=12)
leaf = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=10**300, max_value=10**500)
    | st.floats()
    | st.floats(min_value=1e15, max_value=1e308)
    | wild_text
    | st.binary(max_size=4)
    | st.datetimes(timezones=st.none() | st.timezones())
    | st.sampled_from([float("nan"), float("inf"), -float("inf"), 1e12 * 1772.0, object(), {1, 2}])
    | st.integers(min_value=20, max_value=300).map(deep)
    | st.integers(min_value=4_400, max_value=5_000).map(lambda digits: 10**digits)
)
value = st.recursive(
    leaf,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.tuples(inner, inner)
        | st.dictionaries(keys, inner, max_size=3)
        | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=10,
)
field_names = st.sampled_from(
    [
        "text",
        "ts",
        "session",
        "actor",
        "kind",
        "data",
        "context",
        "affect",
        "prediction",
        "outcome",
        "feedback",
        "refs",
        "provenance",
    ]
)
record = st.dictionaries(field_names | keys, value, max_size=6) | st.fixed_dictionaries(
    {"text": st.text(min_size=1, max_size=20)}, optional={"ts": value, "data": value, "prediction": value}
)
anything = record | value
FUZZ_COUNT = {"api": 0, "refused": 0}


@pytest.fixture(scope="module")
def fuzz_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Memory, Path]]:
    path = tmp_path_factory.mktemp("fuzz") / "fuzz.db"
    memory = oneiro.open(path, embedder="hashing", clock=FakeClock())
    stage_hypothesis(memory)
    yield memory, path
    memory.close()
    print(
        f"\nAPI fuzz: {FUZZ_COUNT['api']} generated inputs, {FUZZ_COUNT['refused']} refused with OneiroError"
    )


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(batch=st.lists(anything, min_size=1, max_size=3), one=st.booleans())
def test_fuzz_only_oneiro_errors_and_a_refusal_changes_nothing(
    fuzz_store: tuple[Memory, Path], batch: list[Any], one: bool
) -> None:
    memory, path = fuzz_store
    before = iterdump(path)
    FUZZ_COUNT["api"] += 1
    try:
        if one:
            memory.record(batch[0])
        else:
            memory.record_many(batch)
    except OneiroError:
        FUZZ_COUNT["refused"] += 1
        assert iterdump(path) == before
