"""Binary hypervectors (Kanerva 2009), packed 8 bits a byte, for dream fingerprints.

A hypervector is a ``uint8`` array of ``dim // 8`` bytes. ``bind`` is XOR (its own inverse),
``bundle`` the bitwise majority (ties broken by a fixed vector so bundling is deterministic),
``permute`` a cyclic bit rotation. Similarity is ``1 - 2 * hamming / dim``: 1 for equal vectors,
about 0 for unrelated random ones, -1 for complements. Symbols map to vectors through a seeded
hash (:func:`symbol`), so the same name gives the same vector in every process: a dream's
fingerprint stored today still compares with an episode recorded next week.

Invariant: every vector this module returns has exactly ``dim // 8`` bytes, and no similarity is
NaN (an empty store compares as no match).
"""

from __future__ import annotations

import functools
import hashlib
import math
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from oneiro.errors import ConfigError

HV = npt.NDArray[np.uint8]

#: Popcount of every byte value, for Hamming distances over packed bits.
_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint16)
#: Rows per block of a similarity scan: 2,048 rows of 1 KiB (dim 8,192) is 2 MiB, within a
#: typical L2/L3 cache (measured: 2,048 beat 512 and 8,192 at 100k fingerprints).
BLOCK_ROWS = 2048
#: Symbols kept (each 1 KiB at dimension 8,192): roles, strategies, regime labels of one store.
SYMBOL_CACHE = 4096
#: Outcome levels: an outcome is encoded as the nearest of these quantised levels.
OUTCOME_LEVELS = 16


def _check_dim(dim: int) -> None:
    if dim < 8192 or dim % 8:
        raise ConfigError(f"hypervector dimension must be a multiple of 8 and at least 8192, got {dim}")


def symbol(name: str, dim: int) -> HV:
    """The random hypervector of a symbol: the same name always gives the same vector. Cached
    (the vectors are read-only), since encoders ask for the same few symbols again and again."""
    _check_dim(dim)
    return _symbol(name, dim)


@functools.lru_cache(maxsize=SYMBOL_CACHE)
def _symbol(name: str, dim: int) -> HV:
    seed = int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "little")
    vector = np.random.default_rng(seed).integers(0, 256, size=dim // 8, dtype=np.uint8)
    vector.setflags(write=False)
    return vector


def bind(a: HV, b: HV) -> HV:
    """XOR binding: dissimilar to both inputs, and ``bind(bind(a, b), b) == a``."""
    return np.bitwise_xor(a, b)


def permute(a: HV, shift: int = 1) -> HV:
    """Cyclic rotation of the bits by ``shift`` (marks position / role)."""
    bits = np.unpackbits(a)
    return np.packbits(np.roll(bits, shift))


def bundle(vectors: Sequence[HV]) -> HV:
    """Bitwise majority of ``vectors``: similar to each of them. Ties (an even count) are broken by
    a fixed vector, so the result is deterministic."""
    if not vectors:
        raise ValueError("bundle of no vectors")
    if len(vectors) == 1:
        return vectors[0].copy()
    if len(vectors) == 2:  # the tie vector decides exactly where the two differ: a majority of 3
        vectors = [*vectors, symbol("__tie__", vectors[0].shape[0] * 8)]
    if len(vectors) == 3:  # a fingerprint's bundle: the packed majority, without unpacking bits
        a, b, c = vectors
        majority: HV = (a & b) | (a & c) | (b & c)
        return majority
    bits = np.unpackbits(np.vstack(vectors), axis=1).astype(np.int32)
    total = bits.sum(axis=0) * 2
    n = len(vectors)
    out = (total > n).astype(np.uint8)
    if n % 2 == 0:
        tie = np.unpackbits(symbol("__tie__", bits.shape[1]))
        out = np.where(total == n, tie, out).astype(np.uint8)
    return np.packbits(out)


def similarity(a: HV, b: HV) -> float:
    """1 - 2 * hamming / dim, in [-1, 1]."""
    dim = a.shape[0] * 8
    distance = int(np.bitwise_count(np.bitwise_xor(a, b)).sum())
    return float(1.0 - 2.0 * distance / dim)


def similarities(matrix: HV, query: HV) -> npt.NDArray[np.float64]:
    """Similarity of ``query`` to every row of ``matrix`` (n x dim/8), vectorised.

    Rows are XORed as 64-bit words in blocks of :data:`BLOCK_ROWS` through reused buffers, so the
    scan streams the matrix once instead of writing and re-reading temporaries the size of it;
    popcounts land in bytes, and each block's counts are summed down the transposed block (one
    vector add per word column, instead of a short reduction per row). Measured in
    bench/evolution_fingerprints.py against the whole-matrix scan it replaced."""
    n = matrix.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.float64)
    dim = matrix.shape[1] * 8
    words: npt.NDArray[np.unsignedinteger[Any]] = matrix
    q: npt.NDArray[np.unsignedinteger[Any]] = query
    if matrix.shape[1] % 8 == 0 and matrix.flags.c_contiguous:
        words, q = matrix.view(np.uint64), np.ascontiguousarray(query).view(np.uint64)
    total = np.uint16 if dim < 2**16 else np.uint32
    counts = np.empty(n, dtype=np.int64)
    rows = min(BLOCK_ROWS, n)
    xor = np.empty((rows, words.shape[1]), dtype=words.dtype)
    bits = np.empty((rows, words.shape[1]), dtype=np.uint8)
    for start in range(0, n, BLOCK_ROWS):
        block = words[start : start + BLOCK_ROWS]
        x, b = xor[: block.shape[0]], bits[: block.shape[0]]
        np.bitwise_xor(block, q[None, :], out=x)
        np.bitwise_count(x, out=b)
        counts[start : start + block.shape[0]] = np.add.reduce(b.T, axis=0, dtype=total)
    result: npt.NDArray[np.float64] = 1.0 - 2.0 * counts.astype(np.float64) / dim
    return result


