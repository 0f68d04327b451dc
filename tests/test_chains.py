"""Forward and reverse replay with credit to playbook items, compressed replay, and the replay
operations end to end through a real dream cycle."""

from __future__ import annotations

from typing import Any

import numpy as np

from fakes import FakeSnapshot, fake_context
from oneiro.dream.ops.chains import CREDIT_DEADBAND, TRACE_DECAY, BidirectionalReplay, reverse_credit
from oneiro.dream.ops.compressed import CompressedReplay
from oneiro.dream.ops.replay import PrioritizedReplay
from oneiro.dream.ops.rescoring import Rescoring
from oneiro.dream.ops.residuals import ResidualPatterns
from oneiro.dream.ops.residue import CollectResidue
from oneiro.dream.phase import Carry, PhaseName, ReplayPick
from oneiro.dream.writes import RevisionProposal
from oneiro.memory import Memory
from oneiro.model import EntryStatus, Episode, Provenance, Tier
from oneiro.playbook import Playbook
from oneiro.scoring import ScoringRegistry
from oneiro.store.query import EntryQuery

CYCLE = "c-chain"


def step(
    memory: Memory, i: int, residual: float, items: list[str], *, session: str = "run", key: str = "k"
) -> dict[str, Any]:
    return {
        "ts": memory.clock() - 10_000 + 60 * i,
        "session": session,
        "kind": "decision",
        "text": f"step {i} of {session}",
        "prediction": 0.5,
        "outcome": 0.5 + residual,
        "context": {"key": key},
        "data": {"action": f"act-{i}", "playbook_items": items},
    }


def chains(memory: Memory, new: list[Episode], carry: Carry | None = None) -> Any:
    ctx = fake_context(CYCLE, memory.clock(), embedder=memory.embedder)
    snap = FakeSnapshot(memory.store, CYCLE, memory.embedder.name, new)  # type: ignore[arg-type]
    return BidirectionalReplay().run(snap, ctx, carry or Carry())


def add_items(memory: Memory, *ids: str) -> None:
    pb = Playbook(memory.store, clock=memory.clock)
    for item in ids:
        pb.approve(pb.propose(RevisionProposal("add", "Rules", f"rule {item}", "seed", item_id=item)).id)


def test_reverse_replay_blames_the_item_used_before_a_bad_outcome(memory: Memory) -> None:
    add_items(memory, "early", "late", "after")
    eps = memory.record_many(
        [
            step(memory, 0, 0.0, ["early"]),
            step(memory, 1, -0.6, ["late"]),
            step(memory, 2, 0.0, ["after"]),
        ]
    )
    out = chains(memory, eps)
    credits = {c.item_id: c for c in out.writes.credits}
    assert credits["late"].harmful == 1 and credits["late"].helpful == 0
    assert credits["early"].harmful == 1  # the outcome reaches back one step, discounted
    assert "after" not in credits  # what came after the outcome is not blamed for it
    assert credits["late"].evidence == (eps[1].id,)
    (traj,) = out.carry.trajectories
    assert traj["ids"] == [e.id for e in eps]
    assert traj["credit"][0] == round(TRACE_DECAY * -0.6, 6)


def test_a_good_outcome_makes_its_item_helpful_and_decay_fades_old_blame(memory: Memory) -> None:
    add_items(memory, "a", "c", "d")
    eps = memory.record_many(
        [
            step(memory, 0, 0.0, ["a"]),
            *(step(memory, i, 0.0, ["c"]) for i in range(1, 9)),
            step(memory, 9, 0.5, ["d"]),
        ]
    )
    credit = reverse_credit(eps, {e.id for e in eps})
    assert np.isclose(credit[0], 0.5 * TRACE_DECAY**9) and abs(credit[0]) < CREDIT_DEADBAND * 0.5
    credits = {c.item_id: c for c in chains(memory, eps).writes.credits}
    assert credits["d"].helpful == 1 and "a" not in credits


def test_only_replayed_outcomes_give_credit(memory: Memory) -> None:
    add_items(memory, "x", "y")
    old = memory.record_many([step(memory, 0, -0.8, ["x"])])
    new = memory.record_many([step(memory, 1, 0.0, ["y"])])
    out = chains(memory, new)  # the old bad outcome was credited in its own cycle
    assert out.writes.credits == []
    assert out.carry.trajectories[0]["ids"] == [old[0].id, new[0].id]


def test_selection_limits_the_sources_and_unknown_items_are_noted(memory: Memory) -> None:
    add_items(memory, "known")
    eps = memory.record_many(
        [step(memory, 0, -0.5, ["known", "ghost"]), step(memory, 1, -0.5, ["known"], session="other")]
    )
    carry = Carry(replay=[ReplayPick(id=eps[0].id, kind="decision", utility=1.0, gain=1.0, need=1.0)])
    out = chains(memory, eps, carry)
    assert [(c.item_id, c.harmful) for c in out.writes.credits] == [("known", 1)]
    assert out.writes.notes[0].payload["unknown_items"] == ["ghost"]


