"""What every store must do, whatever holds the data."""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
import pytest

from oneiro.errors import DimensionMismatch, OneiroError
from oneiro.model import Entry, EntryStatus, Episode, Provenance, entry_id, episode_id
from oneiro.store import Store

MODEL = "contract-model"
DIM = 8


def episode(text: str, ts: float = 1_700_000_000.0, session: str = "s", actor: str = "a") -> Episode:
    eid = episode_id(
        ts=ts,
        text=text,
        session=session,
        actor=actor,
        kind="message",
        data={},
        context={},
        affect=None,
        prediction=None,
        outcome=None,
        feedback=None,
        refs=(),
        provenance="awake",
    )
    return Episode(id=eid, ts=ts, text=text, session=session, actor=actor)


def vectors(n: int, seed: int = 0) -> np.ndarray:
    m = np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)
    return m / np.linalg.norm(m, axis=1, keepdims=True)


def add(store: Store, *texts: str) -> list[Episode]:
    eps = [episode(t, ts=1_700_000_000.0 + i) for i, t in enumerate(texts)]
    store.add_episodes(eps, vectors(len(eps)), MODEL, ["" for _ in eps])
    return eps


def derived(text: str, sources: tuple[str, ...], **kw: object) -> Entry:
    return Entry(
        id=entry_id("fact", text, sources),
        kind="fact",
        text=text,
        sources=sources,
        provenance=Provenance.DREAM,
        **kw,  # type: ignore[arg-type]
    )


# -- episodes ---------------------------------------------------------------------------------
def test_episodes_are_content_addressed_and_stored_once(store: Store) -> None:
    (a,) = add(store, "the build runs at two")
    fresh = store.add_episodes([a], vectors(1), MODEL, [""])
    assert fresh == [False] and store.episode_count() == 1
    assert store.episodes([a.id])[a.id].text == "the build runs at two"


def test_a_failing_batch_stores_nothing(store: Store) -> None:
    add(store, "first")
    eps = [episode("second"), episode("third")]
    with pytest.raises(OneiroError):
        store.add_episodes(eps, np.ones((2, DIM + 1), dtype=np.float32), MODEL, ["", ""])
    assert store.episode_count() == 1


def test_episodes_since_and_backlog_follow_insertion_order(store: Store) -> None:
    eps = add(store, "one", "two", "three")
    since = store.episodes_since(0)
    assert [e.id for _r, e in since] == [e.id for e in eps]
    rowid = since[0][0]
    assert [e.id for _r, e in store.episodes_since(rowid)] == [e.id for e in eps[1:]]
    assert store.backlog(rowid)[0] == 2
    assert store.episode_max_rowid() == since[-1][0]


# -- entries, visibility, floor ---------------------------------------------------------------
def test_entries_round_trip_and_updates_change_only_mutable_columns(store: Store) -> None:
    (a,) = add(store, "source")
    e = derived("a claim", (a.id,), confidence=0.2)
    assert store.add_entries([e], vectors(1), MODEL) == [True]
    assert store.add_entries([e], vectors(1), MODEL) == [False]
    store.update_entry(e.id, {"confidence": 0.5, "status": EntryStatus.VALIDATED})
    got = store.entries([e.id])[e.id]
    assert (got.confidence, got.status, got.sources) == (0.5, EntryStatus.VALIDATED, (a.id,))
    with pytest.raises(ValueError):
        store.update_entry(e.id, {"text": "rewritten"})
    assert store.entries_citing([a.id]) == {a.id: [e.id]}


def test_a_derived_entry_needs_a_source(store: Store) -> None:
    with pytest.raises(OneiroError):
        store.add_entries([derived("sourceless", ())], None, MODEL)


