"""A dependency-free, deterministic embedder: signed feature hashing of words and word bigrams.

Not semantic, but stable across processes and machines (it uses blake2b, not Python's salted
``hash``), so tests and minimal installs get real, reproducible vectors.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Sequence

import numpy as np

from oneiro.backends.embedder import Embedder
from oneiro.store.vectors import Matrix

_WORD = re.compile(r"\w+", re.UNICODE)


class HashingEmbedder(Embedder):
    def __init__(self, dim: int = 384, batch_size: int = 1024) -> None:
        self.dim = dim
        self.name = f"hashing-{dim}"
        self.batch_size = batch_size

    def _features(self, text: str) -> list[str]:
        """Words and word bigrams; a text without words ("!!!", "🙂") falls back to its characters
        so that every non-blank text gets a non-zero, normalisable vector."""
        words = [w.lower() for w in _WORD.findall(text)]
        if not words:
            return [c for c in text if not c.isspace()]
        return words + [f"{a} {b}" for a, b in itertools.pairwise(words)]

    def embed_batch(self, texts: Sequence[str]) -> Matrix:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for feature in self._features(text):
                digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()
                value = int.from_bytes(digest, "little")
                out[row, value % self.dim] += 1.0 if (value >> 63) & 1 else -1.0
        return out
