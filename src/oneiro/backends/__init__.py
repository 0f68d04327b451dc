"""Backends: one abstract method per kind. Provider-specific code stays in this package."""

from __future__ import annotations

from collections.abc import Callable

from oneiro.backends.embedder import Embedder
from oneiro.backends.hashing import HashingEmbedder
from oneiro.config import EmbedderConfig


def _minilm(config: EmbedderConfig) -> Embedder:
    from oneiro.backends.minilm import MiniLMEmbedder

    return MiniLMEmbedder(batch_size=config.batch_size)


def builtin_embedders() -> dict[str, Callable[[EmbedderConfig], Embedder]]:
    """oneiro's own embedders by name, for the registration door."""
    return {"hashing": lambda config: HashingEmbedder(config.hashing_dim), "minilm": _minilm}


def make_embedder(config: EmbedderConfig) -> Embedder:
    """The embedder a config names, from a registry of the built-ins and the installed plugins.
    A ``Memory`` asks its own registry instead (``oneiro.open(..., plugins=[...])``)."""
    from oneiro.plugins import Registry

    return Registry().embedder(config)


__all__ = ["Embedder", "HashingEmbedder", "make_embedder"]
