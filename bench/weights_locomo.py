"""The weight tier on one LoCoMo dev conversation: perplexity before/after, forgetting with and
without replay, steps/s, wall time per run, adapter size before/after pruning.

New material: the turns of the conversation's newest session (``speaker: text``), standing in for
the validated entries a dream cycle would hand the weight tier. Replay: turns of earlier sessions,
sampled at ``--replay-ratio`` per new example. Probes: other earlier turns, held back (never trained
on), scored on the base and on the candidate. Two runs side by side from the same base and seed, with
replay and without; the probe margin is reported, not enforced. Perplexity is exp(mean NLL per
token) of the target text. No QA item, answer or evidence id is read.
Run: ``PYTHONPATH=src HF_HUB_OFFLINE=1 python bench/weights_locomo.py [--model tiny|gemma]``.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from oneiro.bench.data import load_locomo_conversations
from oneiro.train.adapters import WEIGHTS_FILE, AdapterStore, nonzero, prune
from oneiro.train.examples import NEXT_TOKEN, Example, TrainingSet
from oneiro.train.lora import LoraSettings, LoraTrainer, Tokenize, applied, nll
from oneiro.train.probes import PROBE_MARGIN
from oneiro.train.trainer import StepBudget

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "locomo" / "locomo10_dev.json"
RESULTS = Path(__file__).resolve().parent / "results"
#: Held-back probes: enough turns for a stable mean NLL at a few seconds of scoring.
PROBES = 24


def _tiny() -> tuple[Any, Tokenize, str]:
    from oneiro.train.base import TINY_NAME, byte_tokens, tiny_base

    return tiny_base(), byte_tokens, TINY_NAME


def _gemma() -> tuple[Any, Tokenize, str]:
    from oneiro.train.base import BASE_NAME, load_base

    model, tokenize = load_base()
    return model, tokenize, BASE_NAME


def _material(
    data: Path, new_turns: int, replay_ratio: float
) -> tuple[list[Example], list[Example], list[Example]]:
    conv = load_locomo_conversations(data, limit=1)[0]

    def ex(t: Any, replay: bool = False) -> Example:
        return Example("", f"{t.speaker}: {t.text}", NEXT_TOKEN, t.dia_id, replay=replay)

    new = [ex(t) for t in conv.sessions[-1].turns[:new_turns]]
    older = [t for s in conv.sessions[:-1] for t in s.turns]
    random.Random(0).shuffle(older)
    probes = [ex(t) for t in older[:PROBES]]
    pool = older[PROBES:]
    replay = [ex(t, True) for t in pool[: round(replay_ratio * len(new))]]
    return new, replay, probes


def _run(
    model: Any,
    tokenize: Tokenize,
    training: TrainingSet,
    probes: list[Example],
    steps: int,
    settings: LoraSettings,
    prune_fraction: float,
) -> dict[str, Any]:
    trainer = LoraTrainer(model, tokenize, settings)
    t0 = time.monotonic()
    result = trainer.train(training.examples, StepBudget(steps, 3600.0))
    wall = time.monotonic() - t0
    assert result.adapter is not None
    pruned = replace(result.adapter, weights=prune(result.adapter.weights, prune_fraction))
    with tempfile.TemporaryDirectory() as tmp:
        store = AdapterStore(Path(tmp), lambda kind, payload: None)
        dense = store.stage(result.adapter, {})
        sparse = store.stage(pruned, {})
        sizes = {
            v.name: (Path(tmp) / "adapters" / v.name / WEIGHTS_FILE).stat().st_size for v in (dense, sparse)
        }
    out: dict[str, Any] = {
        "steps": result.steps,
        "train_seconds": round(result.seconds, 2),
        "steps_per_s": round(result.steps / result.seconds, 3),
        "wall_seconds": round(wall, 2),
        "nonzero_before_prune": nonzero(result.adapter.weights),
        "nonzero_after_prune": nonzero(pruned.weights),
        "file_bytes": sizes[dense.name],
        "file_bytes_pruned_dense_format": sizes[sparse.name],
    }
    for label, adapter in (("unpruned", result.adapter), ("pruned", pruned)):
        with applied(trainer.model, adapter) as m:
            out[f"ppl_new_{label}"] = round(math.exp(nll(m, tokenize, training.new)), 3)
            out[f"ppl_probes_{label}"] = round(math.exp(nll(m, tokenize, probes)), 3)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", choices=("tiny", "gemma"), default="tiny")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--new-turns", type=int, default=8)
    parser.add_argument("--replay-ratio", type=float, default=0.5)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--prune", type=float, default=0.5)
    args = parser.parse_args()
    t0 = time.monotonic()
    model, tokenize, base = _tiny() if args.model == "tiny" else _gemma()
    load_seconds = time.monotonic() - t0
    new, replay, probes = _material(args.data, args.new_turns, args.replay_ratio)
    settings = LoraSettings(learning_rate=args.learning_rate)
    before = {
        "ppl_new": round(math.exp(nll(model, tokenize, new)), 3),
        "ppl_probes": round(math.exp(nll(model, tokenize, probes)), 3),
    }
    runs = {
        "with_replay": _run(
            model, tokenize, TrainingSet(tuple(new), tuple(replay)), probes, args.steps, settings, args.prune
        ),
        "without_replay": _run(
            model, tokenize, TrainingSet(tuple(new), ()), probes, args.steps, settings, args.prune
        ),
    }
    for run in runs.values():
        run["forgetting_nats"] = round(math.log(run["ppl_probes_pruned"]) - math.log(before["ppl_probes"]), 4)
        run["within_margin"] = run["forgetting_nats"] <= PROBE_MARGIN
    report = {
        "base": base,
        "load_seconds": round(load_seconds, 1),
        "data": args.data.name,
        "new_examples": len(new),
        "replay_examples": len(replay),
        "probes": len(probes),
        "settings": {**settings.as_dict(), "steps": args.steps, "prune": args.prune},
        "before": before,
        "runs": runs,
    }
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"weights_locomo_{args.model}.json"
    out.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
