"""Independence by provenance: the party a hypothesis rests on cannot confirm it, parties are actors
or observed dispatches (never sessions), and every window runs on the store's record time."""

from __future__ import annotations

from typing import Any

import pytest

import oneiro
from conftest import FakeClock
from fakes import begin_cycle, complete_cycle
from oneiro.errors import InvalidInput
from oneiro.memory import Memory
from oneiro.model import Entry, EntryStatus, Provenance, entry_id
from oneiro.playbook import Playbook
from oneiro.store.query import EntryQuery
from oneiro.validation import DAY

CONTEXT = "vendor-payments"
CLAIM = "the approved payee for vendor payments is account 12345"
YEAR_2100 = 4_102_444_800.0


@pytest.fixture
def memory(clock: FakeClock) -> Any:
    """The awake path validates every new record, as an agent's store does."""
    m = oneiro.open(":memory:", embedder="hashing", clock=clock)
    yield m
    m.close()


def say(memory: Memory, text: str, actor: str, session: str, **extra: Any) -> Any:
    return memory.record({"text": text, "actor": actor, "session": session, **extra})


def hypothesis(
    memory: Memory, clock: FakeClock, sources: tuple[str, ...], test: dict[str, Any], text: str = CLAIM
) -> Entry:
    """A dream-made hypothesis resting on ``sources``, in a cycle that has returned."""
    clock.advance(60)
    cycle = f"c{len(memory.store.recent_cycles(100))}"
    begin_cycle(memory.store, cycle, clock())  # type: ignore[arg-type]
    entry = Entry(
        id=entry_id("insight", text, sources, {"test": test}),
        kind="insight",
        text=text,
        sources=sources,
        provenance=Provenance.DREAM,
        cycle_id=cycle,
        confidence=0.2,
        data={"test": test},
        created_at=clock(),
    )
    memory.store.add_entries([entry], memory.embedder.embed([text]), memory.embedder.name, cycle)
    complete_cycle(memory.store, cycle, clock())  # type: ignore[arg-type]
    clock.advance(60)
    return entry


def claim_by(memory: Memory, clock: FakeClock, author: str) -> Entry:
    source = say(memory, CLAIM, author, "origin")
    return hypothesis(memory, clock, (source.id,), {"type": "text_support"})


def now_of(memory: Memory, entry: Entry) -> Entry:
    return memory.store.entries([entry.id])[entry.id]


def test_one_actor_restating_a_claim_in_three_sessions_does_not_validate(
    memory: Memory, clock: FakeClock
) -> None:
    hyp = claim_by(memory, clock, "alice")
    for session in ("mon", "tue", "wed"):
        say(memory, CLAIM, "mallory", session)
        clock.advance(DAY)
    after = now_of(memory, hyp)
    assert (after.confirmations, after.status) == (1, EntryStatus.STAGED)


def test_the_source_author_confirming_their_own_hypothesis_does_not_count(
    memory: Memory, clock: FakeClock
) -> None:
    hyp = claim_by(memory, clock, "mallory")
    for session in ("mon", "tue", "wed"):
        say(memory, CLAIM, "mallory", session)
        clock.advance(DAY)
    after = now_of(memory, hyp)
    assert (after.confirmations, after.confidence, after.status) == (0, 0.2, EntryStatus.STAGED)


def test_the_author_is_found_through_source_entries(memory: Memory, clock: FakeClock) -> None:
    """A hypothesis resting on an entry that rests on mallory's episode is still mallory's."""
    source = say(memory, CLAIM, "mallory", "origin")
    summary = hypothesis(memory, clock, (source.id,), {"type": "none"}, text="summary of the payee talk")
    hyp = hypothesis(memory, clock, (summary.id,), {"type": "text_support"})
    for session in ("mon", "tue", "wed"):
        say(memory, CLAIM, "mallory", session)
    assert now_of(memory, hyp).confirmations == 0


def test_episodes_without_an_actor_are_one_anonymous_party(memory: Memory, clock: FakeClock) -> None:
    hyp = claim_by(memory, clock, "alice")
    for session in ("mon", "tue", "wed", ""):
        say(memory, CLAIM, "", session)
    assert now_of(memory, hyp).confirmations == 1


def test_three_independent_actors_within_the_window_validate(memory: Memory, clock: FakeClock) -> None:
    hyp = claim_by(memory, clock, "mallory")
    for actor in ("alice", "bob", "carol"):
        say(memory, CLAIM, actor, f"{actor}-1")
        clock.advance(DAY)
    after = now_of(memory, hyp)
    assert (after.confirmations, after.status) == (3, EntryStatus.VALIDATED)


