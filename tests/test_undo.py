"""The undo log: a cycle's entry inserts and updates revert as one unit, vectors and text rows too."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

import oneiro
from conftest import Dump, dump_tables
from oneiro.memory import Memory
from oneiro.model import Entry, EntryStatus, Provenance, entry_id
from oneiro.store import cycles


def entry(text: str, sources: tuple[str, ...], **kw: Any) -> Entry:
    return Entry(
        id=entry_id("fact", text, sources),
        kind="fact",
        text=text,
        sources=sources,
        provenance=kw.pop("provenance", Provenance.DREAM),
        **kw,
    )


def state(memory: Memory) -> Dump:
    return dump_tables(memory.store.db.conn())  # type: ignore[attr-defined]


def without_counters(d: Dump) -> Dump:
    """The dump minus ``meta`` (cache counters move forward on purpose) and the undo log."""
    return {k: v for k, v in d.items() if k not in {"meta", "undo_log"}}


def seed(memory: Memory) -> tuple[list[str], Entry]:
    eps = [e.id for e in memory.record_many([{"text": f"the backup ran at {h}:00"} for h in range(4)])]
    awake = entry("backups run hourly", (eps[0],), confidence=0.6, status=EntryStatus.ACTIVE)
    memory.store.add_entries([awake], memory.embedder.embed([awake.text]), memory.embedder.name)
    return eps, awake


def start_cycle(memory: Memory, cycle_id: str) -> None:
    with memory.store.db.write() as conn:
        cycles.create(conn, cycle_id, 1.0, {}, "test", 1)


def test_revert_restores_entries_and_removes_vectors_and_text_rows(memory: Memory) -> None:
    eps, awake = seed(memory)
    start_cycle(memory, "c1")
    before = state(memory)
    made = [
        entry("the backup runs every hour", (eps[0], eps[1]), cycle_id="c1"),
        entry("backups at 3:00 are slow", (eps[3],), cycle_id="c1", confidence=0.3),
    ]
    model = memory.embedder.name
    memory.store.add_entries(made, memory.embedder.embed([e.text for e in made]), model, cycle_id="c1")
    memory.store.update_entry(awake.id, {"confidence": 0.9, "status": EntryStatus.VALIDATED}, cycle_id="c1")
    memory.store.update_entry(made[0].id, {"uses": 3, "keys": ("backup",)}, cycle_id="c1")
    memory.store.update_entry(awake.id, {"confirmations": 2, "data": {"why": "seen"}}, cycle_id="c1")
    assert memory.store.entries([awake.id])[awake.id].confidence == 0.9
    assert memory.store.search_text("slow", 10)
    assert memory.store.revert_writes("c1") == 5
    after = state(memory)
    assert without_counters(after) == without_counters(before)
    assert not memory.store.vectors_for([e.id for e in made], model)
    assert memory.store.search_text("slow", 10) == []
    assert memory.store.entries([awake.id])[awake.id] == awake
    assert after["undo_log"] == []


def test_revert_leaves_other_cycles_and_awake_writes_alone(memory: Memory) -> None:
    eps, awake = seed(memory)
    start_cycle(memory, "keep")
    start_cycle(memory, "drop")
    kept = entry("kept by another cycle", (eps[1],), cycle_id="keep")
    memory.store.add_entries([kept], None, memory.embedder.name, cycle_id="keep")
    memory.store.update_entry(awake.id, {"uses": 1})
    dropped = entry("dropped with its cycle", (eps[2],), cycle_id="drop")
    memory.store.add_entries([dropped], None, memory.embedder.name, cycle_id="drop")
    memory.store.revert_writes("drop")
    found = memory.store.entries([kept.id, dropped.id, awake.id])
    assert set(found) == {kept.id, awake.id}
    assert found[awake.id].uses == 1
    assert memory.store.revert_writes("drop") == 0


@settings(max_examples=25, deadline=None)
@given(
    ops=st.lists(
        st.tuples(
            st.sampled_from(["insert", "update"]),
            st.integers(0, 5),
            st.sampled_from(["confidence", "uses", "status", "keys"]),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_any_sequence_of_cycle_writes_reverts_exactly(ops: list[tuple[str, int, str]]) -> None:
    with oneiro.open(":memory:", embedder="hashing") as memory:
        eps, awake = seed(memory)
        start_cycle(memory, "c")
        before = without_counters(state(memory))
        made: list[str] = [awake.id]
        values = {"confidence": 0.77, "uses": 9, "status": EntryStatus.REFUTED, "keys": ("k",)}
        for op, n, column in ops:
            if op == "insert":
                e = entry(f"idea {n}", (eps[n % len(eps)],), cycle_id="c")
                memory.store.add_entries([e], memory.embedder.embed([e.text]), memory.embedder.name, "c")
                made.append(e.id)
            else:
                memory.store.update_entry(made[n % len(made)], {column: values[column]}, cycle_id="c")
        memory.store.revert_writes("c")
        assert without_counters(state(memory)) == before
