"""The README is part of the interface: every command is documented, and the Python example runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer

from oneiro.cli import app
from oneiro.config import load_config

README = Path(__file__).resolve().parents[1] / "README.md"

#: Commands that exist but are not in the README yet; each is a README fix waiting to be made.
UNDOCUMENTED: set[str] = set()


def readme() -> str:
    return README.read_text(encoding="utf-8")


def code_blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", readme(), flags=re.DOTALL)


def commands() -> list[str]:
    """Every command path: 'record', and 'playbook show' for a group's subcommands."""
    root = typer.main.get_command(app)
    out: list[str] = []
    for name, cmd in sorted(getattr(root, "commands", {}).items()):
        if getattr(cmd, "hidden", False):
            continue
        out.append(name)
        out.extend(f"{name} {sub}" for sub in sorted(getattr(cmd, "commands", {}) or {}))
    return out


def documented(path: str) -> bool:
    """``oneiro record`` documents ``record``; a line starting ``oneiro playbook`` that names
    ``show`` documents ``playbook show`` (so ``oneiro playbook show|diff`` counts for both)."""
    head, *sub = path.split()
    lines = [line.strip() for block in code_blocks("(?:sh|console|bash)") for line in block.splitlines()]
    for line in lines:
        if not re.match(rf"oneiro {re.escape(head)}\b", line):
            continue
        if not sub or re.search(rf"\b{re.escape(sub[0])}\b", line[len("oneiro " + head) :]):
            return True
    return False


def test_the_command_list_is_not_empty() -> None:
    assert {"init", "record", "recall", "status"} <= set(commands())


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(
            p,
            marks=pytest.mark.xfail(strict=True, reason=f"README.md does not show 'oneiro {p}' yet"),
        )
        if p in UNDOCUMENTED
        else p
        for p in commands()
    ],
)
def test_every_command_is_in_the_readme(path: str) -> None:
    assert documented(path), (
        f"add 'oneiro {path}' with a one-line comment to README.md's command line section"
    )


def test_the_python_example_runs(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (example,) = code_blocks("python")
    monkeypatch.chdir(tmp_path)
    exec(compile(example, str(README), "exec"), {"__name__": "readme_example"})
    printed = capsys.readouterr().out.strip().splitlines()
    assert printed, "the example prints its recall hits"
    assert "nightly build" in printed[0]
    assert (tmp_path / "agent.db").exists()


def test_the_configuration_example_loads(tmp_path: Path) -> None:
    (toml,) = re.findall(r"```toml\n(.*?)```", readme(), flags=re.DOTALL)
    (tmp_path / "oneiro.toml").write_text(toml, encoding="utf-8")
    config = load_config(tmp_path)
    assert config.embedder.name == "hashing"
    assert config.lifecycle.confidence_floor == 0.3
