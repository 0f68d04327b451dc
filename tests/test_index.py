"""NumpyIndex: exact top-n against a brute-force reference, filters as masks, growth, emptiness."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oneiro.index import Filter, NumpyIndex
from oneiro.store.vectors import VectorRows

DIM = 8
SESSIONS = ("s1", "s2", "s3")
KINDS = ("message", "decision", "error")


def rows(matrix: np.ndarray, start: int = 0, entries: frozenset[int] = frozenset()) -> VectorRows:
    """VectorRows for ``matrix``, ids ``i<start+row>``; facts cycle through fixed values."""
    n = matrix.shape[0]
    idx = range(start, start + n)
    return VectorRows(
        rowids=[i + 1 for i in idx],
        ids=[f"i{i}" for i in idx],
        types=["entry" if i in entries else "episode" for i in idx],
        ts=[float(i) for i in idx],
        sessions=[SESSIONS[i % 3] for i in idx],
        actors=["agent" if i % 2 else "user" for i in idx],
        kinds=[KINDS[i % 3] for i in idx],
        matrix=matrix.astype(np.float32),
    )


def unit(rng: np.random.Generator, n: int) -> np.ndarray:
    m = rng.standard_normal((n, DIM)).astype(np.float32)
    return m / np.linalg.norm(m, axis=1, keepdims=True)


def reference(matrix: np.ndarray, query: np.ndarray, n: int, keep: np.ndarray) -> list[float]:
    """Brute force: every allowed score, sorted, best n."""
    scores = (matrix.astype(np.float64) @ query.astype(np.float64))[keep]
    return sorted(scores.tolist(), reverse=True)[:n]


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    size=st.integers(1, 300),
    n=st.integers(1, 60),
    batches=st.integers(1, 4),
)
def test_search_matches_brute_force(seed: int, size: int, n: int, batches: int) -> None:
    rng = np.random.default_rng(seed)
    matrix = unit(rng, size)
    index = NumpyIndex()
    for part in np.array_split(np.arange(size), batches):
        if part.size:
            index.add(rows(matrix[part], start=int(part[0])))
    query = unit(rng, 1)[0]
    ids, scores = index.search(query, n)
    expected = reference(matrix, query, n, np.ones(size, dtype=bool))
    assert len(ids) == len(expected) == min(n, size)
    assert np.allclose(scores, expected, atol=1e-5)
    assert scores == sorted(scores, reverse=True)
    for item_id, score in zip(ids, scores, strict=True):
        assert score == pytest.approx(float(matrix[int(item_id[1:])] @ query), abs=1e-5)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), size=st.integers(1, 200), keep_p=st.floats(0.0, 1.0))
def test_masked_search_returns_only_allowed_items(seed: int, size: int, keep_p: float) -> None:
    rng = np.random.default_rng(seed)
    matrix = unit(rng, size)
    index = NumpyIndex()
    index.add(rows(matrix))
    keep = rng.random(size) < keep_p
    query = unit(rng, 1)[0]
    ids, scores = index.search(query, 25, keep)
    assert all(keep[int(i[1:])] for i in ids)
    assert np.allclose(scores, reference(matrix, query, 25, keep), atol=1e-5)


def test_filters_become_masks() -> None:
    rng = np.random.default_rng(1)
    index = NumpyIndex()
    index.add(rows(unit(rng, 30), entries=frozenset({4, 5})))
    assert index.mask(Filter(), set()) is None
    by_session = index.mask(Filter(sessions=frozenset({"s2"})), set())
    assert by_session is not None and set(np.flatnonzero(by_session)) == {i for i in range(30) if i % 3 == 1}
    window = index.mask(Filter(since=10.0, until=12.0), set())
    assert window is not None and list(np.flatnonzero(window)) == [10, 11, 12]
    combined = index.mask(Filter(actors=frozenset({"agent"}), kinds=frozenset({"error"})), set())
    assert combined is not None and set(np.flatnonzero(combined)) == {i for i in range(30) if i % 6 == 5}
    episodes_only = index.mask(Filter(include_entries=False), set())
    assert episodes_only is not None and not episodes_only[4] and not episodes_only[5]
    assert episodes_only.sum() == 28


def test_unknown_filter_values_match_nothing() -> None:
    index = NumpyIndex()
    index.add(rows(unit(np.random.default_rng(2), 10)))
    mask = index.mask(Filter(sessions=frozenset({"no-such-session"})), set())
    assert mask is not None and not mask.any()
    assert index.search(unit(np.random.default_rng(3), 1)[0], 5, mask) == ([], [])


def test_hidden_entries_are_masked_out() -> None:
    rng = np.random.default_rng(4)
    matrix = unit(rng, 12)
    index = NumpyIndex()
    index.add(rows(matrix, entries=frozenset({3})))
    mask = index.mask(Filter(), {"i3", "not-indexed"})
    assert mask is not None and not mask[3] and mask.sum() == 11
    ids, _ = index.search(matrix[3], 12, mask)
    assert "i3" not in ids and len(ids) == 11
    assert index.is_entry("i3") and not index.is_entry("i2") and not index.is_entry("missing")


def test_growth_keeps_every_vector_and_fact() -> None:
    rng = np.random.default_rng(5)
    matrix = unit(rng, 2500)
    index = NumpyIndex()
    for start in range(0, 2500, 700):
        index.add(rows(matrix[start : start + 700], start=start))
    assert len(index) == 2500
    assert np.array_equal(index.matrix, matrix)
    assert index.position("i0") == 0 and index.position("i2499") == 2499
    assert index.position("i2500") is None
    late = index.mask(Filter(since=2400.0), set())
    assert late is not None and late.sum() == 100
    ids, scores = index.search(matrix[1234], 1)
    assert ids == ["i1234"] and scores[0] == pytest.approx(1.0, abs=1e-5)


def test_empty_index() -> None:
    index = NumpyIndex()
    assert len(index) == 0
    assert index.search(np.ones(DIM, dtype=np.float32), 10) == ([], [])
    assert index.position("i0") is None and not index.is_entry("i0")
    index.add(rows(np.zeros((0, DIM), dtype=np.float32)))
    assert len(index) == 0
    assert index.search(np.ones(DIM, dtype=np.float32), 10) == ([], [])


def test_non_positive_n_returns_nothing() -> None:
    index = NumpyIndex()
    index.add(rows(unit(np.random.default_rng(6), 5)))
    assert index.search(np.ones(DIM, dtype=np.float32), 0) == ([], [])
