"""Retrieval metrics and evidence normalisation: known values and invariants."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from oneiro.bench.data import normalise_evidence
from oneiro.bench.metrics import (
    first_appearance,
    ndcg_at_k,
    percentile,
    recall_all,
    recall_any,
    recall_at_k,
    whitespace_tokens,
)

ids = st.lists(st.integers(min_value=0, max_value=30), unique=True, max_size=20)
gold_sets = st.sets(st.integers(min_value=0, max_value=30), max_size=6)
ks = st.integers(min_value=1, max_value=25)


def test_recall_counts_the_fraction_of_evidence_found() -> None:
    assert recall_at_k(["a", "b", "c"], ["b", "z"], 3) == 0.5
    assert recall_at_k(["a", "b", "c"], ["c"], 2) == 0.0


def test_an_item_without_evidence_counts_one() -> None:
    assert recall_at_k(["a"], [], 5) == 1.0


def test_ndcg_follows_the_official_discount() -> None:
    # Rank 2 is undiscounted (1 / log2(2) = 1), rank 3 weighs 1 / log2(3).
    assert ndcg_at_k(["x", "g"], {"g"}, 2) == 1.0
    assert ndcg_at_k(["x", "y", "g"], {"g"}, 3) == pytest.approx(1 / math.log2(3))
    assert ndcg_at_k(["g", "x", "h"], {"g", "h"}, 3) == pytest.approx((1 + 1 / math.log2(3)) / 2)
    assert ndcg_at_k(["x"], set(), 1) == 0.0


def test_recall_any_and_all() -> None:
    assert recall_any(["a", "b"], {"b", "c"}, 2) == 1.0
    assert recall_all(["a", "b"], {"b", "c"}, 2) == 0.0
    assert recall_all(["a", "b", "c"], {"b", "c"}, 3) == 1.0
    assert recall_any(["a", "b", "c"], {"c"}, 2) == 0.0


@given(ids, gold_sets, ks)
def test_metrics_lie_in_the_unit_interval_and_order(ranked: list[int], gold: set[int], k: int) -> None:
    values = [recall_at_k(ranked, gold, k), recall_any(ranked, gold, k), ndcg_at_k(ranked, gold, k)]
    assert all(0.0 <= v <= 1.0 + 1e-12 for v in values)
    if gold:
        assert recall_all(ranked, gold, k) <= recall_at_k(ranked, gold, k) <= recall_any(ranked, gold, k)


@given(ids, gold_sets, ks)
def test_recall_never_falls_as_k_grows(ranked: list[int], gold: set[int], k: int) -> None:
    assert recall_at_k(ranked, gold, k) <= recall_at_k(ranked, gold, k + 1)
    assert recall_any(ranked, gold, k) <= recall_any(ranked, gold, k + 1)


@given(gold_sets.filter(bool), ks)
def test_a_perfect_ranking_scores_one(gold: set[int], k: int) -> None:
    ranked = [*sorted(gold), 100, 101]
    assert ndcg_at_k(ranked, gold, k) == pytest.approx(1.0)
    assert recall_any(ranked, gold, k) == 1.0


def test_malformed_evidence_is_normalised_not_dropped() -> None:
    assert normalise_evidence("D8:6; D9:17") == ["D8:6", "D9:17"]
    assert normalise_evidence("D:11:26") == ["D11:26"]
    assert normalise_evidence("D3:7") == ["D3:7"]
    # Nothing recognisable: kept verbatim, so the item scores it as a miss.
    assert normalise_evidence("D") == ["D"]


def test_sessions_rank_by_first_appearance() -> None:
    turns = [("s2", 1), ("s1", 4), ("s2", 0), ("s3", 2)]
    assert first_appearance(turns, lambda t: t[0]) == ["s2", "s1", "s3"]


def test_percentile_and_tokens() -> None:
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile([5.0], 95) == 5.0
    assert percentile([], 50) == 0.0
    assert whitespace_tokens("Caroline said,  hello\nthere") == 4
