"""record(): validation that names the field and line, all-or-nothing batches, importance."""

from __future__ import annotations

import math
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import oneiro
from conftest import FakeClock, dump_file, file_digests
from oneiro.capture import importance, novelty, validate
from oneiro.cli.awake import read_jsonl
from oneiro.config import CaptureConfig
from oneiro.errors import InvalidInput
from oneiro.memory import Memory
from oneiro.model import Affect, Episode

NAN, INF = float("nan"), float("inf")


def test_record_one_returns_the_stored_episode(memory: Memory, clock: FakeClock) -> None:
    ep = memory.record(
        {"text": "Maya moved the nightly build to 02:00 UTC", "actor": "maya", "session": "chat-1"}
    )
    assert ep.ts == clock.now
    assert ep.kind == "message"
    assert memory.store.episodes([ep.id]) == {ep.id: ep}
    assert 0 < ep.importance <= 10


def test_record_batch_keeps_order_and_parses_times(memory: Memory) -> None:
    eps = memory.record_many(
        [
            {"text": "first", "ts": "2026-03-02T09:16:00"},
            {"text": "second", "ts": "2026-03-02T09:16:00Z"},
            {"text": "third", "ts": 1_772_443_000},
        ]
    )
    assert [e.text for e in eps] == ["first", "second", "third"]
    assert eps[0].ts == eps[1].ts == datetime(2026, 3, 2, 9, 16, tzinfo=UTC).timestamp()
    assert memory.store.episode_count() == 3
    assert memory.record_many([]) == []


def test_an_episode_can_be_recorded_again_as_is(memory: Memory) -> None:
    ep = memory.record({"text": "felt it", "affect": {"arousal": 0.5}, "data": {"k": (1, 2)}})
    assert ep.data == {"k": [1, 2]}
    assert memory.record(ep).id == ep.id
    assert memory.store.episode_count() == 1


# -- bad input: each a clear InvalidInput naming the field ---------------------------------------

LONG = "x" * 201
BAD: list[tuple[dict[str, Any], str]] = [
    ({"text": ""}, "text"),
    ({"text": "  \n\t "}, "text"),
    ({}, "text"),
    ({"text": 42}, "text"),
    ({"text": LONG}, "text"),
    ({"text": "bad \ud800 surrogate"}, "text"),
    ({"text": "ok", "actor": "bad \udfff"}, "actor"),
    ({"text": "ok", "session": 7}, "session"),
    ({"text": "ok", "kind": ""}, "kind"),
    ({"text": "ok", "ts": "yesterday-ish"}, "ts"),
    ({"text": "ok", "ts": NAN}, "ts"),
    ({"text": "ok", "ts": True}, "ts"),
    ({"text": "ok", "prediction": NAN}, "prediction"),
    ({"text": "ok", "outcome": INF}, "outcome"),
    ({"text": "ok", "outcome": "0.3"}, "outcome"),
    ({"text": "ok", "feedback": 2.0}, "feedback"),
    ({"text": "ok", "feedback": -INF}, "feedback"),
    ({"text": "ok", "data": []}, "data"),
    ({"text": "ok", "data": {"nested": {"deep": [1, NAN]}}}, "data"),
    ({"text": "ok", "data": {"t": (INF,)}}, "data"),
    ({"text": "ok", "data": {"s": "bad \ud800"}}, "data"),
    ({"text": "ok", "data": {"obj": object()}}, "data"),
    ({"text": "ok", "context": {"x": -INF}}, "context"),
    ({"text": "ok", "affect": {"arousal": 1.5}}, "affect"),
    ({"text": "ok", "affect": {"valence": 0.5}}, "affect"),
    ({"text": "ok", "affect": [0.1, NAN, 0.0]}, "affect"),
    ({"text": "ok", "refs": "abc"}, "refs"),
    ({"text": "ok", "refs": [1, 2]}, "refs"),
    ({"text": "ok", "provenance": "dream"}, "provenance"),
    ({"text": "ok", "importance": 9}, "importance"),
    ({"text": "ok", "colour": "blue"}, "colour"),
]


