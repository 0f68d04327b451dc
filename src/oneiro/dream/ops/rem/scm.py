"""A structural causal model of one store's decisions: outcome = f_action(context features).

Seed 003 (Imagination Engine) asks REM to imagine what would have happened under another action.
The model here is the simplest one that can answer do(action=a') honestly: one outcome model per
action, fitted only on the decisions where that action was really taken, over the numeric context
features the decisions recorded. Its uncertainty is a bootstrap ensemble (Efron 1979) of ridge
regressions: each replicate is fitted on a resample of that action's decisions, and the spread of
the replicates' predictions is the model's uncertainty about the *expected* outcome under
do(action). Invariants: an episode without an action or with a non-finite outcome (or one beyond
``MAX_MAGNITUDE``) is never used;
an action with fewer than ``min_samples`` decisions gets no model (no counterfactual is claimed
for it); no output is NaN or infinite.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from oneiro.dream.ops.replay import action_of
from oneiro.model import Episode

#: Ridge penalty on standardised features: a weak prior towards no effect of a feature (worth one
#: decision against an action's many), so that a resample with one distinct context value still
#: yields a finite fit (Hoerl & Kennard 1970).
RIDGE_ALPHA = 1.0
#: Largest magnitude of a feature or outcome the model uses: beyond it, a value is treated as
#: non-finite (skipped), since squares and sums of such values overflow float64 in a ridge fit
#: (1e9 squared, over a window of decisions, stays far below float64's 1.8e308).
MAX_MAGNITUDE = 1e9
#: Context fields that name the decision rather than describe its situation.
NOT_FEATURES = frozenset({"action", "key", "context_key", "context"})


def outcome_of(ep: Episode) -> float | None:
    """The finite outcome of a decision episode, else None (missing, NaN or infinite)."""
    value = ep.outcome
    if value is None or isinstance(value, bool):
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) and abs(f) <= MAX_MAGNITUDE else None


def usable(ep: Episode) -> bool:
    return action_of(ep) is not None and outcome_of(ep) is not None


def _numeric(source: Mapping[str, object]) -> dict[str, float]:
    out = {}
    for k, v in source.items():
        if k in NOT_FEATURES or isinstance(v, bool) or not isinstance(v, int | float):
            continue
        f = float(v)
        if math.isfinite(f) and abs(f) <= MAX_MAGNITUDE:
            out[k] = f
    return out


def features_of(ep: Episode) -> dict[str, float]:
    """Numeric, finite context features of a decision (``context`` then ``data["features"]``)."""
    feats = _numeric(ep.context)
    extra = ep.data.get("features")
    if isinstance(extra, Mapping):
        feats.update(_numeric(extra))
    return feats


@dataclass(frozen=True)
class Imagined:
    """The imagined expected outcome under do(action) for one context, and its interval."""

    mean: float
    low: float
    high: float


def ridge(Z: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """Ridge regression of ``y`` on ``Z`` with an unpenalised intercept (centred normal
    equations, solved by LAPACK through numpy): the closed form scikit-learn's ``Ridge`` solves
    too, without its per-call validation, which dominated a bootstrap of small fits."""
    zm, ym = Z.mean(axis=0), float(y.mean())
    if Z.shape[1] == 0:
        return np.zeros(0), ym
    Zc = Z - zm
    with np.errstate(all="ignore"):
        A = Zc.T @ Zc + RIDGE_ALPHA * np.eye(Z.shape[1])
        coef = np.linalg.solve(A, Zc.T @ (y - ym))
    if not np.all(np.isfinite(coef)):
        coef = np.zeros(Z.shape[1])
    return coef, ym - float(zm @ coef)


class OutcomeModel:
    """Bootstrap ensemble of one action's outcome regressions over fixed feature names."""

    def __init__(
        self, names: Sequence[str], X: np.ndarray, y: np.ndarray, reps: int, rng: np.random.Generator
    ):
        self.names = tuple(names)
        self.n = len(y)
        self._inflation: dict[float, float] = {}
        # Fitted on standardised features (then mapped back), so that the ridge prior weighs the
        # same on a feature whatever its units: on raw features a narrow range (an action taken
        # only at low x) would have its slope shrunk to nearly nothing.
        d = X.shape[1]
        mu = X.mean(axis=0) if self.n else np.zeros(d)
        scale = X.std(axis=0) if self.n else np.ones(d)
        scale = np.where(scale > 0, scale, 1.0)
        Z = (X - mu) / scale
        coefs = np.zeros((reps, d), dtype=np.float64)
        intercepts = np.zeros(reps, dtype=np.float64)
        for r in range(reps):
            idx = rng.integers(0, self.n, size=self.n)
            coefs[r], intercepts[r] = ridge(Z[idx], y[idx])
        #: One row per replicate, in the original units.
        self._coef_matrix = coefs / scale
        self._intercepts = intercepts - self._coef_matrix @ mu
        #: The ensemble's mean slope per feature (the direction an adversary pushes a context)
        #: and the in-sample residuals of its mean fit (the outcome noise around the expectation).
        self.coef = self._coef_matrix.mean(axis=0)
        self.intercept = float(self._intercepts.mean())
        fitted = X @ self.coef + self.intercept
        self.residuals = np.asarray(y - fitted, dtype=np.float64)
        self.residuals = self.residuals[np.isfinite(self.residuals)]

    def noise(self, q: float) -> float:
        """The ``q`` quantile of this action's residuals (0 when there are none)."""
        return float(np.quantile(self.residuals, q)) if self.residuals.size else 0.0

    def predict(self, x: np.ndarray, coverage: float) -> Imagined:
        with np.errstate(all="ignore"):
            preds = self._coef_matrix @ x + self._intercepts
        preds = preds[np.isfinite(preds)]
        if preds.size == 0:
            return Imagined(0.0, 0.0, 0.0)
        tail = (1 - coverage) / 2
        lo, hi = np.quantile(preds, [tail, 1 - tail])
        mean = float(preds.mean())
        k = self.inflation(coverage)
        return Imagined(mean, mean - k * (mean - float(lo)), mean + k * (float(hi) - mean))

    def inflation(self, coverage: float) -> float:
        """How much the bootstrap percentile interval is widened for a small sample. The
        bootstrap's spread of a mean underestimates its sampling spread by ``sqrt((n - 1) / n)``
        and its percentiles are normal ones where a fitted mean with ``n - d - 1`` degrees of
        freedom follows Student's t (Efron & Tibshirani 1993, section 13.4: the percentile
        interval's narrowness bias); both corrections vanish as n grows."""
        if coverage not in self._inflation:
            dof = self.n - len(self.names) - 1
            tail = (1 - coverage) / 2
            self._inflation[coverage] = (
                1.0
                if dof < 1
                else float(stats.t.ppf(1 - tail, dof) / stats.norm.ppf(1 - tail) * math.sqrt(self.n / dof))
            )
        return self._inflation[coverage]


