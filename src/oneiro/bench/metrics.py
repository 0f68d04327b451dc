"""Retrieval metrics, each a pure function of a ranked list and a gold set.

- ``recall_at_k``: LoCoMo's evidence recall, the fraction of gold ids among the top k (an item with
  no evidence counts 1, as in the LoCoMo evaluation).
- ``recall_any`` / ``recall_all`` / ``ndcg_at_k``: LongMemEval's official retrieval metrics. NDCG uses
  binary relevance, the Järvelin-Kekäläinen discount and the ideal ranking of all gold items, and
  is 0 when there is no gold item.
- ``first_appearance``: turns to sessions, ranked by where each session first appears (how a turn
  ranking becomes a session ranking in both benchmarks).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import TypeVar

K = TypeVar("K", bound=Hashable)


def recall_at_k(ranked: Sequence[K], gold: Iterable[K], k: int) -> float:
    """Fraction of ``gold`` found in ``ranked[:k]``; 1.0 when there is no gold."""
    wanted = set(gold)
    if not wanted:
        return 1.0
    return len(wanted & set(ranked[:k])) / len(wanted)


def recall_any(ranked: Sequence[K], gold: Iterable[K], k: int) -> float:
    """1.0 when at least one gold item is in the top k."""
    return float(bool(set(gold) & set(ranked[:k])))


def recall_all(ranked: Sequence[K], gold: Iterable[K], k: int) -> float:
    """1.0 when every gold item is in the top k (vacuously 1.0 with no gold, as officially)."""
    return float(set(gold) <= set(ranked[:k]))


def dcg(relevances: Sequence[float]) -> float:
    """Discounted cumulative gain as Järvelin and Kekäläinen (2002) define it with base 2, and as
    LongMemEval's official evaluation computes it: rank 1 undiscounted, rank r >= 2 weighted
    1 / log2(r) (so ranks 1 and 2 weigh the same)."""
    return sum(rel / max(1.0, math.log2(rank)) for rank, rel in enumerate(relevances, 1))


def ndcg_at_k(ranked: Sequence[K], gold: Iterable[K], k: int) -> float:
    """Binary-relevance NDCG@k; 0.0 when there is no gold item."""
    wanted = set(gold)
    ideal = dcg([1.0] * min(len(wanted), k))
    if ideal == 0:
        return 0.0
    return dcg([1.0 if item in wanted else 0.0 for item in ranked[:k]]) / ideal


def first_appearance(ranked: Iterable[K], group: Callable[[K], str]) -> list[str]:
    """Groups (e.g. sessions) in the order their first member appears in ``ranked``."""
    return list(dict.fromkeys(group(item) for item in ranked))


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by linear interpolation; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def whitespace_tokens(text: str) -> int:
    """The token count used for retrieved context: whitespace-separated words."""
    return len(text.split())


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0
