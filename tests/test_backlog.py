"""The backlog: a cycle that runs out of budget ends ``partial``, says what it left, and the next
cycle carries the rest over; reverting any cycle (not only the latest) makes its episodes
unconsolidated again; progress events come from inside the phases."""

from __future__ import annotations

import pytest

import oneiro.dream.checkpoint as cycle_module
from oneiro.dream import backlog
from oneiro.dream.budget import CycleBudget
from oneiro.dream.ops.extractive import extractive_entry
from oneiro.dream.ops.waking_brief import WakingBrief
from oneiro.dream.phase import Carry, Context, Outcome, PhaseName, Snapshot
from oneiro.dream.writes import Writes
from oneiro.events import Event
from oneiro.memory import Memory
from oneiro.model import Tier
from oneiro.store.query import EntryQuery
from test_cycle import day

#: Tokens of the test budget; NREM's share (34% when thriving) is 34 of them.
TOKENS = 100
CHUNK = 10


class PerEpisode:
    """Consolidates one episode per token; stops (reporting what it left) when tokens run out.
    Tokens make the budget exact, so these tests need no clock."""

    name = "per_episode"
    tier = Tier.T1

    def run(self, snap: Snapshot, ctx: Context, carry: Carry) -> Outcome:
        writes = Writes()
        for n, ep in enumerate(snap.new_episodes):
            if ctx.budget.exhausted():
                return Outcome(writes, left={"episodes": len(snap.new_episodes) - n})
            ctx.budget.spend_tokens(1)
            writes.entries.append(extractive_entry(ctx, "keys", f"about {ep.text}", (ep.id,)))
        return Outcome(writes, did={"episodes": len(snap.new_episodes)})


def budget() -> CycleBudget:
    return CycleBudget(600.0, tokens=TOKENS, tier=Tier.T1, vitality=1.0)


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch, memory: Memory) -> Memory:
    monkeypatch.setattr(cycle_module, "CHUNK_EPISODES", CHUNK)
    memory.engine.phases = {PhaseName.NREM: (PerEpisode(),), PhaseName.RETURN: (WakingBrief(),)}
    return memory


def consolidated_sources(memory: Memory) -> set[str]:
    return {e.sources[0] for e in memory.store.entries_matching(EntryQuery(kinds=("keys",)))}


def test_a_cycle_out_of_budget_ends_partial_and_the_next_carries_the_rest(small_chunks: Memory) -> None:
    memory = small_chunks
    episodes = memory.record_many(day(100))
    first = memory.dream(budget=budget())
    # 34 NREM tokens: three chunks of 10, the fourth runs out after 4 and is discarded whole.
    assert first.status == "partial" and first.new_episodes == 100 and first.left_episodes == 70
    assert len(consolidated_sources(memory)) == 30
    assert first.brief is not None and first.brief["backlog"]["left"] == 70
    assert "70 left unconsolidated" in first.brief["markdown"]
    nrem = next(p for p in first.phases if p.phase == "nrem")
    assert nrem.left["episodes"] == 70 and "discarded" in nrem.note
    assert memory.journal(first.cycle_id, kind="cycle_partial")[0].payload["left_episodes"] == 70
    assert memory.should_dream().reason  # the scheduler still sees the backlog:
    assert backlog.signals(memory.store)[0] == 70
    seen = 30
    while seen < 100:
        nxt = memory.dream(budget=budget())
        assert nxt.new_episodes == 100 - seen
        seen += nxt.new_episodes - nxt.left_episodes
    assert consolidated_sources(memory) == {e.id for e in episodes}
    assert memory.dream(budget=budget()).new_episodes == 0


def test_a_budget_too_small_for_one_chunk_halves_the_chunk_until_it_fits(small_chunks: Memory) -> None:
    memory = small_chunks
    memory.record_many(day(20))
    tiny = CycleBudget(600.0, tokens=10, tier=Tier.T1, vitality=1.0)  # NREM gets 3 tokens
    sizes, left = [], []
    for _ in range(4):
        report = memory.dream(budget=tiny)
        sizes.append(memory.store.cycle(report.cycle_id).checkpoint["chunk_size"])  # type: ignore[union-attr]
        left.append(report.left_episodes)
    assert sizes[:3] == [10, 5, 2] and left[0] == left[1] == 20 and left[2] == 18


def test_the_real_phases_under_a_tiny_budget_leave_their_backlog(memory: Memory) -> None:
    memory.record_many(day(600))
    report = memory.dream(budget=CycleBudget(0.05))
    assert report.status == "partial" and report.left_episodes > 0
    assert report.entries_written() == 0 or report.left_episodes < 600
    assert memory.dream(budget=CycleBudget(600.0)).new_episodes == report.left_episodes


def test_reverting_a_cycle_that_is_not_the_latest_gives_its_episodes_back(memory: Memory) -> None:
    memory.record_many(day(5))
    a = memory.dream()
    second = memory.record_many(day(6, start=5))
    b = memory.dream()
    memory.record_many(day(7, start=11))
    c = memory.dream()
    assert (a.new_episodes, b.new_episodes, c.new_episodes) == (5, 6, 7)
    memory.revert(b.cycle_id)
    again = memory.dream()
    assert again.status == "completed" and again.new_episodes == 6
    keys = [e for e in memory.store.entries_matching(EntryQuery(kinds=("keys",), cycle=again.cycle_id))]
    assert {e.sources[0] for e in keys} == {e.id for e in second}
    assert memory.dream().new_episodes == 0


def test_progress_is_published_per_operation_and_per_chunk(
    memory: Memory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cycle_module, "CHUNK_EPISODES", 4)
    memory.record_many(day(10))
    events: list[Event] = []
    memory.bus.subscribe(events.append)
    memory.dream()
    progress = [e.payload for e in events if e.kind == "dream_progress"]
    chunks = [(p["chunk"], p["chunks"], p["episodes"], p["total"]) for p in progress if p["state"] == "chunk"]
    assert chunks == [(1, 3, 4, 10), (2, 3, 8, 10), (3, 3, 10, 10)]
    nrem_ops = [p["operation"] for p in progress if p["state"] == "operation" and p["phase"] == "nrem"]
    names = [op.name for op in memory.engine.phases[PhaseName.NREM]]
    assert nrem_ops == names * 3
    integration = [p for p in progress if p["state"] == "operation" and p["phase"] == "integration"]
    assert [(p["op_step"], p["ops"]) for p in integration] == [(1, 2), (2, 2)]