def test_bad_decisions_are_skipped_without_a_crash(memory: Memory) -> None:
    eps = memory.record_many(
        [
            {"ts": 1.0, "kind": "decision", "text": "pending", "prediction": 0.2, "session": "s"},
            {"ts": 2.0, "kind": "decision", "text": "bad items", "prediction": 0.2, "outcome": 0.0,
             "session": "s", "data": {"playbook_items": "oops"}},
        ]
    )  # fmt: skip
    out = chains(memory, eps)
    assert out.writes.credits == [] and out.writes.notes[0].payload["malformed_items"] == [eps[1].id]
    assert chains(memory, []).carry == Carry(trajectories=[])


def test_compressed_replay_summarises_a_cluster_as_one(memory: Memory) -> None:
    rows = [step(memory, i, r, [], key="friday") for i, r in enumerate([-0.5, -0.4, -0.6])]
    for row in rows:
        row["data"]["action"] = "release"
    lone = step(memory, 9, 0.2, [], key="tuesday")
    eps = memory.record_many([*rows, lone])
    ctx = fake_context(CYCLE, memory.clock(), embedder=memory.embedder)
    snap = FakeSnapshot(memory.store, CYCLE, memory.embedder.name, eps)  # type: ignore[arg-type]
    out = CompressedReplay().run(snap, ctx, Carry())
    (entry,) = out.writes.entries
    assert entry.kind == "summary" and entry.status == EntryStatus.ACTIVE
    assert entry.confidence == ctx.config.lifecycle.extractive_confidence
    assert set(entry.sources) == {e.id for e in eps[:3]}
    assert entry.data["n"] == 3 and np.isclose(entry.data["mean_residual"], -0.5)
    assert np.isclose(entry.data["mean_prediction"], 0.5) and np.isclose(entry.data["mean_outcome"], 0.0)
    assert out.did["too_small"] == 1


def test_replay_ops_end_to_end_through_a_cycle(memory: Memory) -> None:
    """A real cycle: selection, chains, compression, residual patterns and re-scoring; what it
    writes is dream-made, tagged with the cycle and sourced; the planted bias is proposed."""
    add_items(memory, "evening-ok", "morning-ok")
    rng = np.random.default_rng(11)
    registry = ScoringRegistry()
    registry.register("likes", 1, lambda i: float(i["likes"]))
    rows: list[dict[str, Any]] = []
    for i in range(10):
        rows.append(step(memory, i, -0.4 + float(rng.normal(0, 0.05)), ["evening-ok"], key="evening"))
        rows.append(step(memory, 100 + i, float(rng.normal(0, 0.05)), ["morning-ok"], key="morning"))
    for row in rows:
        row["data"]["action"] = f"release in the {row['context']['key']}"
    rows[0]["data"]["score"] = {
        "scorer": "likes",
        "version": 1,
        "value": 3,
        "inputs": {"likes": 3, "shares": 2},
    }
    registry.register("likes", 2, lambda i: float(i["likes"] + 3 * i["shares"]))
    memory.record_many(rows)
    memory.record({"ts": memory.clock() - 50, "text": "a plain chat turn about lunch"})
    memory.engine.phases = {
        PhaseName.ONSET: (CollectResidue(),),
        PhaseName.NREM: (
            PrioritizedReplay(),
            BidirectionalReplay(),
            CompressedReplay(),
            ResidualPatterns(),
            Rescoring(registry),
        ),
    }
    report = memory.dream()
    cycle = report.cycle_id
    made = memory.store.entries_matching(EntryQuery(cycle=cycle))
    assert made and all(e.sources and e.provenance == Provenance.DREAM and e.tier == Tier.T0 for e in made)
    (corr,) = [e for e in made if e.kind == "correction"]
    assert corr.data["test"]["context"] == "evening" and corr.data["test"]["bias"] < 0
    assert corr.status == EntryStatus.STAGED
    (resc,) = [e for e in made if e.kind == "rescore"]
    assert (resc.data["old"], resc.data["new"], resc.data["version"]) == (3.0, 9.0, 2)
    assert {e.kind for e in made} >= {"summary", "correction", "rescore"}
    kinds = {r.kind for r in memory.journal(cycle)}
    assert {"replay_selection", "replay_chains", "residual_patterns", "rescoring"} <= kinds
    (chain_note,) = memory.journal(cycle, kind="replay_chains")
    blamed = {c["item"]: c for c in chain_note.payload["credits"]}
    assert blamed["evening-ok"]["harmful"] > blamed["evening-ok"]["helpful"]
