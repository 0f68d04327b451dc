"""EVOLUTION's operations over a real store: memetic selection, contradictions, recombination,
fingerprints and the scheduler signals they feed."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fakes import FakeSnapshot, apply_writes, begin_cycle, complete_cycle, fake_context
from oneiro.backends.hashing import HashingEmbedder
from oneiro.config import Config
from oneiro.dream.ops.evolution.contradictions import ContradictionDetection, claim_of, contradicts
from oneiro.dream.ops.evolution.fingerprints import DreamFingerprints
from oneiro.dream.ops.evolution.fitness import fitness
from oneiro.dream.ops.evolution.memetic import MemeticSelection
from oneiro.dream.ops.evolution.recombination import KnowledgeRecombination
from oneiro.dream.phase import Carry
from oneiro.model import Entry, EntryStatus, Episode, Provenance, entry_id, episode_id
from oneiro.scheduler import gather
from oneiro.store import SQLiteStore

NOW = 1_772_000_000.0
MODEL = HashingEmbedder().name


@pytest.fixture
def store() -> Iterator[SQLiteStore]:
    s = SQLiteStore(":memory:")
    yield s
    s.close()


def episode(text: str, *, actor: str = "ann", context: dict[str, Any] | None = None, **kw: Any) -> Episode:
    fields: dict[str, Any] = {
        "ts": NOW - 100,
        "text": text,
        "session": "s",
        "actor": actor,
        "kind": kw.pop("kind", "message"),
        "data": kw.pop("data", {}),
        "context": context or {},
        "affect": None,
        "prediction": kw.pop("prediction", None),
        "outcome": kw.pop("outcome", None),
        "feedback": None,
        "refs": (),
        "provenance": "awake",
    }
    return Episode(id=episode_id(**fields), **{k: v for k, v in fields.items() if k != "provenance"})


def add_episodes(store: SQLiteStore, *eps: Episode) -> None:
    emb = HashingEmbedder()
    store.add_episodes(
        list(eps), emb.embed([e.text for e in eps]), MODEL, ["" for _ in eps], recorded_at=NOW - 50
    )


def entry(text: str, sources: tuple[str, ...] = (), **kw: Any) -> Entry:
    return Entry(
        id=entry_id("fact", text, sources),
        kind="fact",
        text=text,
        sources=sources,
        provenance=Provenance.DREAM if sources else Provenance.AWAKE,
        confidence=kw.pop("confidence", 0.6),
        status=kw.pop("status", EntryStatus.ACTIVE),
        created_at=kw.pop("created_at", NOW - 3600),
        **kw,
    )


def add_entries(store: SQLiteStore, *entries: Entry) -> None:
    store.add_entries(list(entries), HashingEmbedder().embed([e.text for e in entries]), MODEL)


def run(op: Any, store: SQLiteStore, cycle: str = "c1", carry: Carry | None = None, new: Any = ()) -> Any:
    snap = FakeSnapshot(store, cycle, MODEL, new=list(new))
    return op.run(snap, fake_context(cycle, NOW), carry or Carry())


def notes(out: Any, kind: str) -> dict[str, Any]:
    (note,) = [n.payload for n in out.writes.notes if n.kind == kind]
    return note  # type: ignore[no-any-return]


# -- memetic selection ----------------------------------------------------------------------------
def test_memetic_selection_on_an_empty_store_says_why(store: SQLiteStore) -> None:
    out = run(MemeticSelection(), store)
    assert not out.writes.entries and not out.writes.updates
    assert "no entry" in notes(out, "evolution.memetic")["skipped"]


def test_a_parasite_is_demoted_and_a_helpful_entry_varied(store: SQLiteStore) -> None:
    src = episode("the cache runs hot at noon", context={"region": "eu"})
    add_episodes(store, src)
    parasite = entry("always retry payments ten times", uses=12, helpful=2, harmful=9, fitness=0.4)
    good = entry("check the cache before noon", (src.id,), uses=12, helpful=9, harmful=1, fitness=0.1)
    idle = entry("the office plant needs water", uses=1)
    add_entries(store, parasite, good, idle)
    out = run(MemeticSelection(), store)
    ups = {u.entry_id: u.changes for u in out.writes.updates}
    assert ups[parasite.id]["confidence"] == pytest.approx(0.3)
    assert "confidence" not in ups[good.id] and ups[good.id]["previous_fitness"] == 0.1
    assert ups[good.id]["fitness"] > ups[parasite.id]["fitness"]
    variants = out.writes.entries
    assert variants and {v.sources for v in variants} == {(good.id,)}
    assert {v.data["mutation"] for v in variants} == {"confidence", "context"}
    assert all(v.generation == 1 and v.confidence == 0.2 and v.status == EntryStatus.STAGED for v in variants)
    context = next(v for v in variants if v.data["mutation"] == "context")
    assert "region=eu" in context.keys
    report = notes(out, "evolution.memetic")
    p = report["price"]
    assert math.isclose(p["selection"] + p["transmission"], p["change"], abs_tol=1e-9)
    assert list(report["demoted"]) == [parasite.id]


def test_a_varied_parent_is_not_varied_again(store: SQLiteStore) -> None:
    good = entry("check the cache before noon", uses=12, helpful=9, harmful=1)
    add_entries(store, good, entry("x is y", uses=1))
    first = run(MemeticSelection(), store)
    assert first.writes.entries
    begin_cycle(store, "c1", NOW)
    apply_writes(store, first.writes, fake_context("c1", NOW))
    complete_cycle(store, "c1", NOW)
    again = run(MemeticSelection(), store, "c2")
    assert not [v for v in again.writes.entries if v.sources == (good.id,)]


def test_equal_fitness_is_a_noted_no_op(store: SQLiteStore) -> None:
    add_entries(store, entry("a is 1", uses=3, created_at=NOW), entry("b is 2", uses=3, created_at=NOW))
    out = run(MemeticSelection(), store)
    report = notes(out, "evolution.memetic")
    assert report["no_variation"] and not out.writes.entries
    assert report["price"]["selection"] == 0.0 and not report["demoted"]


counts = st.integers(0, 10**6)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(counts, counts, counts, counts, st.floats(-1e12, 1e12)), min_size=1, max_size=8))
def test_selection_figures_are_finite_for_any_store(rows: list[tuple[int, int, int, int, float]]) -> None:
    s = SQLiteStore(":memory:")
    try:
        add_entries(
            s,
            *(
                entry(f"claim number {i}", uses=u + 1, helpful=h, harmful=b, confirmations=c, created_at=t)
                for i, (u, h, b, c, t) in enumerate(rows)
            ),
        )
        for op in (MemeticSelection(), KnowledgeRecombination()):
            out = run(op, s)
            values = [v for u in out.writes.updates for v in u.changes.values() if isinstance(v, float)]
            values += [e.fitness for e in out.writes.entries]
            price = notes(out, "evolution.memetic")["price"] if isinstance(op, MemeticSelection) else {}
            values += [float(v) for v in price.values()]
            assert all(math.isfinite(v) for v in values)
            if isinstance(op, MemeticSelection):
                stored = s.entries([u.entry_id for u in out.writes.updates])
                for u in out.writes.updates:
                    if "confidence" in u.changes:  # a demotion never raises a fitness
                        assert u.changes["fitness"] <= fitness(stored[u.entry_id], NOW, Config().evolution)
    finally:
        s.close()


# -- contradictions -------------------------------------------------------------------------------
def test_claims_contradict_on_polarity_or_single_values_only() -> None:
    a, b = claim_of("The timeout is 30 seconds"), claim_of("The timeout is now 45 seconds")
    assert a and b and contradicts(a, b)
    m, n = claim_of("The standup is at 9:30 daily"), claim_of("the standup is at 10:00 daily")
    assert m and n and contradicts(m, n)
    o, q = claim_of("The standup is at 9:30"), claim_of("The standup is in room 4")
    assert o and q and not contradicts(o, q)
    c, d = claim_of("Ann is a doctor"), claim_of("Ann is tall")
    assert c and d and not contradicts(c, d)
    e, f = claim_of("Ann is a doctor"), claim_of("Ann is not a doctor")
    assert e and f and contradicts(e, f)
    g = claim_of("x", {"subject": "Deploy", "attribute": "window", "value": "3pm"})
    h = claim_of("y", {"subject": "deploy", "attribute": "window", "value": "5pm"})
    assert g and h and contradicts(g, h)


def test_contradictions_are_staged_once_with_both_sides_as_sources(store: SQLiteStore) -> None:
    old = entry("The timeout is 30 seconds", uses=2, status=EntryStatus.VALIDATED)
    add_entries(store, old, entry("Ann is a doctor", uses=1), entry("Ann is tall", uses=1))
    newer = episode("The timeout is 45 seconds")
    add_episodes(store, newer)
    out = run(ContradictionDetection(), store, new=[newer])
    (found,) = out.writes.entries
    assert found.kind == "contradiction" and set(found.sources) == {old.id, newer.id}
    assert found.confidence == 0.2 and found.status == EntryStatus.STAGED
    assert out.carry.contradictions[0]["entry"] == old.id
    assert not out.writes.updates  # never destructive
    begin_cycle(store, "c1", NOW)
    apply_writes(store, out.writes, fake_context("c1", NOW))
    complete_cycle(store, "c1", NOW)
    assert gather(store, NOW).contradictions == 1
    assert not run(ContradictionDetection(), store, "c2", new=[newer]).writes.entries


def test_an_entry_against_validated_knowledge_loses_confidence(store: SQLiteStore) -> None:
    truth = entry("The port is 8080", uses=3, status=EntryStatus.VALIDATED)
    wrong = entry("The port is 9090", uses=3)
    add_entries(store, truth, wrong)
    found = run(ContradictionDetection(), store)
    out = run(MemeticSelection(), store, carry=found.carry)
    ups = {u.entry_id: u.changes for u in out.writes.updates}
    assert ups[wrong.id]["confidence"] == pytest.approx(0.6 * 0.9)
    assert "confidence" not in ups[truth.id]


# -- recombination --------------------------------------------------------------------------------
def test_recombination_pairs_fit_dissimilar_entries_at_most_five(store: SQLiteStore) -> None:
    eps = [episode(f"source {i}") for i in range(8)]
    add_episodes(store, *eps)
    topics = [
        "invoices close on friday",
        "kubernetes pods restart nightly",
        "the cafeteria serves fish",
        "tax forms need two signatures",
        "backups rotate weekly",
        "the printer jams on glossy paper",
    ]
    fit = [entry(t, (eps[i].id,), uses=20, helpful=18) for i, t in enumerate(topics)]
    shared = entry("invoices close on friday evening", (eps[0].id,), uses=20, helpful=18)
    weak = [entry(f"weak claim {i}", (eps[7].id,), uses=1) for i in range(4)]
    add_entries(store, *fit, shared, *weak)
    out = run(KnowledgeRecombination(), store)
    made = out.writes.entries
    assert len(made) == 5
    for r in made:
        assert r.confidence == 0.3 and r.generation == 1 and r.provenance == Provenance.RECOMBINATION
        assert len(r.sources) == 2 and not {r.sources} & {(shared.id, fit[0].id), (fit[0].id, shared.id)}
        assert all(s in {e.id for e in [*fit, shared]} for s in r.sources)


def test_recombination_needs_two_above_the_mean(store: SQLiteStore) -> None:
    add_entries(store, entry("a is 1", uses=3, created_at=NOW), entry("b is 2", uses=3, created_at=NOW))
    out = run(KnowledgeRecombination(), store)
    assert not out.writes.entries and "above mean" in notes(out, "evolution.recombination")["skipped"]


# -- fingerprints and the predictive weight -------------------------------------------------------
def test_a_dream_matched_by_a_later_decision_raises_the_predictive_weight(store: SQLiteStore) -> None:
    ctx_labels = {"regime": "volatile", "venue": "dex"}
    replayed = episode("hedged", context=ctx_labels, data={"action": "hedge"}, prediction=0.0, outcome=0.5)
    add_episodes(store, replayed)
    finding = {
        "episode": replayed.id,
        "action": "hedge",
        "outcome": 0.5,
        "do": {"hedge": {"mean": 0.5}, "hold": {"mean": -0.8}},
    }
    out = run(DreamFingerprints(), store, carry=Carry(counterfactuals=[finding]))
    (fp,) = out.writes.entries
    assert (
        fp.kind == "dream_fingerprints" and fp.sources == (replayed.id,) and len(fp.data["fingerprints"]) == 2
    )
    begin_cycle(store, "c1", NOW)
    apply_writes(store, out.writes, fake_context("c1", NOW))
    complete_cycle(store, "c1", NOW)
    assert gather(store, NOW).predictive_weight == 0.0
    unlike = episode("fled", context={"regime": "calm"}, data={"action": "flee"}, outcome=0.9)
    like = episode("hedged again", context=ctx_labels, data={"action": "hold"}, outcome=-0.8, actor="bo")
    add_episodes(store, unlike, like)
    miss = run(DreamFingerprints(), store, "c2", new=[unlike])
    assert not miss.writes.updates
    hit = run(DreamFingerprints(), store, "c2", new=[unlike, like])
    (mark,) = hit.writes.updates
    assert mark.entry_id == fp.id and mark.changes["data"]["predictive"]["actions"] == ["hold"]
    begin_cycle(store, "c2", NOW)
    apply_writes(store, hit.writes, fake_context("c2", NOW))
    complete_cycle(store, "c2", NOW)
    assert gather(store, NOW).predictive_weight == pytest.approx(0.5)


def test_no_rem_output_is_a_noted_no_op(store: SQLiteStore) -> None:
    out = run(DreamFingerprints(), store)
    assert not out.writes.entries and "no scenario" in notes(out, "evolution.fingerprints")["why"]


# -- strategy evolution ---------------------------------------------------------------------------
def test_each_mix_stores_its_own_cycle_and_supersedes_the_previous(store: SQLiteStore) -> None:
    from oneiro.dream.ops.evolution.strategy import StrategyEvolution

    src = episode("decided", data={"action": "a"})
    add_episodes(store, src)
    ir = [
        {"action": "a", "mean": 1.0, "low": 0.0, "high": 2.0, "n": 3, "observed": 2},
        {"action": "b", "mean": -1.0, "low": -2.0, "high": 0.0, "n": 3, "observed": 1},
    ]
    pick = [{"id": src.id, "kind": "decision", "utility": 1.0, "gain": 1.0, "need": 1.0}]
    mixes = []
    for cycle in ("c1", "c2", "c3"):
        out = run(StrategyEvolution(), store, cycle, Carry(imagined_returns=ir, replay=pick))  # type: ignore[arg-type]
        (mix,) = out.writes.entries
        assert [u.entry_id for u in out.writes.updates] == [m.id for m in mixes[-1:]]
        assert "history" not in mix.data and mix.data["cycle"] == cycle
        begin_cycle(store, cycle, NOW)
        apply_writes(store, out.writes, fake_context(cycle, NOW))
        complete_cycle(store, cycle, NOW)
        mixes.append(mix)
    assert mixes[2].sources[0] == mixes[1].id and mixes[1].sources[0] == mixes[0].id
    a = [m.data["concentrations"]["a"] for m in mixes]
    assert a[0] < a[1] < a[2]
    stored = store.entries([m.id for m in mixes])
    assert [stored[m.id].status for m in mixes][:2] == [EntryStatus.SUPERSEDED] * 2


def test_dreams_beyond_the_window_are_retired_not_deleted(store: SQLiteStore, monkeypatch: Any) -> None:
    from oneiro.dream.ops.evolution import fingerprints

    monkeypatch.setattr(fingerprints, "WINDOW", 2)
    replayed = episode("hedged", context={"regime": "calm"}, data={"action": "hedge"}, outcome=0.5)
    add_episodes(store, replayed)
    made = []
    for i in range(4):
        cycle = f"c{i}"
        finding = {"episode": replayed.id, "do": {"hedge": {"mean": 0.1 * i}}}
        ctx = fake_context(cycle, NOW + i)
        out = DreamFingerprints().run(
            FakeSnapshot(store, cycle, MODEL), ctx, Carry(counterfactuals=[finding])
        )
        made.append(out.writes.entries[0].id)
        begin_cycle(store, cycle, NOW + i)
        apply_writes(store, out.writes, ctx)
        complete_cycle(store, cycle, NOW + i)
    rows = store.entries(made)
    assert [rows[i].status for i in made] == [EntryStatus.EXPIRED, *[EntryStatus.STAGED] * 3]