def test_visibility_respects_the_floor_and_unreturned_cycles(store: Store) -> None:
    (a,) = add(store, "source")
    low = derived("low", (a.id,), confidence=0.2)
    high = derived("high", (a.id,), confidence=0.6, status=EntryStatus.ACTIVE)
    store.create_cycle("c1", 1.0, {}, "test", 1, {})
    pending = derived("pending", (a.id,), confidence=0.6, status=EntryStatus.ACTIVE)
    store.add_entries([low, high], None, MODEL)
    store.add_entries([pending], None, MODEL, cycle_id="c1")
    assert store.visible_entries([low.id, high.id, pending.id], 0.3) == {high.id}
    store.update_cycle("c1", status="completed")
    assert store.visible_entries([low.id, high.id, pending.id], 0.3) == {high.id, pending.id}


# -- vectors and text -------------------------------------------------------------------------
def test_vectors_load_in_order_and_refuse_another_dimension(store: Store) -> None:
    eps = add(store, "alpha", "beta")
    rows = store.load_vectors(MODEL)
    assert list(rows.ids) == [e.id for e in eps] and rows.matrix.shape == (2, DIM)
    with pytest.raises(DimensionMismatch):
        store.check_embedder(MODEL, DIM + 1)


def test_full_text_search_ranks_the_better_match_first(store: Store) -> None:
    a, b = add(store, "the nightly build moved to two", "lunch was pizza")
    hits = store.search_text("nightly build", 5)
    assert hits and hits[0][0] == a.id and b.id not in [h[0] for h in hits]
    assert store.search_text('"; DROP TABLE episodes; --', 5) == []


# -- journal ------------------------------------------------------------------------------------
def test_the_journal_chains_and_verifies(store: Store) -> None:
    for i in range(5):
        store.journal_append(float(i), "note", {"i": i}, cycle_id="c" if i % 2 else None)
    assert store.journal_verify() == 5
    assert [r.payload["i"] for r in store.journal_read(cycle_id="c")] == [1, 3]


# -- cycles and undo ----------------------------------------------------------------------------
def test_a_cycle_reverts_exactly_what_it_wrote(store: Store) -> None:
    (a,) = add(store, "source")
    kept = derived("kept", (a.id,), confidence=0.6, status=EntryStatus.ACTIVE)
    store.add_entries([kept], None, MODEL)
    store.create_cycle("c2", 1.0, {}, "test", 1, {})
    made = derived("made", (a.id,))
    with store.transaction():
        store.add_entries([made], None, MODEL, cycle_id="c2")
        store.update_entry(kept.id, {"confidence": 0.9}, cycle_id="c2")
    assert store.revert_writes("c2") >= 2
    assert store.entries([made.id]) == {}
    assert store.entries([kept.id])[kept.id].confidence == 0.6
    store.update_cycle("c2", status="reverted")
    assert [c.id for c in store.cycles_with_status("reverted")] == ["c2"]


def test_migrations_bring_a_blank_store_to_the_current_schema(store: Store) -> None:
    from oneiro.store.migrations import MIGRATIONS

    assert store.schema_version() == MIGRATIONS[-1].seq
    assert store.integrity_check() == "ok"


# -- the dream lease ----------------------------------------------------------------------------
def test_the_lease_has_one_holder_until_it_expires(store: Store) -> None:
    taken, lease = store.lease_acquire("c-a", "host-1", 10, now=100.0, ttl=30.0)
    assert taken and lease is not None and lease.holder == "c-a"
    taken, lease = store.lease_acquire("c-b", "host-2", 11, now=110.0, ttl=30.0)
    assert not taken and lease is not None and lease.holder == "c-a"
    assert store.lease_renew("c-a", now=125.0, ttl=30.0)
    assert not store.lease_acquire("c-b", "host-2", 11, now=150.0, ttl=30.0)[0]
    taken, lease = store.lease_acquire("c-b", "host-2", 11, now=156.0, ttl=30.0)
    assert taken and lease is not None and lease.holder == "c-b"
    assert not store.lease_renew("c-a", now=157.0, ttl=30.0)
    assert not store.lease_release("c-a") and store.lease_release("c-b")
    assert store.lease_holder() is None


