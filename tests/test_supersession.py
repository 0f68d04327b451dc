"""Supersession hypotheses have a stable identity: the same update said again, in one cycle or in
later ones, is staged once while an equal hypothesis is live."""

from __future__ import annotations

from oneiro.dream.ops.supersession import entry_identity, identity
from oneiro.memory import Memory
from oneiro.model import EntryStatus
from oneiro.store.query import EntryQuery

BASE = 1_771_000_000.0
OLD = "My office is on floor 3 of the Berlin building"
NEW = "Correction: my office is now on floor 5 of the Berlin building"


def test_the_same_update_said_four_times_over_two_cycles_is_staged_once(memory: Memory) -> None:
    memory.record_many([{"ts": BASE, "text": OLD, "actor": "Ann", "session": "a"}])
    memory.dream()
    for cycle in range(2):
        memory.record_many(
            [
                {"ts": BASE + 100 + 10 * cycle + j, "text": NEW, "actor": "Ann", "session": f"b{cycle}{j}"}
                for j in range(2)
            ]
        )
        memory.dream()
    staged = memory.store.entries_matching(EntryQuery(kinds=("supersession",)))
    assert len(staged) == 1 and staged[0].status == EntryStatus.STAGED
    assert entry_identity(staged[0]) == identity("Ann", NEW, OLD)


def test_an_entry_without_a_recorded_identity_is_recognised_by_its_text(memory: Memory) -> None:
    from oneiro.model import Entry, Provenance

    legacy = Entry(
        id="e1",
        kind="supersession",
        text=f'Update: "{NEW}" replaces "{OLD}"',
        sources=("a", "b"),
        provenance=Provenance.DREAM,
        keys=("Ann",),
    )
    assert entry_identity(legacy) == identity("Ann", "  " + NEW.upper(), OLD)
