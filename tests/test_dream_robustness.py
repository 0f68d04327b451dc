"""Every dream operation survives any stored value: episodes written straight through the store
(past capture's checks, as old stores hold them) with timestamps off the calendar, extreme numbers
and odd text; a value one operation cannot process costs that episode in that operation only, with a
journal record naming it, and the cycle completes."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import oneiro
from conftest import FakeClock
from oneiro.dream.ops.extractive import UNDATED, extractive_entry
from oneiro.dream.ops.temporal import normalise
from oneiro.dream.phase import Carry, Context, Outcome, PhaseName, Snapshot
from oneiro.dream.writes import Writes
from oneiro.memory import Memory
from oneiro.model import Episode, Provenance, Tier, episode_id
from oneiro.plugins import PluginError
from oneiro.store.query import EntryQuery

#: Timestamps old stores may hold: beyond time_t, far negative, millisecond and microsecond epochs,
#: just outside year 1 and year 9999, and the calendar's very edges.
ODD_TS = (1e300, -1e18, 1.7e12, 1.7e15, -62135596801.0, 253402300805.0, 253402300799.0, -62135596800.0)


def stored(
    memory: Memory,
    ts: float,
    text: str,
    *,
    data: dict[str, Any] | None = None,
    prediction: float | None = None,
    outcome: float | None = None,
    session: str = "s",
    actor: str = "Ann",
    kind: str = "message",
) -> Episode:
    """An episode written through the store alone (no capture validation)."""
    fields: dict[str, Any] = {
        "ts": ts,
        "text": text,
        "session": session,
        "actor": actor,
        "kind": kind,
        "data": data or {},
        "context": {},
        "affect": None,
        "prediction": prediction,
        "outcome": outcome,
        "feedback": None,
        "refs": (),
        "provenance": Provenance.AWAKE,
    }
    ep = Episode(id=episode_id(**fields), **fields)
    memory.store.add_episodes([ep], memory.embedder.embed([text]), memory.embedder.name, [""])
    return ep


@pytest.fixture
def fresh() -> Iterator[Memory]:
    m = oneiro.open(":memory:", embedder="hashing", clock=FakeClock())
    yield m
    m.close()


@pytest.mark.parametrize("ts", ODD_TS)
def test_a_dream_completes_over_an_episode_with_any_timestamp(fresh: Memory, ts: float) -> None:
    stored(fresh, 1.7e9, "Bob said hello to Anna two days ago, in Berlin")
    bad = stored(fresh, ts, "Yesterday I moved to Paris; next summer we go to Rome, tomorrow too")
    stored(fresh, ts, "decision", kind="decision", prediction=1e308, outcome=-1e308, data={"context": "x"})
    report = fresh.dream()
    assert report.status == "completed" and report.entries_written() > 0
    assert fresh.verify_journal() > 0
    keys = [e for e in fresh.store.entries_matching(EntryQuery(kinds=("keys",))) if e.sources == (bad.id,)]
    assert len(keys) == 1  # the undatable episode is consolidated, not lost


def test_temporal_normalisation_resolves_nothing_off_the_calendar() -> None:
    assert normalise("see you tomorrow, last summer", 1e300) == []
    late = normalise("tomorrow, and next summer", 253402300799.0)  # 31 Dec 9999, 23:59:59
    assert all(m.date.startswith("9999") for m in late)


def test_extreme_numbers_in_decisions_never_reach_the_store(fresh: Memory) -> None:
    """Means of residuals at the edge of a float overflow to infinity; a stored infinity would
    break SQLite's JSON functions on every later query, so those entries are refused and journaled."""
    for n in range(6):
        stored(
            fresh,
            1.7e9 + n,
            f"call {n}",
            kind="decision",
            prediction=1.7e308,
            outcome=1.7e308,
            data={"context": "edge", "action": "call"},
        )
    report = fresh.dream()
    assert report.status == "completed"
    assert fresh.verify_journal() > 0
    for e in fresh.store.entries_matching(EntryQuery()):
        json.dumps(e.data, allow_nan=False)  # raises on an infinity
    assert fresh.journal(report.cycle_id, kind="episode_skipped")


