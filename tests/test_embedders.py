"""One contract for every embedder: shape, float32, unit rows, determinism, batching."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from oneiro.backends import Embedder, HashingEmbedder, make_embedder
from oneiro.config import EmbedderConfig
from oneiro.store.vectors import Matrix

TEXTS = [
    "Maya moved the nightly build to 02:00 UTC",
    "The staging cluster ran out of disk",
    "Ünïcode, emoji 🙂 and punctuation!!!",
    "!!!",
    "a",
    "the the the the the the",
    "long " * 40,
]


@pytest.fixture(params=["hashing", "hashing-64", "minilm"])
def embedder(request: pytest.FixtureRequest) -> Embedder:
    if request.param == "minilm":
        model: Embedder = request.getfixturevalue("minilm")
        return model
    if request.param == "hashing-64":
        return HashingEmbedder(dim=64, batch_size=3)
    return make_embedder(EmbedderConfig(name="hashing"))


def test_shape_and_dtype(embedder: Embedder) -> None:
    m = embedder.embed(TEXTS)
    assert m.shape == (len(TEXTS), embedder.dim)
    assert m.dtype == np.float32
    assert embedder.embed([]).shape == (0, embedder.dim)
    assert embedder.embed_one(TEXTS[0]).shape == (embedder.dim,)


def test_rows_are_unit_length(embedder: Embedder) -> None:
    norms = np.linalg.norm(embedder.embed(TEXTS), axis=1)
    np.testing.assert_allclose(norms, 1.0, atol=1e-5)


def test_deterministic(embedder: Embedder) -> None:
    np.testing.assert_array_equal(embedder.embed(TEXTS), embedder.embed(TEXTS))


def test_batching_equals_one_by_one(embedder: Embedder) -> None:
    together = embedder.embed(TEXTS)
    alone = np.vstack([embedder.embed([t]) for t in TEXTS])
    np.testing.assert_allclose(together, alone, atol=1e-5)


def test_similar_texts_are_closer_than_unrelated_ones(embedder: Embedder) -> None:
    a, b, c = embedder.embed(
        ["the nightly build runs at two", "the nightly build now runs at two UTC", "lena likes morning tea"]
    )
    assert float(a @ b) > float(a @ c)


class CountingEmbedder(Embedder):
    """A fake that records the batches the base class hands it."""

    name = "counting"
    dim = 4
    batch_size = 3

    def __init__(self) -> None:
        self.calls: list[int] = []

    def embed_batch(self, texts: Sequence[str]) -> Matrix:
        self.calls.append(len(texts))
        return np.array([[len(t), 1.0, 0.0, 0.0] for t in texts], dtype=np.float32)


def test_base_class_batches_and_normalises() -> None:
    fake = CountingEmbedder()
    out = fake.embed(["a", "bb", "ccc", "dddd", "eeeee", "f", "gg"])
    assert fake.calls == [3, 3, 1]
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-6)


def test_hashing_is_stable_across_instances_and_names_its_dimension() -> None:
    one, two = HashingEmbedder(dim=128), HashingEmbedder(dim=128)
    np.testing.assert_array_equal(one.embed(TEXTS), two.embed(TEXTS))
    assert one.name == "hashing-128" and one.dim == 128