@pytest.fixture
def small_limit(clock: FakeClock) -> Memory:
    return oneiro.open(
        ":memory:", embedder="hashing", clock=clock, overrides={"capture": {"max_text_chars": 200}}
    )


@pytest.mark.parametrize(("raw", "field"), BAD, ids=[f"{f}-{i}" for i, (_, f) in enumerate(BAD)])
def test_bad_input_names_the_field_and_writes_nothing(small_limit: Memory, raw: Any, field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        small_limit.record(raw)
    assert err.value.field == field
    assert f"field '{field}'" in str(err.value)
    assert small_limit.store.episode_count() == 0


def test_text_limit_comes_from_the_config(small_limit: Memory) -> None:
    small_limit.record({"text": "x" * 200})
    with pytest.raises(InvalidInput, match="limit is 200"):
        small_limit.record({"text": "y" * 201})


@pytest.mark.parametrize("raw", ["just text", ["a list"], None, 3.5])
def test_a_record_must_be_an_object(memory: Memory, raw: Any) -> None:
    with pytest.raises(InvalidInput, match="must be an object"):
        memory.record(raw)


def test_bad_item_in_a_batch_names_its_line(memory: Memory) -> None:
    batch = [{"text": "fine"}, {"text": "fine too"}, {"text": "bad", "prediction": NAN}]
    with pytest.raises(InvalidInput) as err:
        memory.record_many(batch, lines=[3, 5, 8])
    assert err.value.line == 8 and err.value.field == "prediction"
    assert str(err.value).startswith("line 8, field 'prediction'")
    assert memory.store.episode_count() == 0


# -- JSON lines ----------------------------------------------------------------------------------


def test_jsonl_skips_blank_lines_and_keeps_line_numbers() -> None:
    records, lines = read_jsonl(b'{"text": "a"}\n\n  \n{"text": "b"}\r\n', "f.jsonl")
    assert records == [{"text": "a"}, {"text": "b"}]
    assert lines == [1, 4]


@pytest.mark.parametrize(
    ("data", "line", "needle"),
    [
        (b'{"text": "a"}\n{"text": "b\xff\xfe"}\n', 2, "not valid UTF-8"),
        (b'{"text": "a"}\n{"text": "a"}\n{"text": "b",\n', 3, "broken JSON"),
        (b'{"text": "a"}\n{"text": "\\ud800"}\n', 2, "field 'text'"),
        (b'{"text": "a"}\n{"text": "b", "prediction": NaN}\n', 2, "field 'prediction'"),
        (b'{"text": "a"}\n{"text": "b", "when": 1}\n', 2, "field 'when'"),
    ],
)
def test_a_bad_jsonl_line_is_named_and_nothing_is_stored(
    memory: Memory, data: bytes, line: int, needle: str
) -> None:
    with pytest.raises(InvalidInput, match=needle) as err:
        records, lines = read_jsonl(data, "day.jsonl")
        memory.record_many(records, lines=lines)
    assert err.value.line == line
    assert f"line {line}" in str(err.value)
    assert memory.store.episode_count() == 0


# -- all or nothing, checked on the file ---------------------------------------------------------


def _seeded(tmp_path: Path, clock: FakeClock) -> tuple[Memory, Path]:
    path = tmp_path / "batch.db"
    memory = oneiro.open(path, embedder="hashing", clock=clock)
    memory.record_many([{"text": f"seed episode {i}", "actor": "maya"} for i in range(5)])
    memory.store.db.conn().execute("PRAGMA wal_checkpoint(TRUNCATE)")  # type: ignore[attr-defined]
    return memory, path


def test_a_failed_batch_leaves_the_file_byte_for_byte_unchanged(tmp_path: Path, clock: FakeClock) -> None:
    memory, path = _seeded(tmp_path, clock)
    digests, rows = file_digests(path), dump_file(path)
    batch = [{"text": f"new episode {i}"} for i in range(50)] + [{"text": "bad", "data": {"x": NAN}}]
    with pytest.raises(InvalidInput, match="line 51"):
        memory.record_many(batch, lines=list(range(1, 52)))
    assert file_digests(path) == digests
    assert dump_file(path) == rows
    memory.close()


def test_a_batch_failing_mid_write_is_rolled_back(tmp_path: Path, clock: FakeClock) -> None:
    memory, path = _seeded(tmp_path, clock)
    conn = memory.store.db.conn()  # type: ignore[attr-defined]
    conn.execute(
        "CREATE TRIGGER poison BEFORE INSERT ON vectors "
        "WHEN (SELECT text FROM episodes WHERE id = NEW.item_id) = 'poison' "
        "BEGIN SELECT RAISE(ABORT, 'disk trouble'); END"
    )
    rows = dump_file(path)
    batch = [{"text": f"new episode {i}"} for i in range(10)] + [{"text": "poison"}]
    with pytest.raises(sqlite3.IntegrityError, match="disk trouble"):
        memory.record_many(batch)
    assert dump_file(path) == rows
    assert memory.store.episode_count() == 5
    conn.execute("DROP TRIGGER poison")
    assert len(memory.record_many(batch)) == 11
    memory.close()


# -- importance ----------------------------------------------------------------------------------

CAPTURE = CaptureConfig()


def draft(**fields: Any) -> Episode:
    return validate({"text": "the release went out", **fields}, CAPTURE, now=0.0)


@pytest.mark.parametrize("nov", [0.0, 0.3, 1.0])
def test_importance_rises_with_residual_arousal_and_feedback(nov: float) -> None:
    def imp(**fields: Any) -> float:
        return importance(draft(**fields), nov, CAPTURE)

    plain = imp()
    small, large = imp(prediction=0.9, outcome=0.8), imp(prediction=0.9, outcome=0.1)
    assert plain <= small <= large and (nov == 1.0 or small < large)
    calm, aroused = imp(affect={"arousal": 0.1}), imp(affect={"arousal": -0.9})
    assert plain <= calm <= aroused and (nov == 1.0 or calm < aroused)
    mild, strong = imp(feedback=0.2), imp(feedback=-1.0)
    assert plain <= mild <= strong and (nov == 1.0 or mild < strong)


def test_a_surprise_makes_an_episode_count_more(clock: FakeClock) -> None:
    """The README's example: a decision whose outcome missed its prediction by 0.6."""
    scores = []
    for extra in ({}, {"prediction": 0.9, "outcome": 0.3}):
        with oneiro.open(":memory:", embedder="hashing", clock=clock) as memory:
            memory.record({"text": "Released on Friday morning after the review"})
            ep = memory.record({"text": "Released on Friday evening", "kind": "decision", **extra})
            scores.append(ep.importance)
    quiet, surprised = scores
    assert 0 < quiet < surprised <= 10


def test_repeated_content_is_less_novel(memory: Memory) -> None:
    first = memory.record({"text": "the staging cluster ran out of disk", "ts": 1})
    repeat = memory.record({"text": "the staging cluster ran out of disk", "ts": 2})
    assert repeat.importance < first.importance


finite = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False)
unit = st.floats(min_value=-1, max_value=1, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(
    nov=st.floats(0, 1),
    prediction=st.none() | finite,
    outcome=st.none() | finite,
    arousal=st.none() | unit,
    feedback=st.none() | unit,
    kind=st.sampled_from([*CAPTURE.kind_weights, "unknown-kind"]),
)
def test_importance_lies_in_0_10(
    nov: float,
    prediction: float | None,
    outcome: float | None,
    arousal: float | None,
    feedback: float | None,
    kind: str,
) -> None:
    ep = Episode(
        id="x",
        ts=0.0,
        text="t",
        kind=kind,
        prediction=prediction,
        outcome=outcome,
        feedback=feedback,
        affect=None if arousal is None else Affect(0.0, arousal, 0.0),
    )
    value = importance(ep, nov, CAPTURE)
    assert 0.0 <= value <= 10.0 and math.isfinite(value)


def test_novelty_is_one_for_the_first_item_and_zero_for_a_copy(memory: Memory) -> None:
    vecs = memory.embedder.embed(["alpha beta", "alpha beta", "gamma delta"])
    empty = vecs[:0]
    values = novelty(vecs, empty, neighbours=5)
    assert values[0] == 1.0
    assert values[1] == pytest.approx(0.0, abs=1e-6)
    assert 0.0 < values[2] <= 1.0