def test_racing_threads_on_one_file_get_exactly_one_lease(file_factory: Callable[[], Store]) -> None:
    stores = [file_factory() for _ in range(6)]
    barrier = threading.Barrier(len(stores))
    won: list[str] = []

    def race(i: int) -> None:
        barrier.wait()
        taken, _lease = stores[i].lease_acquire(f"c-{i}", "host", 1, now=1.0, ttl=60.0)
        if taken:
            won.append(f"c-{i}")

    threads = [threading.Thread(target=race, args=(i,)) for i in range(len(stores))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    holder = stores[0].lease_holder()
    for s in stores:
        s.close()
    assert len(won) == 1 and holder is not None and holder.holder == won[0]


def test_a_lease_of_a_dead_process_on_this_host_is_free_but_not_one_elsewhere(store: Store) -> None:
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert store.lease_acquire("c-dead", "here", child.pid, now=1.0, ttl=600.0)[0]
    assert store.lease_acquire("c-new", "here", 2, now=2.0, ttl=600.0)[0]
    assert store.lease_acquire("c-far", "there", child.pid, now=3.0, ttl=600.0)[0] is False


# -- typed entry queries --------------------------------------------------------------------------
def test_entry_queries_filter_by_kind_status_cycle_confidence_data_and_text(store: Store) -> None:
    from oneiro.store.query import DERIVED, EntryQuery

    (a,) = add(store, "source")
    store.create_cycle("c1", 1.0, {}, "test", 1, {})
    low = derived("low", (a.id,), confidence=0.2, data={"test": {"context": "eth"}})
    high = derived("high", (a.id,), confidence=0.8, status=EntryStatus.VALIDATED, data={"quarantine": "x"})
    store.add_entries([low], None, MODEL, cycle_id="c1")
    store.add_entries([high], None, MODEL)

    def ids(**kw: object) -> list[str]:
        return [e.id for e in store.entries_matching(EntryQuery(**kw))]  # type: ignore[arg-type]

    assert ids() == [low.id, high.id]
    assert ids(cycle="c1") == [low.id] and ids(not_cycle="c1") == [high.id]
    assert ids(statuses=("validated",)) == [high.id] and ids(statuses=()) == []
    assert ids(min_confidence=0.5) == [high.id]
    assert ids(data_has=(("test.context", "eth"),)) == [low.id]
    assert ids(data_has=(("test.context", "btc"),)) == []
    assert ids(data_keys=("test",)) == [low.id] and ids(data_lacks=("quarantine",)) == [low.id]
    assert ids(text="high", kinds=("fact",), provenance=DERIVED) == [high.id]
    assert ids(provenance=("awake",)) == [] and ids(limit=1) == [low.id]
    assert ids(returned=True) == [high.id]
    store.update_cycle("c1", status="completed")
    assert ids(returned=True) == [low.id, high.id]


def test_an_entry_query_refuses_a_data_path_that_is_not_plain_names() -> None:
    from oneiro.store.query import EntryQuery

    with pytest.raises(OneiroError, match="data path"):
        EntryQuery(data_has=(("test') OR 1=1 --", "x"),))


# -- predictions ----------------------------------------------------------------------------------
def test_predictions_of_a_returned_cycle_resolve_once_and_revert_with_their_cycle(store: Store) -> None:
    from oneiro.dream.writes import Prediction

    store.create_cycle("c1", 5.0, {}, "test", 1, {})
    store.add_predictions([Prediction("p1", "it rains", 100.0), Prediction("p2", "it snows", 50.0)], "c1")
    assert store.predictions() == []  # the cycle has not returned
    store.update_cycle("c1", status="completed")
    rows = store.predictions("open")
    assert [p.id for p in rows] == ["p2", "p1"] and rows[0].made_at == 5.0
    store.resolve_prediction("p1", "confirmed", "ep", 60.0)
    store.resolve_prediction("p1", "refuted", "other", 70.0)
    (p1,) = [p for p in store.predictions() if p.id == "p1"]
    assert (p1.status, p1.resolved_by, p1.resolved_at) == ("confirmed", "ep", 60.0)
    assert store.revert_writes("c1") >= 2 and store.predictions() == []


# -- evidence -------------------------------------------------------------------------------------
def test_evidence_is_one_judgement_per_pair_with_the_episode_origin(store: Store) -> None:
    from oneiro.store.evidence import EvidenceRow

    src, judge = add(store, "source", "later")
    hyp = derived("hyp", (src.id,), data={"test": {"type": "text_support"}})
    store.add_entries([hyp], None, MODEL)
    assert [e.id for e in store.testable_hypotheses()] == [hyp.id]
    assert store.add_evidence(EvidenceRow(hyp.id, judge.id, 1, 0.0, "ignored"))
    assert not store.add_evidence(EvidenceRow(hyp.id, judge.id, -1, 0.0, "ignored"))
    (row,) = store.evidence_for([hyp.id])[hyp.id]
    origin = store.episode_origins([judge.id])[judge.id]
    assert (row.polarity, row.recorded_at, row.party) == (1, origin.recorded_at, origin.party)
    grounds = store.evidence_grounds(hyp.id)
    assert grounds.episodes == {src.id} and grounds.parties == {origin.party}


def test_staged_dream_entries_expire_by_their_expiry(store: Store) -> None:
    (a,) = add(store, "source")
    old = derived("old", (a.id,), created_at=10.0)
    store.add_entries([old], None, MODEL)
    assert store.expirable_entries(now=20.0, expiry_seconds=100.0) == []
    assert [e.id for e in store.expirable_entries(now=200.0, expiry_seconds=100.0)] == [old.id]
    store.update_entries({old.id: {"status": EntryStatus.EXPIRED}})
    assert store.entries([old.id])[old.id].status == EntryStatus.EXPIRED


# -- dispatches -----------------------------------------------------------------------------------
def test_dispatches_append_and_replay_only_awake_successes(store: Store) -> None:
    from oneiro.store.protocol import Dispatch

    def record(mode: str, status: str, response: str | None) -> int:
        return store.record_dispatch(
            Dispatch(1.0, mode, "pay", "effectful", status, "h1", '{"x":1}', response, None, None)
        )

    first = record("awake", "ok", '{"paid":true}')
    record("dream", "simulated", '{"paid":false}')
    record("awake", "error", None)
    assert first >= 1
    found = store.latest_dispatch("pay", "h1")
    assert found is not None and found.seq == first and found.response == {"paid": True}
    assert store.latest_dispatch("pay", "other") is None
    assert [d.mode for d in store.recent_dispatches(pipeline="pay")] == ["awake", "dream", "awake"]
    assert store.dispatch_count(mode="awake") == 2 and store.dispatch_count(pipeline="none") == 0


# -- the playbook ---------------------------------------------------------------------------------
def test_playbook_items_revisions_and_decisions_round_trip(store: Store) -> None:
    from oneiro.dream.writes import RevisionProposal
    from oneiro.playbook import Item, RevisionStatus, draft

    item = Item("item-a", "Risk", "Keep leverage modest", {"leverage": 2})
    store.replace_playbook_items([item])
    assert store.playbook_items() == [item]
    assert store.count_item_use("item-a", helpful=2) and not store.count_item_use("nope", helpful=1)
    rev = draft(
        store.playbook_items(),
        store.constraints(),
        RevisionProposal("edit", "Risk", "Keep leverage low", "safer", item_id="item-a", evidence=("e",)),
        proposed_by="user",
        now=3.0,
    )
    assert store.add_revision(rev) and not store.add_revision(rev)
    assert [r.id for r in store.playbook_revisions("proposed")] == [rev.id]
    store.set_revision_validated(rev.id, "sha", {"renders": None})
    stored = store.playbook_revision(rev.id)
    assert stored is not None and stored.validated_sha == "sha" and stored.diff == rev.diff
    store.decide_revision(rev.id, RevisionStatus.ACTIVE, by="me", at=4.0, decision="ok", before=[item])
    last = store.last_active_revision()
    assert last is not None and last[0].id == rev.id and last[1] == [item]
    assert store.playbook_revisions("proposed") == [] and store.playbook_revision("rev-none") is None
    assert set(store.playbook_dump()) == {"playbook_items", "playbook_revisions", "constraints"}


def test_a_cycles_revisions_and_credits_revert_with_it(store: Store) -> None:
    from oneiro.dream.writes import RevisionProposal
    from oneiro.playbook import Item, propose_from_dream

    store.replace_playbook_items([Item("item-a", "Risk", "Keep leverage modest")])
    before = store.playbook_dump()
    store.create_cycle("c1", 1.0, {}, "test", 1, {})
    with store.transaction():
        rid = propose_from_dream(
            store, RevisionProposal("add", "Ops", "Reconcile daily", "x", evidence=("e",)), "c1", 2.0
        )
        assert store.credit_item("item-a", 3, 1, "c1") and not store.credit_item("none", 1, 0, "c1")
    assert store.playbook_revision(rid) is not None and store.playbook_items()[0].helpful == 3
    store.revert_writes("c1")
    assert store.playbook_dump() == before


def test_constraints_are_stored_by_name_and_replaced_in_place(store: Store) -> None:
    from oneiro.constraints import Constraint

    store.put_constraint(Constraint("lev", "param_range", {"param": "leverage", "max": 3}), 1.0)
    store.put_constraint(Constraint("lev", "param_range", {"param": "leverage", "max": 2}, "file"), 2.0)
    store.put_constraint(Constraint("a-lock", "locked_item", {"item": "item-a"}), 3.0)
    got = store.constraints()
    assert [c.name for c in got] == ["a-lock", "lev"] and got[1].spec["max"] == 2 and got[1].source == "file"


def test_a_transaction_handle_is_the_stores_own_type_and_rolls_back_on_error(store: Store) -> None:
    from oneiro.store.protocol import TxHandle

    with pytest.raises(RuntimeError), store.transaction() as tx:
        assert isinstance(tx, TxHandle) and tx.writable
        store.put_meta("k", "v")
        raise RuntimeError("abort")
    assert store.get_meta("k") is None
    with store.snapshot() as snap:
        assert isinstance(snap, TxHandle) and not snap.writable


# -- scored episodes ------------------------------------------------------------------------------
def test_episodes_scored_below_a_version_are_found_by_scorer_and_window(store: Store) -> None:
    def scored(text: str, score: object) -> Episode:
        e = episode(text)
        return Episode(id=e.id + "-s", ts=e.ts, text=text, session="s", actor="a", data={"score": score})

    eps = [
        scored("old likes", {"scorer": "likes", "version": 1}),
        scored("new likes", {"scorer": "likes", "version": 2}),
        scored("old views", {"scorer": "views", "version": 1}),
        scored("odd version", {"scorer": "likes", "version": 1.5}),
        scored("not a record", "likes"),
    ]
    store.add_episodes(eps, vectors(len(eps)), MODEL, [""] * len(eps))
    rowids = {e.id: r for r, e in store.episodes_since(0)}
    top = max(rowids.values())
    assert [e.text for _r, e in store.episodes_scored_below("likes", 2, 0, top, 10)] == ["old likes"]
    assert [e.text for _r, e in store.episodes_scored_below("likes", 3, 0, top, 10)] == [
        "old likes",
        "new likes",
    ]
    assert store.episodes_scored_below("likes", 2, rowids[eps[0].id], top, 10) == []
    assert store.episodes_scored_below("likes", 3, 0, top, 1)[0][1].text == "old likes"


def test_entry_uses_add_up_and_select_the_used(store: Store) -> None:
    from oneiro.store.query import EntryQuery

    (a,) = add(store, "source")
    used, idle = derived("used", (a.id,)), derived("idle", (a.id,))
    store.add_entries([used, idle], None, MODEL)
    assert store.count_entry_uses({used.id: (2, 1, 0), "missing": (1, 0, 0)}) == 1
    assert store.count_entry_uses({used.id: (1, 0, 1), idle.id: (0, 0, 0)}) == 1
    got = store.entries([used.id, idle.id])
    assert (got[used.id].uses, got[used.id].helpful, got[used.id].harmful) == (3, 1, 1)
    assert got[idle.id].uses == 0
    assert [e.id for e in store.entries_matching(EntryQuery(min_uses=1))] == [used.id]
