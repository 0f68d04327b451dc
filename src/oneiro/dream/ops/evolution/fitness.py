"""Fitness of entries and the Price-equation split of its change (seed 004, 01b memetic model).

Fitness rewards use that led to good outcomes and independent confirmations, and decays with age
(demurrage); it is finite for every input (counters are clamped at 0, the age at 0).

Price equation over one cycle, with ``z`` an entry's previous fitness, ``z'`` its new fitness and
``w`` its number of copies in the next generation (1 for a survivor, 0 for an entry demoted as a
parasite, plus 1 for each of its variants that survives)::

    z̄' - z̄ = Cov(w, z) / w̄  +  E(w (z' - z)) / w̄

with z̄' the w-weighted mean of ``z'``: the selection and transmission components, which add up
to the observed change exactly (an identity, checked by a property test).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from oneiro.config import EvolutionConfig
from oneiro.model import Entry

DAY = 86_400.0


def fitness(entry: Entry, now: float, cfg: EvolutionConfig) -> float:
    """log(1 + uses) x Laplace-smoothed helpful share, plus log(1 + confirmations), minus
    log(1 + refutations), times an age factor halving every ``age_half_life_days``."""
    uses, helpful, harmful = max(entry.uses, 0), max(entry.helpful, 0), max(entry.harmful, 0)
    share = (helpful + 1.0) / (helpful + harmful + 2.0)
    value = (
        math.log1p(uses) * (2.0 * share - 0.5)
        + math.log1p(max(entry.confirmations, 0))
        - math.log1p(max(entry.refutations, 0))
    )
    created = entry.created_at if math.isfinite(entry.created_at) else now
    age_days = max(now - created, 0.0) / DAY
    return float(value * 0.5 ** (age_days / max(cfg.age_half_life_days, 1e-9)))


def is_parasite(entry: Entry, cfg: EvolutionConfig) -> bool:
    """Retrieved often but linked to bad outcomes (more harmful than helpful)."""
    return entry.uses >= cfg.parasite_min_uses and entry.harmful > entry.helpful


@dataclass(frozen=True)
class Price:
    """One cycle's Price split: ``change`` = ``selection`` + ``transmission`` (up to rounding)."""

    selection: float
    transmission: float
    change: float
    n: int

    def as_dict(self) -> dict[str, float]:
        return {
            "selection": self.selection,
            "transmission": self.transmission,
            "change": self.change,
            "n": self.n,
        }


def price(before: Sequence[float], after: Sequence[float], weights: Sequence[float]) -> Price:
    """The Price split for a population with previous traits ``before``, new traits ``after`` and
    next-generation copies ``weights``. An empty population, or one that leaves no copies, has
    zero components (nothing was selected)."""
    n = len(before)
    if n == 0 or len(after) != n or len(weights) != n:
        return Price(0.0, 0.0, 0.0, n)
    w_bar = sum(weights) / n
    if w_bar <= 0.0:
        return Price(0.0, 0.0, 0.0, n)
    z_bar = sum(before) / n
    cov = sum(w * z for w, z in zip(weights, before, strict=True)) / n - w_bar * z_bar
    trans = sum(w * (za - zb) for w, za, zb in zip(weights, after, before, strict=True)) / n
    z_next = sum(w * za for w, za in zip(weights, after, strict=True)) / (w_bar * n)
    return Price(cov / w_bar, trans / w_bar, z_next - z_bar, n)


def mean(values: Mapping[str, float]) -> float:
    return sum(values.values()) / len(values) if values else 0.0