class CausalModel:
    """Per-action outcome models of one store's decisions (what :class:`Counterfactuals` fits)."""

    def __init__(self, episodes: Sequence[Episode], *, min_samples: int, reps: int, rng: np.random.Generator):
        rows = [ep for ep in episodes if usable(ep)]
        self.skipped = len(episodes) - len(rows)
        feats = [features_of(ep) for ep in rows]
        self.names = tuple(sorted({k for f in feats for k in f}))
        by_action: dict[str, list[int]] = {}
        for i, ep in enumerate(rows):
            by_action.setdefault(action_of(ep) or "", []).append(i)
        self.counts = {a: len(ix) for a, ix in sorted(by_action.items())}
        X = np.zeros((len(rows), len(self.names)), dtype=np.float64)
        for i, f in enumerate(feats):
            X[i] = [f.get(k, 0.0) for k in self.names]
        y = np.array([outcome_of(ep) or 0.0 for ep in rows], dtype=np.float64)
        self.rows = rows
        self.X = X
        self.y = y
        #: Observed range and spread of each feature over the usable decisions: a perturbation
        #: stays inside what the store has seen, so a scenario remains plausible.
        self.low = X.min(axis=0) if len(rows) else np.zeros(len(self.names))
        self.high = X.max(axis=0) if len(rows) else np.zeros(len(self.names))
        self.sd = X.std(axis=0) if len(rows) else np.zeros(len(self.names))
        self.models = {
            a: OutcomeModel(self.names, X[ix], y[ix], reps, rng)
            for a, ix in sorted(by_action.items())
            if len(ix) >= min_samples
        }

    def vector(self, ep: Episode) -> np.ndarray:
        f = features_of(ep)
        return np.array([f.get(k, 0.0) for k in self.names], dtype=np.float64)

    def imagine(self, ep: Episode, action: str, coverage: float) -> Imagined | None:
        model = self.models.get(action)
        return None if model is None else model.predict(self.vector(ep), coverage)

    def imagine_at(self, x: np.ndarray, action: str, coverage: float) -> Imagined | None:
        """:meth:`imagine` for a context given as a feature vector (a perturbed or varied one)."""
        model = self.models.get(action)
        return None if model is None else model.predict(x, coverage)
