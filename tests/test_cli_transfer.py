"""``oneiro forget``, ``export`` and ``import`` through the console script."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from test_cli_awake import jsonl, run

RECORDS = [
    {"text": f"zara said the locker code is tangerine{i}", "actor": "zara", "session": "a", "ts": 1.77e9 + i}
    for i in range(3)
] + [
    {"text": f"li fixed the flaky test number {i}", "actor": "li", "session": "b", "ts": 1.77e9 + 10 + i}
    for i in range(3)
]


def test_forget_dry_run_then_forget_then_export_and_import(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run(monkeypatch, "record", "-", stdin=jsonl(RECORDS))[0] == 0
    assert run(monkeypatch, "dream")[0] == 0
    code, out = run(monkeypatch, "forget", "--actor", "zara", "--dry-run", "--json")
    assert code == 0 and len(json.loads(out)["episodes"]) == 3
    code, out = run(monkeypatch, "recall", "locker code", "--json")
    assert "tangerine" in out
    code, out = run(monkeypatch, "forget", "--actor", "zara")
    assert code == 0 and "forgot 3 episodes" in out
    code, out = run(monkeypatch, "recall", "locker code tangerine0", "--json")
    assert code == 0 and "tangerine" not in out
    assert run(monkeypatch, "journal", "--verify")[0] == 0
    export = tmp_path / "store.jsonl"
    assert run(monkeypatch, "export", str(export))[0] == 0
    assert "tangerine" not in export.read_text()
    other = tmp_path / "other"
    other.mkdir()
    (other / "oneiro.toml").write_text('[embedder]\nname = "hashing"\n')
    code, out = run(monkeypatch, "import", str(export), "--home", str(other))
    assert code == 0 and "3 episodes" in out, out
    code, out = run(monkeypatch, "import", str(export), "--home", str(other))
    assert code == 2 and "empty store" in out


def test_forget_without_a_selector_and_import_of_a_directory_are_clear_errors(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out = run(monkeypatch, "forget")
    assert code == 2 and "say what to forget" in out
    code, out = run(monkeypatch, "import", str(tmp_path))
    assert code == 2 and "not a file" in out
    assert "Traceback" not in out