@functools.lru_cache(maxsize=SYMBOL_CACHE)
def _regime(labels: tuple[str, ...], dim: int) -> HV:
    vector = bind(symbol("role:regime", dim), bundle([symbol(f"regime:{r}", dim) for r in labels]))
    vector.setflags(write=False)
    return vector


@functools.lru_cache(maxsize=OUTCOME_LEVELS * 4)
def _outcome_level(level: int, dim: int) -> HV:
    """Level vectors by progressive bit flipping: level k flips the first k/(L-1) half of a fixed
    permutation of bits, so similarity falls linearly with the level distance."""
    bits = np.unpackbits(symbol("outcome:base", dim))
    order = np.random.default_rng(7).permutation(dim)
    bits[order[: int(level * (dim // 2) / (OUTCOME_LEVELS - 1))]] ^= 1
    vector = bind(symbol("role:outcome", dim), np.packbits(bits))
    vector.setflags(write=False)
    return vector


@dataclass(frozen=True)
class Encoder:
    """Encoders of the things a dream scenario and an awake episode share: a regime (market or
    task conditions, any hashable labels), a strategy (an action name) and an outcome (a number,
    quantised into ``OUTCOME_LEVELS`` levels over [-1, 1] after squashing with tanh, neighbouring
    levels sharing most bits so close outcomes stay similar)."""

    dim: int = 8192

    def __post_init__(self) -> None:
        _check_dim(self.dim)

    def encode_regime(self, regime: Iterable[str]) -> HV:
        return _regime(tuple(sorted({str(r) for r in regime}) or ["__none__"]), self.dim)

    def encode_strategy(self, strategy: str) -> HV:
        return bind(symbol("role:strategy", self.dim), symbol(f"strategy:{strategy}", self.dim))

    def encode_outcome(self, value: float) -> HV:
        v = 0.0 if not math.isfinite(value) else math.tanh(value)
        level = min(OUTCOME_LEVELS - 1, max(0, int((v + 1.0) / 2.0 * OUTCOME_LEVELS)))
        return _outcome_level(level, self.dim)

    def fingerprint(self, regime: Iterable[str], strategy: str, outcome: float) -> HV:
        """A scenario's fingerprint: the bundle of its regime, strategy and outcome (seed 004)."""
        parts = [self.encode_regime(regime), self.encode_strategy(strategy), self.encode_outcome(outcome)]
        return bundle(parts)

    def episode_context(self, episode: Any) -> HV:
        """An awake episode's fingerprint: its context labels (``context`` keys and values, its
        kind and tags) as the regime, its action as the strategy and its outcome."""
        ctx = getattr(episode, "context", None) or {}
        regime = [f"{k}={v}" for k, v in sorted(ctx.items()) if isinstance(v, str | int | bool)]
        action = (getattr(episode, "data", None) or {}).get("action")
        outcome = getattr(episode, "outcome", None)
        value = float(outcome) if isinstance(outcome, int | float) and not isinstance(outcome, bool) else 0.0
        return self.fingerprint(regime, str(action) if action is not None else "", value)


@dataclass
class CorrelationTracker:
    """Recent dream fingerprints and the check of a real event against them (seed 004): a match
    above ``threshold`` marks the dream predictive. Holds at most ``window`` fingerprints, oldest
    dropped first."""

    dim: int = 8192
    window: int = 100_000
    _meta: deque[dict[str, Any]] = field(default_factory=deque)
    _rows: list[HV] = field(default_factory=list)
    _matrix: HV | None = None

    def record(self, fingerprint: HV, meta: dict[str, Any]) -> None:
        if fingerprint.shape != (self.dim // 8,):
            raise ValueError(f"fingerprint must have {self.dim // 8} bytes")
        if len(self._meta) == self.window:
            self._meta.popleft()
            self._rows.pop(0)
        self._meta.append(meta)
        self._rows.append(fingerprint)
        self._matrix = None

    def __len__(self) -> int:
        return len(self._meta)

    def matrix(self) -> HV:
        if self._matrix is None:
            self._matrix = (
                np.vstack(self._rows) if self._rows else np.zeros((0, self.dim // 8), dtype=np.uint8)
            )
        return self._matrix

    def correlate(self, event: HV, threshold: float) -> list[tuple[float, dict[str, Any]]]:
        """The dreams whose fingerprint is more similar than ``threshold`` to ``event``, best first."""
        sims = similarities(self.matrix(), event)
        hits = np.flatnonzero(sims > threshold)
        order = hits[np.argsort(-sims[hits], kind="stable")]
        return [(float(sims[i]), self._meta[i]) for i in order]