class Picky:
    """An NREM operation that cannot process episodes whose text contains a marker."""

    name = "picky"
    tier = Tier.T0

    def __init__(self, marker: str) -> None:
        self.marker = marker
        self.runs = 0

    def run(self, snap: Snapshot, ctx: Context, carry: Carry) -> Outcome:
        self.runs += 1
        writes = Writes()
        for ep in snap.new_episodes:
            if self.marker in ep.text:
                raise ArithmeticError(f"cannot read {ep.id[:8]}")
            writes.entries.append(extractive_entry(ctx, "keys", f"seen {ep.text}", (ep.id,)))
        return Outcome(writes, did={"episodes": len(snap.new_episodes)})


def test_a_failing_episode_is_skipped_journaled_and_the_rest_consolidated(fresh: Memory) -> None:
    eps = [stored(fresh, 1.7e9 + i, f"turn {i}" + (" BAD" if i in (3, 11) else "")) for i in range(16)]
    picky = Picky("BAD")
    fresh.engine.phases = {PhaseName.NREM: (picky,)}
    report = fresh.dream()
    assert report.status == "completed"
    skipped = fresh.journal(report.cycle_id, kind="episode_skipped")
    assert sorted(r.payload["episode"] for r in skipped) == sorted([eps[3].id, eps[11].id])
    assert {r.payload["error"] for r in skipped} == {"ArithmeticError"}
    assert {r.payload["operation"] for r in skipped} == {"picky"}
    made = {e.sources[0] for e in fresh.store.entries_matching(EntryQuery(kinds=("keys",)))}
    assert made == {e.id for i, e in enumerate(eps) if i not in (3, 11)}
    nrem = next(p for p in report.phases if p.phase == "nrem")
    assert nrem.did["picky.skipped_bad_episodes"] == 2
    assert picky.runs < 16  # found by binary search, not one run per episode
    assert fresh.verify_journal() > 0


class Broken:
    name = "broken"
    tier = Tier.T0

    def run(self, snap: Snapshot, ctx: Context, carry: Carry) -> Outcome:
        raise RuntimeError("a defect of the operation itself")


def test_an_operation_that_fails_on_no_episode_at_all_is_a_defect_and_fails_the_cycle(
    fresh: Memory,
) -> None:
    stored(fresh, 1.7e9, "hello")
    fresh.engine.phases = {PhaseName.NREM: (Broken(),)}
    with pytest.raises(PluginError, match="operation 'broken' of nrem failed: RuntimeError") as caught:
        fresh.dream()
    assert isinstance(caught.value.__cause__, RuntimeError)
    assert fresh.store.recent_cycles(1)[0].status == "failed"


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
_TS = st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.sampled_from(ODD_TS))
_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=80) | st.sampled_from(
    [
        "yesterday at the Café Zoë",
        "NOTE: last summer; now I moved to Łódź",
        "tomorrow\u200b\u202e",
        "🙂 two days ago",
    ]
)
_NUMBER = st.none() | st.floats(allow_nan=False, allow_infinity=False)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            _TS,
            _TEXT,
            st.dictionaries(st.sampled_from(["context", "action", "score", "x"]), _JSON),
            _NUMBER,
            _NUMBER,
        ),
        min_size=1,
        max_size=6,
    )
)
def test_any_stored_values_dream_to_completion_and_the_journal_verifies(
    rows: Sequence[tuple[float, str, dict[str, Any], float | None, float | None]],
) -> None:
    with oneiro.open(":memory:", embedder="hashing", clock=FakeClock()) as memory:
        for n, (ts, text, data, prediction, outcome) in enumerate(rows):
            kind = "decision" if prediction is not None else "message"
            stored(
                memory,
                ts,
                text,
                data=data,
                prediction=prediction,
                outcome=outcome,
                kind=kind,
                session=f"s{n % 2}",
            )
        report = memory.dream()
        assert report.status == "completed"
        assert memory.verify_journal() > 0
        again = memory.dream()
        assert again.status == "completed" and again.new_episodes == 0


def test_day_labels_say_undated_off_the_calendar() -> None:
    from oneiro.dream.ops.extractive import day_label

    assert day_label(1e300) == UNDATED and day_label(1_683_500_000.0) == "7 May 2023"
