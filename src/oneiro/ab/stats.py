"""The statistics every ab figure is reported with: percentile-bootstrap CIs over seeds, paired
tests, and the Holm correction for a family of tests.

* CIs: percentile bootstrap (Efron & Tibshirani 1993, ch. 13), a fixed resampling seed so reruns
  print identical intervals for identical per-seed values.
* p-values: the two-sided Wilcoxon signed-rank test on paired differences (``scipy.stats``).
* Holm's step-down correction (Holm 1979), written here: six lines, and scipy ships only the
  false-discovery-rate procedures.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats as sps

from oneiro.errors import InvalidInput

#: Bootstrap resamples: 10,000 keeps the percentile endpoints stable to about 0.01 of a CI width.
BOOTSTRAP_RESAMPLES = 10_000
#: Two-sided confidence level of every interval reported.
CONFIDENCE = 0.95
#: Fixed so reruns print identical intervals for identical per-seed values.
BOOTSTRAP_SEED = 20_240_101
#: Significance level of a (Holm-adjusted) test.
ALPHA = 0.05


def _indices(n: int, resamples: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, n, size=(resamples, n))


def bootstrap_mean(
    values: Sequence[float], resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED
) -> dict[str, float]:
    """Mean with a percentile-bootstrap CI at :data:`CONFIDENCE`."""
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        raise InvalidInput("needs at least one value", field="values")
    means = x[_indices(x.size, resamples, seed)].mean(axis=1)
    return _interval(float(x.mean()), means)


def bootstrap_ratio(
    top: Sequence[float],
    bottom: Sequence[float],
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> dict[str, float]:
    """mean(top) / mean(bottom) over paired seeds, with a percentile-bootstrap CI."""
    a, b = np.asarray(top, dtype=float), np.asarray(bottom, dtype=float)
    if a.size == 0 or a.size != b.size:
        raise InvalidInput("needs paired, non-empty values", field="values")
    idx = _indices(a.size, resamples, seed)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = a[idx].mean(axis=1) / b[idx].mean(axis=1)
        point = float(a.mean() / b.mean()) if b.mean() else float("nan")
    return _interval(point, ratios[np.isfinite(ratios)])


def _interval(point: float, draws: np.ndarray) -> dict[str, float]:
    tail = (1 - CONFIDENCE) / 2 * 100
    if draws.size == 0:
        return {"mean": point, "low": float("nan"), "high": float("nan")}
    low, high = np.percentile(draws, [tail, 100 - tail])
    return {"mean": point, "low": float(low), "high": float(high)}


def paired_p(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-sided Wilcoxon signed-rank p-value of a - b; 1.0 when every pair is equal."""
    d = np.subtract(np.asarray(a, dtype=float), np.asarray(b, dtype=float))
    if d.size == 0:
        raise InvalidInput("needs paired, non-empty values", field="values")
    if not np.any(d):
        return 1.0
    return float(sps.wilcoxon(d, zero_method="wilcox", alternative="two-sided").pvalue)


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm-adjusted p-values, in the input order (monotone, capped at 1)."""
    p = np.asarray(pvalues, dtype=float)
    order = np.argsort(p)
    adjusted = np.empty_like(p)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (p.size - rank) * p[i]))
        adjusted[i] = running
    return [float(q) for q in adjusted]


def paired(a: Sequence[float], b: Sequence[float]) -> dict[str, float]:
    """The paired effect a - b: its mean and 95% bootstrap CI, and the Wilcoxon p-value."""
    return {**bootstrap_mean(np.subtract(a, b).tolist()), "p": paired_p(a, b)}
