"""The trading example runs offline and prints the on/off comparison and the concentration vector."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "trading" / "allocate.py"


def _load() -> object:
    spec = importlib.util.spec_from_file_location("allocate", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["allocate"] = module
    spec.loader.exec_module(module)
    return module


def test_strategy_returns_use_past_prices_only() -> None:
    allocate = _load()
    a = allocate.Market.simulate(120, 3)  # type: ignore[attr-defined]
    assert a.strategy_returns.shape == (120, 6)
    assert np.all(a.strategy_returns[:, -1] == 0.0)  # cash
    np.testing.assert_allclose(a.strategy_returns[:, 4], a.returns * 100)  # buy and hold


def test_the_example_prints_both_twins_and_the_mix(capsys: pytest.CaptureFixture[str]) -> None:
    allocate = _load()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("sys.argv", ["allocate", "--steps", "96", "--seed", "1"])
        allocate.main()  # type: ignore[attr-defined]
    out = capsys.readouterr().out
    assert "awake twin: P&L" in out and "dream twin: P&L" in out
    assert "concentration vector" in out and "dream - awake P&L" in out
