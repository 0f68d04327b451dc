"""Depotentiation: how much of replay the most charged episodes take, before and after.

A generated store of ``N`` conversational episodes (``TOPICS`` topics, templated text), each with
an affect: 5% of them charged (|arousal| uniform in [0.7, 1.0]), the rest calm (|arousal| below
0.3). The real NREM pipeline picks the replay (ONSET's residue, whose "charged" list feeds replay's
gain, then prioritized replay's top-k by utility with MMR), once on the episodes as recorded and
once on the same episodes seen through REM's depotentiated view (each charged episode's arousal
multiplied by ``rem.depotentiation_factor`` and its capture importance recomputed with the same
novelty). Figure: the share of replay slots the top 5% arousal episodes take, before and after,
median over ``SEEDS`` seeds. (NREM replay itself does not read the view yet; this measures what it
would select if it did.) Run: ``PYTHONPATH=src python bench/rem_depotentiation.py``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from oneiro import capture
from oneiro.config import Config
from oneiro.dream.ops.rem.depotentiation import Depotentiation, calmer
from oneiro.dream.ops.replay import PrioritizedReplay
from oneiro.dream.ops.residue import CollectResidue
from oneiro.dream.phase import Carry
from oneiro.model import Episode
from rem_common import context, open_memory, snapshot, write

SEEDS = 10
N = 1_000
TOPICS = 40
CHARGED_SHARE = 0.05
TOP_K = 64


def replay_share(memory: Any, eps: list[Episode], top: set[str], seed: int, config: Config) -> float:
    snap = snapshot(memory, eps)
    ctx = context(memory, seed, config)
    residue = CollectResidue().run(snap, ctx, Carry()).carry
    picks = PrioritizedReplay().run(snap, ctx, residue).carry.replay or []
    return sum(p["id"] in top for p in picks) / max(1, len(picks))


def one(seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    memory, clock = open_memory()
    config = dataclasses.replace(Config(), nrem=dataclasses.replace(Config().nrem, replay_top_k=TOP_K))
    records = []
    for i in range(N):
        charged = rng.random() < CHARGED_SHARE
        arousal = float(rng.uniform(0.7, 1.0) if charged else rng.uniform(0.0, 0.3))
        topic = int(rng.integers(TOPICS))
        records.append(
            {
                "ts": clock() - 86_400 + 60 * i,
                "session": f"s{i // 50}",
                "actor": "user",
                "text": f"about topic {topic}: note {i} on item {int(rng.integers(1000))}",
                "affect": {"pleasure": 0.0, "arousal": arousal, "dominance": 0.0},
            }
        )
    eps = memory.record_many(records)
    by_arousal = sorted(eps, key=lambda e: -abs(e.affect.arousal if e.affect else 0.0))
    top = {e.id for e in by_arousal[: int(CHARGED_SHARE * N)]}
    before = replay_share(memory, eps, top, seed, config)
    # The depotentiated view, staged by REM's operation on this store.
    out = Depotentiation().run(snapshot(memory, eps), context(memory, seed, config), Carry())
    view = {str(e.data["episode"]): float(e.data["view_arousal"]) for e in out.writes.entries}
    vectors = memory.store.vectors_for([e.id for e in eps], memory.embedder.name)
    matrix = np.vstack([vectors[e.id] for e in eps]).astype(np.float32)
    novelty = capture.novelty(
        matrix, np.zeros((0, matrix.shape[1]), np.float32), config.capture.novelty_neighbours
    )
    calm = [
        dataclasses.replace(c, importance=capture.importance(c, nv, config.capture))
        for c, nv in zip((calmer(e, view) for e in eps), novelty, strict=True)
    ]
    plain = [
        dataclasses.replace(e, importance=capture.importance(e, nv, config.capture))
        for e, nv in zip(eps, novelty, strict=True)
    ]
    before_same_novelty = replay_share(memory, plain, top, seed, config)
    after = replay_share(memory, calm, top, seed, config)
    memory.close()
    return {
        "seed": seed,
        "viewed": len(view),
        "before": before,
        "before_same_novelty": before_same_novelty,
        "after": after,
    }


def main() -> None:
    runs = [one(seed) for seed in range(SEEDS)]
    result = {
        "seeds": SEEDS,
        "episodes": N,
        "charged_share": CHARGED_SHARE,
        "replay_top_k": TOP_K,
        "top5_share_before_median": float(np.median([r["before_same_novelty"] for r in runs])),
        "top5_share_after_median": float(np.median([r["after"] for r in runs])),
        "top5_share_before_as_recorded_median": float(np.median([r["before"] for r in runs])),
        "per_seed": runs,
    }
    write("rem_depotentiation", result)


if __name__ == "__main__":
    main()
