"""LoRA on CPU (GPU when present) with transformers + peft: the weight tier's trainer.

The base model is never changed by training: peft's layers are injected for a run and removed
(``unload``, no merge) afterwards, so "before" and "after" are measured on the same base and an
adapter is only ever a separate set of tensors. Merging happens only on request (:func:`merged`).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from oneiro.errors import BackendError
from oneiro.train.examples import Example
from oneiro.train.trainer import Adapter, Meter, Trainer

#: Where the libraries come from, named in the error a user sees without them.
EXTRA = "oneiro[weights]"
#: Target modules: the attention query and value projections, as in the LoRA paper (Hu et al. 2021, §7.1).
TARGET_MODULES = ("q_proj", "v_proj")
#: LoRA defaults: rank 8, alpha 16 (peft's documented starting point), lr 2e-4 (QLoRA, Dettmers 2023).
RANK = 8
ALPHA = 16
LEARNING_RATE = 2e-4
#: Tokens per example beyond which the tail is cut (a reflection or an answer is short).
MAX_TOKENS = 256

Tokenize = Callable[[str], list[int]]


def require_libraries() -> None:
    """BackendError naming the extra when torch, transformers or peft is missing."""
    try:
        import peft  # noqa: F401
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as exc:
        raise BackendError(
            f"the weight tier needs {exc.name}: install it with pip install '{EXTRA}'"
        ) from exc


@dataclass(frozen=True)
class LoraSettings:
    rank: int = RANK
    alpha: int = ALPHA
    learning_rate: float = LEARNING_RATE
    target_modules: tuple[str, ...] = TARGET_MODULES
    seed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "alpha": self.alpha,
            "learning_rate": self.learning_rate,
            "target_modules": list(self.target_modules),
            "seed": self.seed,
        }


def _peft_config(settings: Mapping[str, Any]) -> Any:
    from peft import LoraConfig

    return LoraConfig(
        r=int(settings["rank"]),
        lora_alpha=int(settings["alpha"]),
        lora_dropout=0.0,
        target_modules=list(settings["target_modules"]),
        task_type="CAUSAL_LM",
    )


def encode(tokenize: Tokenize, example: Example) -> tuple[list[int], list[int]]:
    """Token ids and labels: the prompt's positions are masked (-100), so only the target is learnt."""
    prompt = tokenize(example.prompt) if example.prompt else []
    target = tokenize(example.target)
    ids = (prompt + target)[:MAX_TOKENS]
    labels = ([-100] * len(prompt) + target)[:MAX_TOKENS]
    return ids, labels


class LoraTrainer(Trainer):
    """One example per optimiser step, in a seeded shuffled order, cycling until the budget ends."""

    def __init__(
        self, model: Any, tokenize: Tokenize, settings: LoraSettings | None = None, *, base: str = "base"
    ) -> None:
        require_libraries()
        self.model = model
        self.tokenize = tokenize
        self.settings = settings or LoraSettings()
        self.base = base

    def _fit(self, examples: Sequence[Example], meter: Meter) -> Adapter:
        import torch
        from peft import get_peft_model, get_peft_model_state_dict

        torch.manual_seed(self.settings.seed)
        order = list(range(len(examples)))
        random.Random(self.settings.seed).shuffle(order)
        encoded = [encode(self.tokenize, examples[i]) for i in order]
        wrapped = get_peft_model(self.model, _peft_config(self.settings.as_dict()))
        try:
            wrapped.train()
            params = [p for p in wrapped.parameters() if p.requires_grad]
            optimiser = torch.optim.AdamW(params, lr=self.settings.learning_rate)
            while meter.may_step():
                ids, labels = encoded[meter.steps % len(encoded)]
                loss = wrapped(input_ids=torch.tensor([ids]), labels=torch.tensor([labels])).loss
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                meter.steps += 1
            weights = {k: v.detach().clone() for k, v in get_peft_model_state_dict(wrapped).items()}
        finally:
            self.model = wrapped.unload()
            self.model.eval()
        return Adapter(weights, meter.steps, meter.elapsed(), self.base, self.settings.as_dict())


@contextmanager
def applied(model: Any, adapter: Adapter | None) -> Iterator[Any]:
    """The model with ``adapter`` in place for the block (the base alone for None), then restored."""
    if adapter is None:
        yield model
        return
    from peft import get_peft_model, set_peft_model_state_dict

    wrapped = get_peft_model(model, _peft_config(adapter.settings))
    set_peft_model_state_dict(wrapped, dict(adapter.weights))
    wrapped.eval()
    try:
        yield wrapped
    finally:
        wrapped.unload()


def merged(model: Any, adapter: Adapter) -> Any:
    """The base with the adapter merged into its weights (on request only: it cannot be undone)."""
    from peft import get_peft_model, set_peft_model_state_dict

    wrapped = get_peft_model(model, _peft_config(adapter.settings))
    set_peft_model_state_dict(wrapped, dict(adapter.weights))
    return wrapped.merge_and_unload()


def nll(model: Any, tokenize: Tokenize, examples: Sequence[Example]) -> float:
    """Mean negative log-likelihood per target token (lower is better; exp() is perplexity)."""
    import torch

    total, count = 0.0, 0
    with torch.no_grad():
        for example in examples:
            ids, labels = encode(tokenize, example)
            n = sum(1 for t in labels[1:] if t != -100)
            if n == 0:
                continue
            loss = model(input_ids=torch.tensor([ids]), labels=torch.tensor([labels])).loss
            total += float(loss) * n
            count += n
    return total / count if count else 0.0
