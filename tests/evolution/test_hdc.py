"""Hypervector scans and encoders: the blocked scan agrees with pairwise similarity, close
outcomes stay similar, and a dream scenario encodes like the real decision it describes."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from oneiro import hdc
from oneiro.dream.ops.evolution.fingerprints import regime_of
from oneiro.model import Episode

DIM = 8192


def test_blocked_scan_matches_pairwise_similarity_across_blocks() -> None:
    rng = np.random.default_rng(1)
    n = 2 * hdc.BLOCK_ROWS + 3
    matrix = rng.integers(0, 256, (n, DIM // 8), dtype=np.uint8)
    query = matrix[hdc.BLOCK_ROWS + 1].copy()
    sims = hdc.similarities(matrix, query)
    picks = [0, hdc.BLOCK_ROWS - 1, hdc.BLOCK_ROWS + 1, n - 1]
    assert np.allclose(sims[picks], [hdc.similarity(matrix[i], query) for i in picks])
    assert sims[hdc.BLOCK_ROWS + 1] == 1.0 and np.isfinite(sims).all()
    assert hdc.similarities(matrix[:0], query).shape == (0,)


def test_outcome_similarity_falls_with_distance() -> None:
    enc = hdc.Encoder(DIM)
    base = enc.encode_outcome(0.0)
    near, far = enc.encode_outcome(0.1), enc.encode_outcome(3.0)
    assert hdc.similarity(base, near) > hdc.similarity(base, far)


def test_a_scenario_encodes_like_the_decision_it_describes() -> None:
    enc = hdc.Encoder(DIM)
    ep = Episode(
        id="e", ts=0.0, text="t", context={"regime": "calm", "n": 3}, data={"action": "hold"}, outcome=0.4
    )
    scenario = enc.fingerprint(regime_of(ep), "hold", 0.4)
    assert hdc.similarity(scenario, enc.episode_context(ep)) == 1.0
    other = enc.fingerprint(regime_of(ep), "sell", 0.4)
    assert hdc.similarity(other, enc.episode_context(ep)) < 0.6


@given(st.integers(1, 6), st.integers(0, 2**32 - 1))
@settings(max_examples=30, deadline=None)
def test_bundle_is_the_bitwise_majority_with_the_tie_vector(n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    vectors = [rng.integers(0, 256, DIM // 8, dtype=np.uint8) for _ in range(n)]
    twice = np.unpackbits(np.vstack(vectors), axis=1).astype(np.int32).sum(axis=0) * 2
    tie = np.unpackbits(hdc.symbol("__tie__", DIM))
    want = np.packbits(np.where(twice == n, tie, twice > n).astype(np.uint8))
    assert np.array_equal(hdc.bundle(vectors), want)


def test_cached_symbols_cannot_be_changed_in_place() -> None:
    v = hdc.symbol("role:strategy", DIM)
    assert not v.flags.writeable and np.array_equal(v, hdc.symbol("role:strategy", DIM))
