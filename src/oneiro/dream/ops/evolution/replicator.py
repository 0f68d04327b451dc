"""Strategy evolution: replicator dynamics on the strategy concentration vector, driven by REM's
imagined returns, exactly as seed 004 gives it::

    f̄ = Σ f_i c_i;  c_i <- max(c_i + step * c_i * (f_i - f̄), floor);  c <- c / Σ c

A strategy REM imagined no return for keeps fitness 0 (the seed's default). A new strategy joins
at the mean concentration before renormalising. The result is finite and sums to 1 for any finite
returns; non-finite returns are dropped.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from oneiro.dream.phase import ImaginedReturn


def imagined_fitness(returns: Sequence[ImaginedReturn]) -> dict[str, float]:
    """Mean imagined return per action (n-weighted over the findings that name it)."""
    total: dict[str, float] = {}
    count: dict[str, float] = {}
    for r in returns:
        mean, n = r.get("mean"), max(int(r.get("n", 1) or 1), 1)
        if not isinstance(mean, int | float) or not math.isfinite(float(mean)):
            continue
        action = str(r["action"])
        total[action] = total.get(action, 0.0) + float(mean) * n
        count[action] = count.get(action, 0.0) + n
    return {a: total[a] / count[a] for a in total}


def replicator_step(
    concentrations: Mapping[str, float], fit: Mapping[str, float], step: float, floor: float
) -> tuple[dict[str, float], float]:
    """One replicator step; returns the new concentrations and the mean imagined fitness."""
    labels = sorted(set(concentrations) | set(fit))
    if not labels:
        return {}, 0.0
    known = [max(float(concentrations[a]), 0.0) for a in labels if a in concentrations]
    start = sum(known) / len(known) if known else 1.0 / len(labels)
    c = {a: max(float(concentrations.get(a, start)), 0.0) for a in labels}
    total = sum(c.values()) or 1.0
    c = {a: v / total for a, v in c.items()}
    f_bar = sum(fit.get(a, 0.0) * c[a] for a in labels)
    new = {a: max(c[a] + c[a] * (fit.get(a, 0.0) - f_bar) * step, floor) for a in labels}
    norm = sum(new.values())
    return {a: v / norm for a, v in new.items()}, f_bar
