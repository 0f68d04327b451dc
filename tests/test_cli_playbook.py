"""The hypotheses, playbook and brief commands, through CliRunner on a temporary state directory."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from oneiro.cli import app
from oneiro.dream.writes import RevisionProposal
from oneiro.memory import open_memory
from oneiro.model import Entry, EntryStatus, Provenance
from oneiro.playbook import Playbook

runner = CliRunner()


def invoke(home: Path, *args: str) -> str:
    result = runner.invoke(app, [*args, "--home", str(home)])
    assert result.exit_code == 0, result.output
    return result.output


def propose(home: Path, text: str, **kw: object) -> str:
    with open_memory(home) as memory:
        return Playbook(memory.store).propose(RevisionProposal("add", "Ops", text, "because", **kw)).id  # type: ignore[arg-type]


def test_playbook_review_cycle_from_the_command_line(home: Path) -> None:
    first = propose(home, "Reconcile before close")
    assert first in invoke(home, "playbook", "show")
    assert "+- **[" in invoke(home, "playbook", "diff", first)
    assert "is active" in invoke(home, "playbook", "approve", first, "--by", "ana")
    shown = json.loads(invoke(home, "playbook", "show", "--json"))
    assert [i["text"] for i in shown["items"]] == ["Reconcile before close"] and shown["pending"] == []
    second = propose(home, "Log every trade")
    assert "rejected" in invoke(home, "playbook", "reject", second, "--reason", "noise")
    third = propose(home, "Page on drawdown")
    invoke(home, "playbook", "approve", third)
    assert "rolled back" in invoke(home, "playbook", "rollback")
    assert "Page on drawdown" not in invoke(home, "playbook", "show")


def test_bad_decisions_exit_with_a_clear_error(home: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["playbook", "approve", "rev-nope", "--home", str(home)])
    assert result.exit_code != 0 and "no revision" in str(result.exception)
    bad = tmp_path / "c.toml"
    bad.write_text("[[constraint]]\nname = 1\n")
    result = runner.invoke(app, ["playbook", "constraints", "--load", str(bad), "--home", str(home)])
    assert result.exit_code != 0 and "name" in str(result.exception)
    assert "no constraints" in invoke(home, "playbook", "constraints")


def test_policy_and_constraints_commands(home: Path, tmp_path: Path) -> None:
    good = tmp_path / "c.toml"
    good.write_text('[[constraint]]\nname = "no-wires"\nkind = "forbidden_text"\npattern = "wire"\n')
    assert "no-wires" in invoke(home, "playbook", "constraints", "--load", str(good))
    assert "policy: auto" in invoke(home, "playbook", "policy", "auto")


def test_hypotheses_lists_confidence_confirmations_and_age(home: Path) -> None:
    with open_memory(home) as memory:
        ep = memory.record({"text": "a decision", "session": "s"})
        hyp = Entry(
            "h1",
            "insight",
            "Fridays are slow",
            (ep.id,),
            Provenance.DREAM,
            confidence=0.3,
            status=EntryStatus.STAGED,
            confirmations=1,
            data={"test": {"type": "text_support"}},
            created_at=memory.clock() - 2 * 86_400,
        )
        memory.store.add_entries([hyp], None, "none")
    [row] = json.loads(invoke(home, "hypotheses", "--json"))
    assert (row["id"], row["status"], row["confidence"], row["confirmations"]) == ("h1", "staged", 0.3, 1)
    assert 1.9 < row["age_days"] < 2.1
    assert "Fridays are slow" in invoke(home, "hypotheses", "--status", "staged")
    assert "no hypotheses" in invoke(home, "hypotheses", "--status", "expired")


def test_brief_prints_the_latest_brief_from_the_journal(home: Path) -> None:
    assert "no brief yet" in invoke(home, "brief")
    with open_memory(home) as memory:
        memory.store.journal_append(1.0, "brief", {"markdown": "# Waking brief: cycle old\n"})
        memory.store.journal_append(2.0, "brief", {"markdown": "# Waking brief: cycle new\n", "to_test": []})
    assert "cycle new" in invoke(home, "brief")
    assert json.loads(invoke(home, "brief", "--json"))["to_test"] == []
