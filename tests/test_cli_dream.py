"""The dream commands through the real entry point: dream (and --dry-run, and SIGINT), journal
(list, one cycle, --verify), revert, daemon --once; bad input exits 2 and writes nothing."""

from __future__ import annotations

import json
import signal
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import dump_file
from test_cli_awake import EPISODES, jsonl, run


@pytest.fixture
def ready(home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    assert run(monkeypatch, "init")[0] == 0
    (home / "day.jsonl").write_bytes(jsonl(EPISODES))
    assert run(monkeypatch, "record", str(home / "day.jsonl"))[0] == 0
    return home


def cycles(home: Path) -> list[tuple[str, str]]:
    conn = sqlite3.connect(home / "oneiro.db")
    try:
        return [(r[0], r[1]) for r in conn.execute("SELECT id, status FROM cycles ORDER BY started_at")]
    finally:
        conn.close()


def test_dream_then_journal_lists_shows_and_verifies(ready: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, out = run(monkeypatch, "dream")
    assert code == 0 and "status: completed" in out
    for phase in ("ONSET", "NREM", "REM", "EVOLUTION", "INTEGRATION", "RETURN"):
        assert phase in out
    [(cycle_id, status)] = cycles(ready)
    assert status == "completed"
    code, out = run(monkeypatch, "journal")
    assert code == 0 and "completed" in out
    code, out = run(monkeypatch, "journal", "--json")
    assert code == 0 and cycle_id in out
    code, out = run(monkeypatch, "journal", cycle_id)
    assert code == 0 and "cycle_start" in out and "cycle_completed" in out and "rem" in out
    code, out = run(monkeypatch, "journal", "--verify")
    assert code == 0 and "hash chain intact" in out


def test_journal_verify_names_a_corrupted_record(ready: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert run(monkeypatch, "dream")[0] == 0
    conn = sqlite3.connect(ready / "oneiro.db")
    conn.execute("DROP TRIGGER journal_append_only")
    conn.execute("UPDATE journal SET payload = '{\"forged\": true}' WHERE seq = 3")
    conn.commit()
    conn.close()
    before = dump_file(ready / "oneiro.db")
    code, out = run(monkeypatch, "journal", "--verify")
    assert code == 2 and "record 3" in out and "altered" in out
    assert dump_file(ready / "oneiro.db") == before


def test_dry_run_writes_nothing(ready: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = dump_file(ready / "oneiro.db")
    code, out = run(monkeypatch, "dream", "--dry-run")
    assert code == 0 and "DRY RUN: nothing written" in out
    assert dump_file(ready / "oneiro.db") == before


def test_a_bad_budget_exits_2_and_writes_nothing(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, out = run(monkeypatch, "dream", "--seconds", "0")
    assert code == 2 and "positive" in out
    assert not (home / "oneiro.db").exists()


def test_revert_and_its_errors(ready: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert run(monkeypatch, "dream")[0] == 0
    [(cycle_id, _)] = cycles(ready)
    code, out = run(monkeypatch, "revert", cycle_id)
    assert code == 0 and f"reverted {cycle_id}" in out
    assert cycles(ready) == [(cycle_id, "reverted")]
    before = dump_file(ready / "oneiro.db")
    code, out = run(monkeypatch, "revert", cycle_id)
    assert code == 2 and "already reverted" in out
    code, out = run(monkeypatch, "revert", "c-unknown")
    assert code == 2 and "c-unknown" in out
    code, out = run(monkeypatch, "journal", "c-unknown")
    assert code == 2
    assert dump_file(ready / "oneiro.db") == before


CTRL_C_PLUGIN = """
import os, signal

from oneiro.dream.phase import Outcome
from oneiro.plugins import hookimpl


class CtrlC:
    \"\"\"Presses Ctrl-C the first time it runs (REM), as a user would mid-dream.\"\"\"

    name, tier, pressed = "ctrl-c", "T0", 0

    def run(self, snap, ctx, carry):
        if not CtrlC.pressed:
            CtrlC.pressed += 1
            os.kill(os.getpid(), signal.SIGINT)
        return Outcome()


@hookimpl
def register_operations(register):
    register("rem", CtrlC(), order=5)
"""


@pytest.fixture
def installed_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A third-party package in the ``oneiro`` entry-point group, installed on ``sys.path`` the
    way pip lays one out (a module and its dist-info): the CLI can only load plugins that way."""
    site = tmp_path / "site"
    (site / "ctrl_c_plugin-0.1.dist-info").mkdir(parents=True)
    (site / "ctrl_c_plugin.py").write_text(CTRL_C_PLUGIN, encoding="utf-8")
    info = site / "ctrl_c_plugin-0.1.dist-info"
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: ctrl-c-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[oneiro]\nctrl_c = ctrl_c_plugin\n")
    monkeypatch.syspath_prepend(str(site))
    yield "ctrl_c"
    sys.modules.pop("ctrl_c_plugin", None)


def test_sigint_wakes_the_cycle_and_the_next_dream_resumes(
    ready: Path, monkeypatch: pytest.MonkeyPatch, installed_plugin: str
) -> None:
    code, out = run(monkeypatch, "plugins", "--json")
    listed = [r for r in json.loads(out) if r["plugin"] == installed_plugin]
    assert code == 0 and listed == [
        {"kind": "operation", "name": "ctrl-c", "plugin": "ctrl_c", "detail": "rem #5 T0"}
    ]
    # What the process had before (the default handler, or SIG_IGN when started in the background).
    handler_before = signal.getsignal(signal.SIGINT)
    code, out = run(monkeypatch, "dream")
    assert code == 0 and "status: interrupted" in out
    [(cycle_id, status)] = cycles(ready)
    assert status == "interrupted"
    code, out = run(monkeypatch, "dream")
    assert code == 0 and "status: completed" in out and "resumed" in out
    assert cycles(ready) == [(cycle_id, "completed")]
    assert signal.getsignal(signal.SIGINT) == handler_before  # restored, whatever it was


def test_daemon_once_waits_then_dreams_when_the_scheduler_says_so(
    ready: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out = run(monkeypatch, "daemon", "--once")
    assert code == 0 and "scheduler: wait" in out and cycles(ready) == []
    (ready / "oneiro.toml").write_text(
        '[embedder]\nname = "hashing"\n[scheduler]\nbacklog_threshold = 2\n', encoding="utf-8"
    )
    code, out = run(monkeypatch, "daemon", "--once")
    assert code == 0 and "scheduler: dream" in out
    assert [s for _, s in cycles(ready)] == ["completed"]
