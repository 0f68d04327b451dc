"""The anchors every oneiro figure is measured beside: plain BM25 and plain dense retrieval.

Both rank a fixed corpus of documents (turns, or LongMemEval session keys) and know nothing of
oneiro. BM25 is Okapi BM25 from the ``rank-bm25`` package (k1 = 1.5, b = 0.75, its defaults, as
in LongMemEval's official ``flat-bm25``); the tokenizer is named, because it moves the figures:

- ``split``: ``text.split(" ")``, case kept, punctuation attached: the LongMemEval official one.
- ``words``: lower-cased ``\\w+`` runs: what a reader would call plain BM25 over words.

Dense is cosine similarity of the same embedder's vectors, no fusion, no reweighting.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, Generic

import numpy as np

from oneiro.backends.embedder import Embedder
from oneiro.bench.conditions import K, Retrieved, timed_rank
from oneiro.errors import BackendError

_WORD = re.compile(r"\w+")

Tokenizer = Callable[[str], list[str]]


def split_tokens(text: str) -> list[str]:
    return text.split(" ")


def word_tokens(text: str) -> list[str]:
    return _WORD.findall(text.lower())


TOKENIZERS: dict[str, Tokenizer] = {"split": split_tokens, "words": word_tokens}


def _okapi(corpus: list[list[str]]) -> Any:
    try:
        from rank_bm25 import BM25Okapi  # type: ignore[import-untyped]
    except ImportError:
        raise BackendError("the bm25 anchor needs the rank-bm25 package: pip install rank-bm25") from None
    return BM25Okapi(corpus)


def _descending(scores: np.ndarray) -> list[int]:
    """Indices by score, best first; ties keep corpus order (a stable sort)."""
    return [int(i) for i in np.argsort(-scores, kind="stable")]


class BM25Anchor(Generic[K]):
    """Okapi BM25 over ``texts``, answering with ``keys``."""

    def __init__(self, keys: Sequence[K], texts: Sequence[str], tokenizer: str = "words") -> None:
        if tokenizer not in TOKENIZERS:
            raise BackendError(f"unknown BM25 tokenizer {tokenizer!r}; known: {', '.join(TOKENIZERS)}")
        self.keys = list(keys)
        self.texts = list(texts)
        self.tokenize = TOKENIZERS[tokenizer]
        self._bm25 = _okapi([self.tokenize(t) for t in self.texts])

    def order(self, query: str) -> list[int]:
        return _descending(np.asarray(self._bm25.get_scores(self.tokenize(query)), dtype=np.float64))

    def rank(self, query: str, k: int) -> Retrieved[K]:
        return timed_rank(self.order, self.keys, self.texts, query, k)


class DenseAnchor(Generic[K]):
    """Cosine similarity over the embedder's (L2-normalised) vectors of ``texts``."""

    def __init__(self, keys: Sequence[K], texts: Sequence[str], embedder: Embedder) -> None:
        self.keys = list(keys)
        self.texts = list(texts)
        self.embedder = embedder
        self.matrix = embedder.embed(self.texts)

    def order(self, query: str) -> list[int]:
        return _descending(self.matrix @ self.embedder.embed([query])[0])

    def rank(self, query: str, k: int) -> Retrieved[K]:
        return timed_rank(self.order, self.keys, self.texts, query, k)
