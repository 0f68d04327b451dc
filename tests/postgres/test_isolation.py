"""Many agents in one database: no public method of one agent's store returns, counts or changes
another agent's data, even given that agent's ids, sessions, texts and cycle ids.

Every method of the store protocol is listed below as a read (asked with agent A's keys on agent
B's store, it must answer as an empty store does) or a write (done on B with A's keys, it must
leave A exactly as it was); a protocol method in neither list fails the test, so a new method
cannot go unchecked.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import numpy as np

from contract.test_store_contract import MODEL, add, derived, vectors
from oneiro.constraints import Constraint
from oneiro.dream.writes import Prediction, RevisionProposal
from oneiro.forget import ForgetPlan
from oneiro.model import EntryStatus
from oneiro.playbook import Item, RevisionStatus, draft
from oneiro.store.evidence import EvidenceRow
from oneiro.store.postgres import PostgresStore
from oneiro.store.protocol import Dispatch, Store
from oneiro.store.query import EntryQuery

#: Not data: the store's own handle and settings.
HANDLE = {"path", "read_only", "close", "refuse_write", "transaction", "snapshot", "schema_version"}


def _fill(a: PostgresStore) -> dict[str, Any]:
    """Agent A's store with a row of every kind; returns the keys a thief would try."""
    src, later = add(a, "the nightly build moved to two", "lunch was pizza at noon")
    a.create_cycle("cycle-a", 1.0, {}, "test", 1, {})
    hyp = derived("builds move at night", (src.id,), data={"test": {"type": "text_support"}})
    a.add_entries([hyp], vectors(1, seed=3), MODEL, cycle_id="cycle-a")
    a.update_cycle("cycle-a", status="completed")
    a.add_evidence(EvidenceRow(hyp.id, later.id, 1, 0.0, "x"))
    a.add_predictions([Prediction("p-a", "it rains", 100.0)], "cycle-a")
    a.journal_append(1.0, "note", {"secret": "nightly"}, cycle_id="cycle-a")
    a.put_meta("owner", "agent-a")
    a.record_dispatch(Dispatch(1.0, "awake", "pay", "effectful", "ok", "h1", "{}", '{"ok":1}', None, None))
    a.replace_playbook_items([Item("item-a", "Risk", "Keep leverage modest")])
    rev = draft(
        a.playbook_items(),
        a.constraints(),
        RevisionProposal("edit", "Risk", "Keep leverage low", "safer", item_id="item-a", evidence=("e",)),
        proposed_by="user",
        now=3.0,
    )
    a.add_revision(rev)
    a.put_constraint(Constraint("lev", "param_range", {"param": "leverage", "max": 3}), 1.0)
    a.lease_acquire("cycle-a", "host-a", 1, now=1.0, ttl=1e9)
    return {"src": src, "later": later, "hyp": hyp, "rev": rev}


def _reads(k: dict[str, Any]) -> dict[str, Callable[[Store], Any]]:
    src, hyp, rev = k["src"], k["hyp"], k["rev"]
    query = np.ones(8, dtype=np.float32)
    return {
        "episodes": lambda s: s.episodes([src.id]),
        "episodes_since": lambda s: s.episodes_since(0),
        "episodes_in_sessions": lambda s: s.episodes_in_sessions([src.session]),
        "episodes_around": lambda s: s.episodes_around(src.session, 0.0, 2e9, 10),
        "episode_origins": lambda s: s.episode_origins([src.id]),
        "episodes_scored_below": lambda s: s.episodes_scored_below("x", 99, 0, 10**9, 10),
        "episode_count": lambda s: s.episode_count(),
        "episode_max_rowid": lambda s: s.episode_max_rowid(),
        "backlog": lambda s: s.backlog(0)[0],
        "last_awake_ts": lambda s: s.last_awake_ts(),
        "entries": lambda s: s.entries([hyp.id]),
        "entries_matching": lambda s: s.entries_matching(EntryQuery()),
        "expirable_entries": lambda s: s.expirable_entries(now=1e12, expiry_seconds=1.0),
        "entries_citing": lambda s: s.entries_citing([src.id]),
        "visible_entries": lambda s: s.visible_entries([hyp.id], 0.0),
        "entry_counts": lambda s: s.entry_counts(),
        "load_vectors": lambda s: s.load_vectors(MODEL).ids,
        "vectors_for": lambda s: s.vectors_for([src.id, hyp.id], MODEL),
        "built_with": lambda s: s.built_with(),
        "check_embedder": lambda s: s.check_embedder("another-model", 3),
        "search_text": lambda s: s.search_text("nightly build pizza", 10),
        "versions": lambda s: s.versions()[0],
        "get_meta": lambda s: s.get_meta("owner"),
        "journal_read": lambda s: s.journal_read(),
        "journal_verify": lambda s: s.journal_verify(),
        "cycle": lambda s: s.cycle("cycle-a"),
        "cycles_with_status": lambda s: s.cycles_with_status("completed", "running"),
        "recent_cycles": lambda s: s.recent_cycles(),
        "cycle_count": lambda s: s.cycle_count(),
        "predictions": lambda s: s.predictions(),
        "evidence_grounds": lambda s: tuple(vars(s.evidence_grounds(hyp.id)).values()),
        "testable_hypotheses": lambda s: s.testable_hypotheses(),
        "latest_dispatch": lambda s: s.latest_dispatch("pay", "h1"),
        "recent_dispatches": lambda s: s.recent_dispatches(),
        "dispatch_count": lambda s: s.dispatch_count(),
        "playbook_items": lambda s: s.playbook_items(),
        "playbook_revision": lambda s: s.playbook_revision(rev.id),
        "playbook_revisions": lambda s: s.playbook_revisions(),
        "last_active_revision": lambda s: s.last_active_revision(),
        "constraints": lambda s: s.constraints(),
        "playbook_dump": lambda s: {t: rows for t, rows in s.playbook_dump().items() if rows},
        "forget_select": lambda s: s.forget_select([src.id], src.actor, src.session),
        "forget_citing": lambda s: s.forget_citing([src.id]),
        "forget_quoting": lambda s: s.forget_quoting(["builds move at night"]),
        "evidence_for": lambda s: {e: r for e, r in s.evidence_for([hyp.id]).items() if r},
        "journal_containing": lambda s: s.journal_containing(["nightly"]),
        "lease_holder": lambda s: s.lease_holder(),
        "export_lines": lambda s: [line for line in s.export_lines(MODEL) if '"table"' in line],
        "integrity_check": lambda s: s.integrity_check() == "ok" and None,
        "nearest": lambda s: s.nearest(MODEL, query, 10),  # type: ignore[attr-defined]
    }


