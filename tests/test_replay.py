"""Prioritized replay: Mattar-Daw utility, the profoundness filter and MMR diversity."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from fakes import FakeBudget, FakeSnapshot, fake_context
from oneiro.config import Config
from oneiro.dream.ops.replay import NEED_NEIGHBOURS, PrioritizedReplay, Scored, decision_scores, mmr
from oneiro.dream.phase import Carry, Residue
from oneiro.memory import Memory
from oneiro.model import Episode

CYCLE = "c-replay"


def decision(memory: Memory, i: int, key: str, residual: float) -> dict[str, Any]:
    return {
        "ts": memory.clock() - 10_000 + i,
        "session": "day",
        "kind": "decision",
        "text": f"decision {i} in {key}",
        "prediction": 0.5,
        "outcome": 0.5 + residual,
        "context": {"key": key},
    }


def select(
    memory: Memory, new: list[Episode], *, config: Config | None = None, carry: Carry | None = None
) -> Any:
    ctx = fake_context(CYCLE, memory.clock(), embedder=memory.embedder, config=config)
    snap = FakeSnapshot(memory.store, CYCLE, memory.embedder.name, new)  # type: ignore[arg-type]
    return PrioritizedReplay().run(snap, ctx, carry or Carry())


def nrem(**changes: Any) -> Config:
    base = Config()
    return replace(base, nrem=replace(base.nrem, **changes))


def test_gain_follows_the_residual_and_need_the_context_frequency(memory: Memory) -> None:
    eps = memory.record_many(
        [
            decision(memory, 0, "common", 0.6),
            decision(memory, 1, "common", 0.1),
            decision(memory, 2, "common", 0.0),
            decision(memory, 3, "rare", 0.6),
        ]
    )
    by_id = {s.id: s for s in decision_scores(eps)}
    big_common, small_common, zero, big_rare = (by_id[e.id] for e in eps)
    assert big_common.gain == big_rare.gain == 1.0 and small_common.gain < big_common.gain
    assert big_common.need == 0.75 and big_rare.need == 0.25
    assert big_common.utility > big_rare.utility > 0 and zero.utility == 0
    out = select(memory, eps)
    ids = [r["id"] for r in out.carry.replay]
    assert ids[0] == eps[0].id and eps[2].id not in ids  # zero utility is never replayed


def test_conversation_gain_rises_with_importance_novelty_and_residue(memory: Memory) -> None:
    ts = memory.clock() - 1000
    plain, marked = memory.record_many(
        [
            {"ts": ts, "text": "ok see you then"},
            {"ts": ts + 1, "text": "the deploy broke production and paged everyone"},
        ]
    )
    residue = Residue(residuals=[], failures=[marked.id], charged=[])
    out = select(memory, [plain, marked], carry=Carry(residue=residue))
    scores = {r["id"]: r for r in out.carry.replay}
    assert scores[marked.id]["gain"] > scores[plain.id]["gain"]


def test_need_is_higher_for_a_recurring_context(memory: Memory) -> None:
    ts = memory.clock() - 5000
    recurring = [f"the nightly build failed again on the arm runner step {i}" for i in range(5)]
    eps = memory.record_many(
        [{"ts": ts + i, "text": t} for i, t in enumerate(recurring)]
        + [{"ts": ts + 99, "text": "my cat likes sardines"}]
    )
    out = select(memory, eps)
    need = {r["id"]: r["need"] for r in out.carry.replay}
    assert need[eps[-1].id] == round(1 / (1 + NEED_NEIGHBOURS), 6)
    assert need[eps[0].id] >= 5 / (1 + NEED_NEIGHBOURS) - 1e-6


def test_threshold_and_top_k_filter(memory: Memory) -> None:
    eps = memory.record_many([decision(memory, i, f"k{i % 3}", 0.1 * (i + 1)) for i in range(9)])
    everything = select(memory, eps).carry.replay
    assert len(everything) == 9
    top = select(memory, eps, config=nrem(replay_top_k=4)).carry.replay
    assert len(top) == 4
    cut = sorted(r["utility"] for r in everything)[5]
    kept = select(memory, eps, config=nrem(utility_threshold=cut)).carry.replay
    assert len(kept) == 4 and all(r["utility"] >= cut for r in kept)


def test_mmr_prefers_a_distinct_item_over_a_near_copy() -> None:
    v = np.array([1.0, 0.0, 0.0], dtype=np.float32)
    near = np.array([0.99, 0.14, 0.0], dtype=np.float32)
    far = np.array([0.0, 0.0, 1.0], dtype=np.float32)
    cands = [Scored("a", "x", 1.0, 1, 1), Scored("b", "x", 0.95, 1, 1), Scored("c", "x", 0.8, 1, 1)]
    chosen, left = mmr(cands, {"a": v, "b": near, "c": far}, 2, FakeBudget())
    assert [c.id for c in chosen] == ["a", "c"] and left == 0
    alone, _ = mmr(cands, {}, 2, FakeBudget())  # no vectors: utility order
    assert [c.id for c in alone] == ["a", "b"]


def test_note_and_empty_input(memory: Memory) -> None:
    out = select(memory, [])
    assert out.carry.replay == [] and out.writes.notes[0].kind == "replay_selection"
    (one,) = memory.record_many([{"ts": 1.0, "text": "hello"}])
    single = select(memory, [one])
    assert [r["id"] for r in single.carry.replay] == [one.id]
    assert single.writes.notes[0].payload["selected"][0]["id"] == one.id


def test_budget_exhaustion_stops_selection(memory: Memory) -> None:
    eps = memory.record_many([decision(memory, i, "k", 0.1 * (i + 1)) for i in range(5)])
    ctx = fake_context(CYCLE, memory.clock(), embedder=memory.embedder, budget=FakeBudget(units=2))
    snap = FakeSnapshot(memory.store, CYCLE, memory.embedder.name, eps)  # type: ignore[arg-type]
    out = PrioritizedReplay().run(snap, ctx, Carry())
    assert out.carry.replay is not None and len(out.carry.replay) == 2 and out.left == {"candidates": 3}


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.floats(0, 1, allow_nan=False), min_size=0, max_size=30),
    st.integers(0, 10),
    st.integers(0, 3),
)
def test_mmr_returns_distinct_picks_within_k(utilities: list[float], k: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    cands = [Scored(f"e{i}", "x", u, u, 1.0) for i, u in enumerate(utilities) if u > 0]
    vectors = {c.id: rng.normal(size=4).astype(np.float32) for c in cands}
    chosen, _ = mmr(cands, vectors, k, FakeBudget())
    assert len(chosen) == min(k, len(cands))
    assert len({c.id for c in chosen}) == len(chosen)
    if chosen:
        assert chosen[0].utility == max(c.utility for c in cands)
