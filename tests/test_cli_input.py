"""The CLI on hostile input: bad paths, bad records, read-only and foreign stores. Each gets one
line naming the path or field, exit status 2, and an unchanged store; a defect gets one line and
exit status 1. Also what the commands tell: new vs duplicate records, the store's embedder, whole
cycle ids and UTC times."""

from __future__ import annotations

import io
import json
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console

from conftest import dump_file
from oneiro.cli import awake
from oneiro.memory import Memory
from test_cli_awake import jsonl, run
from test_store_paths import immutable

GOOD = [
    {
        "text": "Maya moved the nightly build to 02:00 UTC",
        "actor": "maya",
        "session": "chat-1",
        "ts": 1_772_000_000,
    },
    {"text": "Ravi renamed the bucket", "actor": "ravi", "session": "chat-1", "ts": 1_772_000_100},
]




def one_line_error(out: str) -> bool:
    return out.startswith("error:") and len(out.strip().splitlines()) == 1 and "Traceback" not in out


@pytest.fixture
def ready(home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    assert run(monkeypatch, "init")[0] == 0
    assert run(monkeypatch, "record", "-", stdin=jsonl(GOOD))[0] == 0
    return home


# -- paths --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command", [("status",), ("init",), ("recall", "x"), ("record", "-"), ("journal",), ("brief",)]
)
@pytest.mark.parametrize("target", ["regular-file", "/dev/null", "under-a-file"])
def test_home_that_is_not_a_directory_exits_2_and_creates_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: tuple[str, ...], target: str
) -> None:
    plain = tmp_path / "plain.txt"
    plain.write_text("not a state directory")
    home = {"regular-file": str(plain), "/dev/null": "/dev/null", "under-a-file": str(plain / "sub")}[target]
    code, out = run(monkeypatch, *command, "--home", home, stdin=jsonl(GOOD[:1]))
    assert code == 2 and one_line_error(out), out
    assert "--home" in out and home.split("/")[1] in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plain.txt"]
    assert plain.read_text() == "not a state directory"


