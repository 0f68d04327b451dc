"""The causal model is fitted on the store's recent decisions, not only the cycle's intake, and
its read is bounded."""

from __future__ import annotations

from rem_helpers import context, record_decisions, snapshot

from oneiro.dream.ops.rem.counterfactuals import Counterfactuals
from oneiro.dream.ops.rem.decisions import store_decisions
from oneiro.dream.phase import Carry
from oneiro.memory import Memory


def test_a_cycle_with_two_new_decisions_imagines_from_the_stores_history(memory: Memory) -> None:
    eps = record_decisions(memory, {"a": (lambda x: 1.0, 0.0, 1.0), "b": (lambda x: 0.0, 0.0, 1.0)}, 30)
    out = Counterfactuals().run(snapshot(memory, eps[-2:]), context(memory), Carry())
    got = {r["action"]: r for r in out.carry.imagined_returns or []}
    assert set(got) == {"a", "b"} and got["a"]["observed"] == 30
    assert got["a"]["mean"] > got["b"]["mean"] + 0.5


def test_the_store_read_is_bounded_by_the_window(memory: Memory) -> None:
    eps = record_decisions(memory, {"a": (lambda x: 1.0, 0.0, 1.0)}, 50)
    got = store_decisions(snapshot(memory), window=20)
    assert [e.id for e in got] == [e.id for e in eps[-20:]]