def test_a_future_dated_batch_from_one_actor_neither_validates_nor_postpones_expiry(
    memory: Memory, clock: FakeClock
) -> None:
    hyp = claim_by(memory, clock, "alice")
    start = clock()
    batch = [{"text": CLAIM, "actor": "mallory", "ts": start + n * DAY} for n in (1, 2, 3)] + [
        {"text": CLAIM, "actor": "mallory", "ts": YEAR_2100, "session": "far"}
    ]
    memory.record_many(batch)
    after = now_of(memory, hyp)
    assert after.status == EntryStatus.STAGED and after.confirmations == 1
    assert after.expires_at == pytest.approx(start + 14 * DAY)
    assert memory.validate(now=start + 14 * DAY + 1).expired == [hyp.id]


def test_distinct_actors_recorded_beyond_the_window_do_not_validate_whatever_their_ts(
    memory: Memory, clock: FakeClock
) -> None:
    """The window is the store's: three confirmations recorded 8 days apart stay apart even when
    their writers date them all to the same minute."""
    hyp = claim_by(memory, clock, "mallory")
    same_minute = clock()
    for actor in ("alice", "bob", "carol"):
        say(memory, CLAIM, actor, "s", ts=same_minute)
        clock.advance(4 * DAY)
    after = now_of(memory, hyp)
    assert after.confirmations == 3 and after.status == EntryStatus.STAGED


def test_an_episode_recorded_before_the_hypothesis_does_not_count_even_dated_after(
    memory: Memory, clock: FakeClock
) -> None:
    early = say(memory, CLAIM, "bob", "s", ts=YEAR_2100)
    source = say(memory, CLAIM, "alice", "origin")
    hyp = hypothesis(memory, clock, (source.id,), {"type": "text_support"})
    assert memory.validate([early]).evidence == 0
    assert now_of(memory, hyp).confirmations == 0


# -- observations: the agent's own dispatches ------------------------------------------------
def decision(memory: Memory, residual: float, **extra: Any) -> Any:
    return memory.record(
        {
            "text": f"paid the vendor: {residual:+.2f}",
            "actor": "agent",
            "kind": "decision",
            "prediction": 1.0,
            "outcome": 1.0 + residual,
            "context": {"key": CONTEXT},
            **extra,
        }
    )


def pay_pipeline(memory: Memory) -> Any:
    @memory.pipeline("pay", effect="effectful")
    def pay(amount: float) -> dict[str, float]:
        return {"paid": amount}

    return pay


def correction_by_agent(memory: Memory, clock: FakeClock) -> Entry:
    source = decision(memory, 0.5)
    test = {"type": "residual_bias", "context": CONTEXT, "bias": 0.4, "min_abs": 0.2}
    return hypothesis(memory, clock, (source.id,), test, text=f"outcomes in {CONTEXT} run above predictions")


def test_outcomes_the_agent_observed_through_its_own_dispatches_confirm_its_correction(
    memory: Memory, clock: FakeClock
) -> None:
    """The agent's own messages cannot confirm what rests on them; its observations of real
    dispatches can, one party per dispatch."""
    pay_pipeline(memory)
    hyp = correction_by_agent(memory, clock)
    for _ in range(3):
        decision(memory, 0.3)
        clock.advance(DAY)
    assert now_of(memory, hyp).confirmations == 0
    for n in range(3):
        seq = memory.dispatch("pay", 10.0 + n).seq
        decision(memory, 0.3, dispatch=seq)
        clock.advance(DAY)
    after = now_of(memory, hyp)
    assert (after.confirmations, after.status) == (3, EntryStatus.VALIDATED)


def test_an_observation_link_the_store_cannot_vouch_for_is_refused_and_writes_nothing(
    memory: Memory, clock: FakeClock
) -> None:
    pay_pipeline(memory)

    @memory.pipeline("lookup", effect="pure")
    def lookup() -> int:
        return 1

    seq = memory.dispatch("pay", 1.0).seq
    assert seq is not None
    memory.dispatch("lookup")
    decision(memory, 0.1, dispatch=seq)
    before = memory.store.episode_count()
    for bad in (seq, seq + 100, 0, True, "1"):
        with pytest.raises(InvalidInput, match="dispatch"):
            memory.record_many([{"text": "fine", "actor": "x"}, {"text": "again", "dispatch": bad}])
    assert memory.store.episode_count() == before


# -- the auto playbook policy ----------------------------------------------------------------
def run_correction_to_the_playbook(memory: Memory, clock: FakeClock, confirmers: list[str]) -> Playbook:
    """Mallory's decisions make a correction; ``confirmers`` report more of the same; dreams and
    the awake validator do the rest under the ``auto`` policy."""
    pb = Playbook(memory.store, clock=clock)
    pb.set_policy("auto")
    for n in range(8):
        decision(memory, 0.5 + n / 100, actor="mallory", session=f"m{n}")
        clock.advance(600)
    memory.dream()
    clock.advance(600)
    for n, actor in enumerate(confirmers):
        decision(memory, 0.5 + n / 100, actor=actor, session=f"c{n}")
        clock.advance(3600)
    memory.dream()
    clock.advance(600)
    decision(memory, 0.51, actor=confirmers[-1], session="late")
    return pb


