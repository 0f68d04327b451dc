"""Embedders: one abstract method, ``embed_batch``; the base class gives the rest.

Vectors are float32 and L2-normalised, so a dot product is a cosine similarity everywhere else in
oneiro.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np

from oneiro.store.vectors import Matrix


class Embedder(ABC):
    """Base class: subclasses set ``name`` and ``dim`` and implement :meth:`embed_batch`."""

    name: str
    dim: int
    batch_size: int = 256

    @abstractmethod
    def embed_batch(self, texts: Sequence[str]) -> Matrix:
        """Embed at most ``batch_size`` texts; return an (n, dim) float32 matrix."""

    def embed(self, texts: Sequence[str]) -> Matrix:
        """Embed any number of texts in batches; rows are L2-normalised."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = [
            self.embed_batch(texts[i : i + self.batch_size]) for i in range(0, len(texts), self.batch_size)
        ]
        matrix = np.vstack(parts).astype(np.float32, copy=False)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        out: Matrix = matrix / norms
        return out

    def embed_one(self, text: str) -> Matrix:
        row: Matrix = self.embed([text])[0]
        return row
