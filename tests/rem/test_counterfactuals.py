"""REM counterfactual replay: imagined returns per action, refusals when nothing can be claimed."""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any

import numpy as np

from oneiro.config import Config
from oneiro.dream.ops.rem.counterfactuals import Counterfactuals
from oneiro.dream.phase import Carry
from oneiro.model import Episode


def _ep(i: int, action: str, x: float, outcome: float | None) -> Episode:
    return Episode(
        id=f"e{i}",
        ts=float(i),
        text="d",
        kind="decision",
        data={"action": action},
        context={"x": x},
        prediction=0.0,
        outcome=outcome,
    )


class _Snap:
    def __init__(self, eps: list[Episode]) -> None:
        self.new_episodes = eps

    def episodes(self, ids: Any) -> dict[str, Episode]:
        return {e.id: e for e in self.new_episodes if e.id in set(ids)}


def _ctx() -> Any:
    return SimpleNamespace(
        config=Config(), rng=np.random.default_rng(0), budget=SimpleNamespace(exhausted=lambda: False)
    )


def test_imagined_returns_rank_the_better_action() -> None:
    rng = np.random.default_rng(1)
    eps = [_ep(i, "a" if i % 2 else "b", float(rng.uniform()), None) for i in range(60)]
    eps = [
        Episode(
            **{
                **e.__dict__,
                "outcome": (1.0 if e.data["action"] == "a" else 0.0) + 0.1 * float(rng.standard_normal()),
            }
        )
        for e in eps
    ]
    out = Counterfactuals().run(_Snap(eps), _ctx(), Carry())  # type: ignore[arg-type]
    got = {r["action"]: r for r in out.carry.imagined_returns or []}
    assert got["a"]["mean"] > got["b"]["mean"] + 0.5
    assert got["a"]["low"] <= 1.0 <= got["a"]["high"] + 0.1
    assert len(out.carry.counterfactuals or []) == 60


def test_one_action_or_bad_outcomes_claim_nothing() -> None:
    eps = [_ep(i, "a", 0.5, o) for i, o in enumerate([1.0, math.inf, math.nan, None, 2.0, 3.0, 1.0, 0.0])]
    out = Counterfactuals().run(_Snap(eps), _ctx(), Carry())  # type: ignore[arg-type]
    assert out.carry.imagined_returns is None
    assert out.writes.notes[0].kind == "counterfactuals_skipped"
    assert out.did["skipped"] == 3


def test_the_closed_form_ridge_is_scikit_learns() -> None:
    from sklearn.linear_model import Ridge

    from oneiro.dream.ops.rem.scm import RIDGE_ALPHA, ridge

    rng = np.random.default_rng(3)
    Z = rng.normal(size=(30, 4))
    y = Z @ np.array([1.0, -2.0, 0.5, 0.0]) + 0.7 + rng.normal(size=30)
    coef, intercept = ridge(Z, y)
    ref = Ridge(alpha=RIDGE_ALPHA).fit(Z, y)
    assert np.allclose(coef, ref.coef_) and math.isclose(intercept, float(ref.intercept_))