def test_record_given_a_directory_exits_2_naming_it(ready: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = dump_file(ready / "oneiro.db")
    code, out = run(monkeypatch, "record", str(ready))
    assert code == 2 and one_line_error(out) and "is a directory" in out and str(ready) in out
    assert dump_file(ready / "oneiro.db") == before


def test_constraints_load_given_a_directory_exits_2(ready: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = dump_file(ready / "oneiro.db")
    code, out = run(monkeypatch, "playbook", "constraints", "--load", str(ready))
    assert code == 2 and one_line_error(out) and "is a directory" in out
    assert dump_file(ready / "oneiro.db") == before


def test_a_foreign_database_as_the_store_exits_2_untouched(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn = sqlite3.connect(home / "oneiro.db")
    conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
    conn.commit()
    conn.close()
    before = (home / "oneiro.db").read_bytes()
    for args in (("status",), ("record", "-")):
        code, out = run(monkeypatch, *args, stdin=jsonl(GOOD))
        assert code == 2 and one_line_error(out) and "not an oneiro store" in out
    assert (home / "oneiro.db").read_bytes() == before


@pytest.mark.parametrize("what", ["file", "directory"])
def test_an_immutable_store_reads_and_refuses_writes(
    ready: Path, monkeypatch: pytest.MonkeyPatch, what: str
) -> None:
    assert run(monkeypatch, "dream")[0] == 0
    store = ready / "oneiro.db"
    before = dump_file(store)
    with immutable(store if what == "file" else ready):
        for args in (("status",), ("recall", "nightly build"), ("journal",), ("brief",), ("hypotheses",)):
            code, out = run(monkeypatch, *args)
            assert code == 0, (args, out)
        assert "Maya moved" in run(monkeypatch, "recall", "nightly build")[1]
        for args in (("record", "-"), ("dream",), ("playbook", "policy", "auto")):
            code, out = run(monkeypatch, *args, stdin=jsonl([{"text": "more"}]))
            assert code == 2 and one_line_error(out) and "read-only" in out, (args, out)
    assert dump_file(store) == before


def test_init_with_an_unknown_embedder_writes_no_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ONEIRO_HOME", raising=False)
    root = tmp_path / "fresh"
    code, out = run(monkeypatch, "init", "--home", str(root), "--embedder", "bert")
    assert code == 2 and one_line_error(out) and "embedder.name" in out
    assert not root.exists()


# -- records through JSON lines -----------------------------------------------------------------

HUGE = "1" + "0" * 400
BAD_LINES = [
    (b'{"text": "x", "ts": 1e300}', "field 'ts'"),
    (b'{"text": "x", "ts": 1772000000000}', "milliseconds"),
    (b'{"text": "x", "ts": -1e18}', "field 'ts'"),
    (b'{"text": "x", "ts": "0001-01-01T00:00:00+23:59"}', "field 'ts'"),
    (b'{"text": "x", "prediction": ' + HUGE.encode() + b"}", "field 'prediction'"),
    (b'{"text": "x", "data": {"n": ' + HUGE.encode() + b"}}", "field 'data'"),
    (b'{"text": "x", "data": {"d": ' + b"[" * 200 + b"]" * 200 + b"}}", "field 'data'"),
    (b'{"text": "x", "data": {"v": NaN}}', "field 'data'"),
    (b'{"text": "x", "outcome": Infinity}', "field 'outcome'"),
    (b'{"text": "x", "data": {"s": "\\ud800"}}', "field 'data'"),
    (b'{"text": "x", "refs": ["\\udfff"]}', "field 'refs'"),
    (b'{"text": "x", "prediction": 1e308, "outcome": -1e308}', "field 'prediction'"),
    (b'{"text": "x", "1": 2, "b": 3}', "field '1'"),
]


@pytest.mark.parametrize(("line", "needle"), BAD_LINES)
def test_bad_lines_exit_2_and_change_nothing(
    ready: Path, monkeypatch: pytest.MonkeyPatch, line: bytes, needle: str
) -> None:
    before = dump_file(ready / "oneiro.db")
    code, out = run(monkeypatch, "record", "-", stdin=jsonl(GOOD) + line + b"\n")
    assert code == 2 and one_line_error(out) and needle in out and "line 3" in out, out
    assert dump_file(ready / "oneiro.db") == before


# -- what the commands tell ---------------------------------------------------------------------


def test_record_says_how_many_were_new(ready: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    more = jsonl([*GOOD, {"text": "a new one", "ts": 1_772_000_200}])
    code, out = run(monkeypatch, "record", "-", stdin=more)
    assert (code, out.strip()) == (0, "recorded 3 episodes: 1 new, 2 already stored")


def test_status_shows_the_stores_embedder_and_a_differing_configured_one(
    ready: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (ready / "oneiro.toml").write_text('[embedder]\nname = "hashing"\nhashing_dim = 64\n', encoding="utf-8")
    code, out = run(monkeypatch, "status", "--json")
    info = json.loads(out)
    assert code == 0 and info["embedder"] == {"name": "hashing-384", "dim": 384}
    assert info["configured_embedder"] == {"name": "hashing-64", "dim": 64}
    code, out = run(monkeypatch, "status")
    assert "embedder: hashing-384" in out and "configured embedder: hashing-64" in out


def test_journal_shows_whole_cycle_ids_that_revert_takes_and_utc_times(
    ready: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run(monkeypatch, "dream")[0] == 0
    conn = sqlite3.connect(ready / "oneiro.db")
    cycle_id, started = conn.execute("SELECT id, started_at FROM cycles").fetchone()
    conn.close()
    monkeypatch.setenv("COLUMNS", "60")
    code, out = run(monkeypatch, "journal")
    assert code == 0 and cycle_id in out
    from datetime import UTC, datetime

    assert datetime.fromtimestamp(started, UTC).strftime("%Y-%m-%d %H:%M:%S") in out
    assert not re.search(rf"\b{int(started)}\b", out)
    assert run(monkeypatch, "revert", cycle_id)[0] == 0


def test_progress_is_drawn_only_on_a_terminal(ready: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    records = jsonl(
        [{"text": f"line {i}", "ts": 1_772_000_000 + i} for i in range(awake.PROGRESS_MIN_RECORDS)]
    )
    code, out = run(monkeypatch, "record", "-", stdin=records)
    assert (code, out.strip()) == (
        0,
        f"recorded {awake.PROGRESS_MIN_RECORDS} episodes: 1000 new, 0 already stored",
    )
    terminal = io.StringIO()
    monkeypatch.setattr(awake, "err_console", Console(file=terminal, force_terminal=True, width=80))
    more = jsonl([{"text": f"other {i}", "ts": 1_772_000_000 + i} for i in range(awake.PROGRESS_MIN_RECORDS)])
    assert run(monkeypatch, "record", "-", stdin=more)[0] == 0
    assert "embedding" in terminal.getvalue()


# -- a defect is reported as one, in one line ---------------------------------------------------


def test_a_defect_exits_1_with_one_line_and_debug_shows_the_traceback(
    ready: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: Memory) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(Memory, "status", broken)
    code, out = run(monkeypatch, "status")
    assert code == 1 and one_line_error(out) and "internal error (RuntimeError: a bug)" in out
    monkeypatch.setenv("ONEIRO_DEBUG", "1")
    with pytest.raises(RuntimeError, match="a bug"):
        run(monkeypatch, "status")


# -- fuzz: JSON lines with a bad value anywhere -------------------------------------------------

json_leaf = st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.text(max_size=8)
overflowing = st.integers(min_value=10**309, max_value=10**500) | st.sampled_from(
    ["NaN", "Infinity", "-Infinity", "1e400", "-1e999"]
)
hostile_number = (
    st.integers(min_value=10**16, max_value=10**500)
    | st.sampled_from(["NaN", "Infinity", "-Infinity", "1e400", "-1e999"])
    | st.floats(min_value=1e16, max_value=1e308)
)
bad_field = st.one_of(
    st.tuples(
        st.just("ts"),
        hostile_number
        | st.floats(min_value=7.3e9, max_value=1e20)
        | st.floats(max_value=-1.0, min_value=-1e20),
    ),
    st.tuples(st.sampled_from(["prediction", "outcome"]), hostile_number),
    st.tuples(st.just("feedback"), hostile_number | st.floats(min_value=1.01, max_value=1e9)),
    st.tuples(
        st.sampled_from(["data", "context"]),
        st.integers(min_value=33, max_value=300).map(lambda n: {"d": "[" * n + "]" * n}),
    ),
    st.tuples(st.sampled_from(["data", "context"]), overflowing.map(lambda v: {"v": v})),
    st.tuples(
        st.sampled_from(["text", "session", "actor", "kind"]),
        st.sampled_from(['"\\ud800"', '"a\\udfffb"', "17", "[]", "{}"]),
    ),
    st.tuples(st.just("refs"), st.sampled_from(['["\\ud800"]', "[1]", '"x"'])),
    st.tuples(st.just("affect"), st.sampled_from(["[1e400, 0, 0]", '{"arousal": NaN}', '{"x": 1}'])),
    st.tuples(st.text(min_size=1, max_size=6).filter(lambda k: k not in awake.capture.FIELDS), st.just("1")),
)
FUZZ_COUNT = {"cli": 0}


@pytest.fixture(scope="module", autouse=True)
def report_fuzz_count() -> Any:
    yield
    print(f"\nCLI fuzz: {FUZZ_COUNT['cli']} generated inputs fed to `oneiro record`")


def raw_json(value: Any) -> str:
    """JSON text where strings that are already JSON tokens (NaN, escapes) are kept verbatim."""
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{raw_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return repr(value)
    return json.dumps(value)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    good=st.lists(st.text(min_size=1, max_size=20).filter(str.strip), max_size=3),
    bad=bad_field,
    at=st.integers(0, 3),
)
def test_fuzz_a_bad_value_in_any_line_exits_2_and_changes_nothing(
    ready: Path, monkeypatch: pytest.MonkeyPatch, good: list[str], bad: tuple[str, Any], at: int
) -> None:
    FUZZ_COUNT["cli"] += 1
    lines = [json.dumps({"text": t, "data": {"k": 1}}) for t in good]
    key, value = bad
    record = {"text": '"fuzzed"', key: value} if key != "text" else {"text": value}
    lines.insert(min(at, len(lines)), raw_json(record))
    before = dump_file(ready / "oneiro.db")
    code, out = run(monkeypatch, "record", "-", stdin="\n".join(lines).encode() + b"\n")
    assert code == 2 and one_line_error(out), (lines, out)
    assert dump_file(ready / "oneiro.db") == before
