"""What every benchmark condition shares: a ranking interface, oneiro's memory behind it, a clock
the harness sets, and an embedder cache so that the raw, dream and dense conditions embed each text
once.

A condition ranks *documents* (LoCoMo turns, LongMemEval turns or sessions) by a key. oneiro's
conditions rank through ``Memory.recall`` and count consolidated entries only through their
sources (:func:`oneiro.recall.source_ranking`), so a dream cannot win by returning more text.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
import zipfile
from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

import numpy as np

from oneiro.backends.embedder import Embedder
from oneiro.errors import BenchDataError, CycleError
from oneiro.memory import Memory
from oneiro.recall import source_ranking
from oneiro.store.vectors import Matrix

K = TypeVar("K", bound=Hashable)

RAW, DREAM, BM25, DENSE = "raw", "dream", "bm25", "dense"
#: LoCoMo only, a labelled reference: BM25 over the dataset's gpt-3.5-turbo observations.
OBSERVATION = "observation"
ALL_CONDITIONS = (RAW, DREAM, BM25, DENSE, OBSERVATION)
MEMORY_CONDITIONS = (RAW, DREAM)
DREAM_UNAVAILABLE = "dreaming is not available in this version (Memory.dream is missing)"


@dataclass(frozen=True)
class Retrieved(Generic[K]):
    """A ranking cut at k: document keys best first, the words of the context that produced
    them, and how long the query took."""

    keys: list[K]
    context_tokens: int
    seconds: float


class Retriever(Protocol[K]):
    def rank(self, query: str, k: int) -> Retrieved[K]: ...


class BenchClock:
    """The store's clock during a benchmark: set to the episode time being lived, so recency is
    measured in the conversation's time, not the machine's."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class CachedEmbedder(Embedder):
    """Wraps an embedder and remembers every text's vector, under the same name and dimension,
    so that a store sees exactly what the wrapped model would give it.

    With a ``path`` the memory outlives the run: vectors are keyed by the SHA-256 of their text in
    an ``.npz`` file that also names the model, loaded at start and written back (atomically) by
    :meth:`save`. A text's vector under a given model never changes, so a re-run of a benchmark
    repeats only oneiro's own work. A file made by another model, or not made by this class, is
    refused rather than silently mixed in.
    """

    #: Unsaved vectors that make :meth:`checkpoint` write the file (an interrupted run keeps them).
    CHECKPOINT_EVERY = 5_000

    def __init__(self, inner: Embedder, path: Path | None = None) -> None:
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self.batch_size = inner.batch_size
        self.path = path
        self._cache: dict[str, Matrix] = {}
        #: Every vector the file will hold, by text digest: those read at start and, with a path,
        #: each one computed since (so a save writes this as it is, digesting nothing again).
        self._stored: dict[bytes, Matrix] = {}
        self._unsaved = 0
        if path is not None and path.exists():
            self._stored = _read_cache(path, self.name, self.dim)

    def embed_batch(self, texts: Sequence[str]) -> Matrix:
        return self.inner.embed_batch(texts)

    def embed(self, texts: Sequence[str]) -> Matrix:
        missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if missing and self._stored:
            for text in missing:
                row = self._stored.get(_digest(text))
                if row is not None:
                    self._cache[text] = row
            missing = [t for t in missing if t not in self._cache]
        if missing:
            for text, row in zip(missing, self.inner.embed(missing), strict=True):
                self._cache[text] = row
                if self.path is not None:
                    self._stored[_digest(text)] = row
            self._unsaved += len(missing)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.vstack([self._cache[t] for t in texts])

    def checkpoint(self) -> None:
        """Write the file when enough new vectors have accumulated since the last write."""
        if self._unsaved >= self.CHECKPOINT_EVERY:
            self.save()

    @contextlib.contextmanager
    def saving(self) -> Iterator[None]:
        """Save on the way out, also when the work inside fails or is interrupted: every vector
        computed so far is valid whatever happened after it."""
        try:
            yield
        finally:
            self.save()

    def save(self) -> None:
        """Write every vector known (read at start or computed since) to ``path``, atomically;
        no-op without a path or without anything new."""
        if self.path is None or not self._unsaved:
            return
        keys = np.frombuffer(b"".join(self._stored), dtype=np.uint8).reshape(-1, DIGEST_BYTES)
        vectors = np.vstack(list(self._stored.values()))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        with tmp.open("wb") as fh:
            np.savez(fh, model=np.array(self.name), keys=keys, vectors=vectors.astype(np.float32))
        os.replace(tmp, self.path)
        self._unsaved = 0