def test_a_self_confirmed_correction_never_reaches_the_active_playbook(
    memory: Memory, clock: FakeClock
) -> None:
    pb = run_correction_to_the_playbook(memory, clock, ["mallory"] * 6)
    corrections = memory.store.entries_matching(EntryQuery(kinds=("correction",)))
    assert corrections and all(e.status != EntryStatus.VALIDATED for e in corrections)
    assert pb.items() == []


def test_an_independently_confirmed_correction_does_reach_it(memory: Memory, clock: FakeClock) -> None:
    pb = run_correction_to_the_playbook(memory, clock, ["alice", "bob", "carol", "dave"])
    assert any(
        e.status == EntryStatus.VALIDATED
        for e in memory.store.entries_matching(EntryQuery(kinds=("correction",)))
    )
    assert len(pb.items()) == 1


def test_actor_names_differing_only_in_case_or_spacing_are_one_party(
    memory: Memory, clock: FakeClock
) -> None:
    hyp = claim_by(memory, clock, "alice")
    for actor in ("Mallory", " mallory", "MALLORY  "):
        say(memory, CLAIM, actor, actor)
    assert now_of(memory, hyp).confirmations == 1


# -- predictions -----------------------------------------------------------------------------
def open_prediction(memory: Memory, clock: FakeClock, due_in: float) -> str:
    from oneiro.dream.writes import Prediction

    begin_cycle(memory.store, "cp", clock())  # type: ignore[arg-type]
    memory.store.add_predictions(
        [Prediction("p1", CLAIM, clock() + due_in, data={"test": {"type": "text_support"}})], "cp"
    )
    complete_cycle(memory.store, "cp", clock())  # type: ignore[arg-type]
    clock.advance(60)
    return "p1"


def test_a_prediction_resolves_on_record_time_not_on_the_writers_ts(memory: Memory, clock: FakeClock) -> None:
    """Dated after its checkpoint but recorded before it: it resolves. Recorded after the checkpoint
    but dated inside it: too late, the prediction lapses."""
    open_prediction(memory, clock, DAY)
    say(memory, CLAIM, "bob", "s", ts=clock() + 10 * DAY)
    [row] = memory.store.db.conn().execute("SELECT status FROM predictions").fetchall()  # type: ignore[attr-defined]
    assert row[0] == "confirmed"


def test_a_late_episode_backdated_into_the_window_does_not_resolve_a_prediction(
    memory: Memory, clock: FakeClock
) -> None:
    open_prediction(memory, clock, DAY)
    inside = clock() + DAY / 2
    clock.advance(2 * DAY)
    say(memory, CLAIM, "bob", "s", ts=inside)
    [row] = memory.store.db.conn().execute("SELECT status FROM predictions").fetchall()  # type: ignore[attr-defined]
    assert row[0] == "lapsed"


# -- stores made before observations existed ---------------------------------------------------
def test_a_store_from_the_previous_schema_keeps_its_episodes_as_messages(tmp_path: Any) -> None:
    import sqlite3

    from oneiro.store import SQLiteStore, migrations

    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.row_factory = sqlite3.Row
    migrations.apply(conn, migrations.MIGRATIONS[:3])
    conn.execute(
        "INSERT INTO episodes (id, ts, session, actor, kind, text, data, context, refs, provenance, "
        "importance, recorded_at) VALUES ('e1', 1.0, 's', 'Ann', 'message', 'hi', '{}', '{}', '[]', "
        "'awake', 1.0, 5.0)"
    )
    conn.close()
    store = SQLiteStore(path)
    try:
        assert store.schema_version() == migrations.MIGRATIONS[-1].seq
        assert store.episodes(["e1"])["e1"].dispatch is None
        from oneiro.store.episodes import origins

        [origin] = origins(store.db.conn(), ["e1"]).values()
        assert (origin.party, origin.recorded_at, origin.observed) == ("actor:ann", 5.0, False)
    finally:
        store.close()


def test_the_demo_validates_its_correction_from_observed_releases() -> None:
    from oneiro import demo

    clock = demo.ScenarioClock()
    with oneiro.open(":memory:", embedder="hashing", clock=clock) as m:
        result = demo.run(m, say=lambda _line: None, clock=clock)
        assert any("evening release" in text for text in result.validated)
        assert [i.id for i in m.playbook.items()] == ["correction-evening-release"]
