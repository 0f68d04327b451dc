"""Shared by the weight-tier tests (imported by name, not a conftest): a tiny randomly initialised
causal LM and a byte tokenizer; real transformers + peft, no downloaded weights."""

from __future__ import annotations

from typing import Any

import pytest

from oneiro.train.base import byte_tokens, tiny_base

byte_tokenize = byte_tokens


def tiny_model(seed: int = 0) -> Any:
    return tiny_base(seed, hidden=32, max_positions=512)


@pytest.fixture
def model() -> Any:
    """A fresh tiny model per test (imported by the test modules: there is no conftest here)."""
    return tiny_model()
