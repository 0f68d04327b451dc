"""Shared by the weight-tier tests (imported by name, not a conftest): a tiny randomly initialised
causal LM and a byte tokenizer; real transformers + peft, no downloaded weights."""

from __future__ import annotations

from typing import Any

import pytest
import torch


def byte_tokenize(text: str) -> list[int]:
    return list(text.encode("utf-8"))


def tiny_model(seed: int = 0) -> Any:
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=256,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=512,
        initializer_range=0.3,
    )
    model = LlamaForCausalLM(config)
    model.eval()
    return model


@pytest.fixture
def model() -> Any:
    """A fresh tiny model per test (imported by the test modules: there is no conftest here)."""
    return tiny_model()
