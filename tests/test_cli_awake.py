"""The awake commands through the real entry point: init, record, recall, status, and errors that
exit 2 with one line and write nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import dump_file
from oneiro.cli import app, main

EPISODES = [
    {"text": "Maya moved the nightly build to 02:00 UTC", "actor": "maya", "session": "chat-1"},
    {"text": "Ravi renamed the S3 bucket to oneiro-artifacts", "actor": "ravi", "session": "chat-1"},
    {"text": "The staging cluster ran out of disk", "actor": "bot", "session": "ops", "kind": "error"},
]


def jsonl(records: list[dict[str, object]]) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


def run(monkeypatch: pytest.MonkeyPatch, *args: str, stdin: bytes | None = None) -> tuple[int, str]:
    """Run ``oneiro.cli.main`` as the console script does; return (exit status, all output)."""
    monkeypatch.setattr(sys, "argv", ["oneiro", *args])
    with CliRunner().isolation(input=stdin) as (_out, _err, both):
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        output = both.getvalue().decode()
    return code, output


@pytest.fixture
def ready(home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An initialised state directory holding EPISODES."""
    assert run(monkeypatch, "init")[0] == 0
    (home / "day.jsonl").write_bytes(jsonl(EPISODES))
    assert run(monkeypatch, "record", str(home / "day.jsonl"))[0] == 0
    return home


def test_init_creates_the_store_and_is_safe_to_repeat(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, out = run(monkeypatch, "init")
    assert code == 0 and "store ready" in out and str(home / "oneiro.db") in out
    assert (home / "oneiro.db").exists()
    code, out = run(monkeypatch, "init")
    assert code == 0 and "0 episodes" in out


def test_init_with_home_option_writes_the_embedder_choice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ONEIRO_HOME", raising=False)
    root = tmp_path / "elsewhere"
    code, _ = run(monkeypatch, "init", "--home", str(root), "--embedder", "hashing")
    assert code == 0
    assert 'name = "hashing"' in (root / "oneiro.toml").read_text()
    assert (root / "oneiro.db").exists()


def test_record_from_a_file(ready: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, out = run(monkeypatch, "status", "--json")
    assert code == 0
    assert json.loads(out)["episodes"] == 3


@pytest.mark.parametrize("args", [("record",), ("record", "-")])
def test_record_from_stdin(ready: Path, monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...]) -> None:
    more = (
        jsonl([{"text": "Lena prefers reviews in the morning"}]) + b"\n\n" + jsonl([{"text": "Tea at four"}])
    )
    code, out = run(monkeypatch, *args, stdin=more)
    assert (code, out.strip()) == (0, "recorded 2 episodes: 2 new, 0 already stored")
    assert json.loads(run(monkeypatch, "status", "--json")[1])["episodes"] == 5


def test_recall_as_json(ready: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, out = run(monkeypatch, "recall", "when does the nightly build run?", "-k", "2", "--json")
    assert code == 0
    hits = json.loads(out)
    assert len(hits) == 2
    assert hits[0]["text"] == EPISODES[0]["text"]
    assert hits[0]["type"] == "episode" and hits[0]["sources"] == [hits[0]["id"]]
    assert hits[0]["score"] >= hits[1]["score"]


def test_recall_filters_by_session(ready: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, out = run(monkeypatch, "recall", "build bucket disk", "--session", "ops", "--json")
    assert code == 0
    assert [h["text"] for h in json.loads(out)] == [EPISODES[2]["text"]]


def test_recall_as_a_table(ready: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, out = run(monkeypatch, "recall", "bucket renamed", "-k", "1")
    assert code == 0
    assert "score" in out and "ravi" in out and "bucket" in out
    assert "nightly" not in out


def test_status_as_text(ready: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, out = run(monkeypatch, "status")
    assert code == 0
    assert "episodes: 3" in out and "hashing-384" in out


def test_the_app_works_under_clirunner_too(ready: Path) -> None:
    result = CliRunner().invoke(app, ["recall", "staging disk", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)[0]["text"] == EPISODES[2]["text"]


# -- errors: status 2, one line, nothing written --------------------------------------------------

BAD_INPUT = [
    (jsonl(EPISODES[:1]) + b'{"text": "half\n', "line 2"),
    (jsonl(EPISODES[:2]) + b'{"text": "caf\xe9"}\n', "line 3"),
    (jsonl(EPISODES[:1]) + jsonl([{"text": "x", "when": "now"}]), "field 'when'"),
    (jsonl([{"text": "   "}]), "field 'text'"),
    (b"\n\n", "no records"),
    (b"[1, 2]\n", "must be an object"),
]


@pytest.mark.parametrize(("data", "needle"), BAD_INPUT)
def test_bad_records_exit_2_with_one_line_and_write_nothing(
    ready: Path, monkeypatch: pytest.MonkeyPatch, data: bytes, needle: str
) -> None:
    before = dump_file(ready / "oneiro.db")
    bad = ready / "bad.jsonl"
    bad.write_bytes(data)
    for args, stdin in ((("record", str(bad)), None), (("record", "-"), data)):
        code, out = run(monkeypatch, *args, stdin=stdin)
        assert code == 2
        assert needle in out and out.startswith("error:")
        assert len(out.strip().splitlines()) == 1
        assert "Traceback" not in out
    assert dump_file(ready / "oneiro.db") == before


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("record", "no-such-file.jsonl"), "does not exist"),
        (("recall", "   "), "query"),
        (("recall", "x", "-k", "0"), "'k'"),
        (("recall", "x", "--embedder", "word2vec"), "embedder.name"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(
    ready: Path, monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...], needle: str
) -> None:
    before = dump_file(ready / "oneiro.db")
    code, out = run(monkeypatch, *args)
    assert code == 2 and needle in out
    assert len(out.strip().splitlines()) == 1
    assert dump_file(ready / "oneiro.db") == before


def test_a_bad_config_exits_2_and_creates_no_store(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (home / "oneiro.toml").write_text("[lifecycle]\nconfidence_flor = 0.4\n", encoding="utf-8")
    code, out = run(monkeypatch, "status")
    assert code == 2 and "lifecycle.confidence_flor" in out
    assert len(out.strip().splitlines()) == 1
    assert not (home / "oneiro.db").exists()


def test_a_bad_record_before_init_creates_no_store(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, out = run(monkeypatch, "record", "-", stdin=b'{"text": ""}\n')
    assert code == 2 and "field 'text'" in out
    assert not (home / "oneiro.db").exists()


def test_an_error_quoting_markup_is_printed_verbatim(ready: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, out = run(monkeypatch, "record", "-", stdin=jsonl([{"text": "x", "ts": "[/red] at noon"}]))
    assert code == 2 and "[/red] at noon" in out


def test_the_console_script_exits_2_on_bad_input(ready: Path) -> None:
    env = {**os.environ, "ONEIRO_HOME": str(ready)}
    proc = subprocess.run(
        [sys.executable, "-c", "from oneiro.cli import main; main()", "record", "-"],
        input=b'{"text": "fine"}\n{"text": NaN}\n',
        capture_output=True,
        env=env,
        check=False,
    )
    output = (proc.stdout + proc.stderr).decode()
    assert proc.returncode == 2
    assert "line 2" in output and len(output.strip().splitlines()) == 1
