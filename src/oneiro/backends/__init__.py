"""Backends: one abstract method per kind. Provider-specific code stays in this package."""

from __future__ import annotations

from collections.abc import Callable

from oneiro.backends.embedder import Embedder
from oneiro.backends.hashing import HashingEmbedder
from oneiro.config import EmbedderConfig
from oneiro.errors import ConfigError


def _minilm(config: EmbedderConfig) -> Embedder:
    from oneiro.backends.minilm import MiniLMEmbedder

    return MiniLMEmbedder(batch_size=config.batch_size)


def builtin_embedders() -> dict[str, Callable[[EmbedderConfig], Embedder]]:
    """oneiro's own embedders by name, for the registration door."""
    return {"hashing": lambda config: HashingEmbedder(config.hashing_dim), "minilm": _minilm}


def make_embedder(config: EmbedderConfig) -> Embedder:
    """The embedder a config names."""
    if config.name == "hashing":
        return HashingEmbedder(config.hashing_dim)
    if config.name == "minilm":
        from oneiro.backends.minilm import MiniLMEmbedder

        return MiniLMEmbedder(batch_size=config.batch_size)
    raise ConfigError(f"unknown embedder {config.name!r}")


__all__ = ["Embedder", "HashingEmbedder", "make_embedder"]