def _writes(k: dict[str, Any]) -> dict[str, Callable[[Store], Any]]:
    src, later, hyp, rev = k["src"], k["later"], k["hyp"], k["rev"]
    return {
        "add_episodes": lambda s: s.add_episodes([src], vectors(1), MODEL, [""]),
        "add_entries": lambda s: s.add_entries([hyp], None, MODEL),
        "update_entry": lambda s: s.update_entry(hyp.id, {"confidence": 0.99}),
        "update_entries": lambda s: s.update_entries({hyp.id: {"status": EntryStatus.REFUTED}}),
        "put_meta": lambda s: s.put_meta("owner", "thief"),
        "journal_append": lambda s: s.journal_append(2.0, "note", {}),
        "create_cycle": lambda s: s.create_cycle("cycle-a", 2.0, {}, "theft", 2, {}),
        "update_cycle": lambda s: s.update_cycle("cycle-a", status="reverted"),
        "revert_writes": lambda s: s.revert_writes("cycle-a"),
        "add_predictions": lambda s: s.add_predictions([Prediction("p-a", "it snows", 1.0)], "cycle-a"),
        "resolve_prediction": lambda s: s.resolve_prediction("p-a", "refuted", "thief", 5.0),
        "add_evidence": lambda s: s.add_evidence(EvidenceRow(hyp.id, later.id, -1, 0.0, "x")),
        "record_dispatch": lambda s: s.record_dispatch(
            Dispatch(2.0, "awake", "pay", "effectful", "ok", "h1", "{}", '{"ok":2}', None, None)
        ),
        "replace_playbook_items": lambda s: s.replace_playbook_items([Item("item-b", "Ops", "Steal")]),
        "count_item_use": lambda s: s.count_item_use("item-a", helpful=5),
        "count_entry_uses": lambda s: s.count_entry_uses({hyp.id: (5, 5, 5)}),
        "credit_item": lambda s: s.credit_item("item-a", 5, 5, "cycle-a"),
        "add_revision": lambda s: s.add_revision(rev),
        "set_revision_validated": lambda s: s.set_revision_validated(rev.id, "sha", {}),
        "decide_revision": lambda s: s.decide_revision(
            rev.id, RevisionStatus.REJECTED, by="thief", at=5.0, decision="no"
        ),
        "put_constraint": lambda s: s.put_constraint(Constraint("lev", "param_range", {"max": 9}), 2.0),
        "forget_apply": lambda s: s.forget_apply(ForgetPlan((src.id,), (hyp.id,))),
        "scrub": lambda s: s.scrub(),
        "lease_acquire": lambda s: s.lease_acquire("cycle-b", "host-b", 2, now=2.0, ttl=60.0),
        "lease_renew": lambda s: s.lease_renew("cycle-a", now=3.0, ttl=60.0),
        "lease_release": lambda s: s.lease_release("cycle-a"),
        "import_lines": lambda s: None,  # needs an empty store: B's is not, and A's never enters
    }


def _empty(value: Any) -> bool:
    return value in (None, 0, "", [], {}, set(), (set(), set())) or (
        isinstance(value, tuple | list) and len(value) == 0
    )


def _fingerprint(store: PostgresStore) -> list[str]:
    return [line for line in store.export_lines(MODEL) if '"table"' in line]


def test_no_public_method_reaches_across_agents(open_pg: Callable[..., PostgresStore]) -> None:
    a, b = open_pg(), open_pg()
    keys = _fill(a)
    reads, writes = _reads(keys), _writes(keys)
    protocol = {n for n in vars(Store) if not n.startswith("_")}
    assert protocol - HANDLE - set(reads) - set(writes) == set(), "classify every new store method"
    leaked = {name: got for name, call in reads.items() if not _empty(got := call(b))}
    assert leaked == {}
    before = _fingerprint(a)
    for call in writes.values():
        with contextlib.suppress(Exception):  # B may refuse (A's episode is no row of B's): fine
            call(b)
    assert _fingerprint(a) == before
    assert a.journal_verify() == 1 and a.lease_holder() is not None
    assert {e.id for e in a.entries_matching(EntryQuery())} == {keys["hyp"].id}


def test_the_same_ids_in_two_agents_are_two_rows(open_pg: Callable[..., PostgresStore]) -> None:
    a, b = open_pg(), open_pg()
    (ep,) = add(a, "shared words")
    assert b.add_episodes([ep], vectors(1), MODEL, [""]) == [True]
    assert a.episode_count() == b.episode_count() == 1
    assert [h[0] for h in b.search_text("shared words", 5)] == [ep.id]