DIGEST_BYTES = 32


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


def _read_cache(path: Path, model: str, dim: int) -> dict[bytes, Matrix]:
    """The vectors of an embedding cache file, checked against the model that will use them."""
    try:
        data = np.load(path, allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise ValueError("a single array, not an .npz archive")
        with data:
            stored_model = str(data["model"])
            keys, vectors = data["keys"], data["vectors"]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise BenchDataError(f"{path}: not an embedding cache ({exc or type(exc).__name__})") from None
    if stored_model != model:
        raise BenchDataError(f"{path}: embedding cache of model {stored_model!r}, not {model!r}")
    shapes_ok = keys.ndim == 2 and keys.shape[1] == DIGEST_BYTES and keys.dtype == np.uint8
    if not shapes_ok or vectors.ndim != 2 or vectors.shape[1] != dim or len(keys) != len(vectors):
        raise BenchDataError(f"{path}: embedding cache vectors are not (n, {dim}) with one key each")
    return {k.tobytes(): v for k, v in zip(keys, vectors.astype(np.float32), strict=True)}


def require_dream(conditions: Sequence[str]) -> None:
    """Fail before any work when the dream condition is asked of a version that cannot dream."""
    if DREAM in conditions and not callable(getattr(Memory, "dream", None)):
        raise CycleError(DREAM_UNAVAILABLE)


def dream(memory: Memory, reason: str) -> Any:
    """One dream cycle on ``memory``; never faked."""
    method = getattr(memory, "dream", None)
    if not callable(method):
        raise CycleError(DREAM_UNAVAILABLE)
    return method(reason=reason)


def tally_entries(memory: Memory, stats: dict[str, float]) -> None:
    """Add the store's entries, by status, to ``stats``: what the dreams left for recall to use."""
    for status, n in memory.store.entry_counts().items():
        stats[f"entries_{status}"] = stats.get(f"entries_{status}", 0.0) + n


class MemoryRetriever(Generic[K]):
    """oneiro's own condition: ``recall(query, k)``, entries expanded to their source episodes in
    rank order, duplicates dropped, cut at k, each episode mapped to its document key.

    When entries share sources the expansion can come up short of k; recall is then asked for
    twice as many hits (up to the store's size) so every condition is judged on k documents.
    """

    def __init__(self, memory: Memory, key_of: dict[str, K], clock: BenchClock, now: float) -> None:
        self.memory = memory
        self.key_of = key_of
        self.clock = clock
        self.now = now

    def rank(self, query: str, k: int) -> Retrieved[K]:
        self.clock.now = self.now
        start = time.perf_counter()
        asked = k
        while True:
            hits = self.memory.recall(query, asked)
            ids = source_ranking(hits, k)
            if len(ids) >= k or len(hits) < asked or asked >= len(self.key_of) * 4:
                break
            asked *= 2
        seconds = time.perf_counter() - start
        wanted, seen, used = set(ids), set[str](), list[str]()
        for hit in hits:
            used.append(hit.item.text)
            seen.update(hit.sources)
            if wanted <= seen:
                break
        keys = [self.key_of[i] for i in ids if i in self.key_of]
        return Retrieved(keys, sum(len(t.split()) for t in used), seconds)


def timed_rank(
    order: Callable[[str], Sequence[int]], keys: Sequence[K], texts: Sequence[str], query: str, k: int
) -> Retrieved[K]:
    """Run a full-corpus ranking function and cut it at k (the anchors' shared tail)."""
    start = time.perf_counter()
    top = list(order(query))[:k]
    seconds = time.perf_counter() - start
    return Retrieved([keys[i] for i in top], sum(len(texts[i].split()) for i in top), seconds)
