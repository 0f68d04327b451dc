"""EVOLUTION's core pieces: hypervectors, the replicator step, the Price split."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from oneiro import hdc
from oneiro.dream.ops.evolution.fitness import price
from oneiro.dream.ops.evolution.replicator import replicator_step

DIM = 8192


def test_bind_is_invertible_and_bundle_stays_similar() -> None:
    a, b, c = (hdc.symbol(n, DIM) for n in "abc")
    assert np.array_equal(hdc.bind(hdc.bind(a, b), b), a)
    assert abs(hdc.similarity(a, b)) < 0.1
    m = hdc.bundle([a, b, c])
    assert hdc.similarity(m, a) > 0.3 and hdc.similarity(m, hdc.symbol("d", DIM)) < 0.1
    assert hdc.similarity(hdc.permute(a), a) < 0.1


def test_tracker_matches_a_repeated_scenario_only() -> None:
    enc = hdc.Encoder(DIM)
    tr = hdc.CorrelationTracker(DIM, window=3)
    tr.record(enc.fingerprint(["volatile"], "hedge", -0.5), {"id": "d1"})
    tr.record(enc.fingerprint(["calm"], "carry", 0.4), {"id": "d2"})
    hits = tr.correlate(enc.fingerprint(["calm"], "carry", 0.4), 0.6)
    assert [m["id"] for _, m in hits] == ["d2"]
    assert tr.correlate(enc.fingerprint(["storm"], "flee", 0.9), 0.6) == []


def test_replicator_moves_toward_better_strategy_with_floor() -> None:
    c, f_bar = replicator_step({"a": 0.5, "b": 0.5}, {"a": 1.0, "b": -1.0}, 0.01, 0.01)
    assert c["a"] > 0.5 > c["b"] and math.isclose(sum(c.values()), 1.0)
    assert f_bar == 0.0
    c, _ = replicator_step({"a": 0.999, "b": 0.001}, {"a": 1.0, "b": -100.0}, 0.01, 0.01)
    assert c["b"] > 0.0099 / 1.01


finite = st.floats(-1e6, 1e6, allow_nan=False)


@given(st.lists(st.tuples(finite, finite, st.integers(0, 3)), min_size=1, max_size=30))
def test_price_components_add_up(rows: list[tuple[float, float, int]]) -> None:
    before, after, w = zip(*rows, strict=True)
    p = price(list(before), list(after), [float(x) for x in w])
    assert all(math.isfinite(x) for x in (p.selection, p.transmission, p.change))
    assert math.isclose(p.selection + p.transmission, p.change, rel_tol=1e-6, abs_tol=1e-3)


def test_strategy_op_steps_on_imagined_returns_and_notes_absence() -> None:
    from types import SimpleNamespace

    from oneiro.config import Config
    from oneiro.dream.ops.evolution.strategy import StrategyEvolution
    from oneiro.dream.phase import Carry

    snap = SimpleNamespace(entries_matching=lambda q: [])
    ctx = SimpleNamespace(config=Config(), cycle_id="c1", now=1.0)
    op = StrategyEvolution()
    empty = op.run(snap, ctx, Carry())  # type: ignore[arg-type]
    assert not empty.writes.entries and empty.writes.notes[0].payload["skipped"]
    ir = [
        {"action": "a", "mean": 1.0, "low": 0.5, "high": 1.5, "n": 4, "observed": 2},
        {"action": "b", "mean": -1.0, "low": -2.0, "high": 0.0, "n": 4, "observed": 2},
    ]
    unsourced = op.run(snap, ctx, Carry(imagined_returns=ir))  # type: ignore[arg-type]
    assert not unsourced.writes.entries and "cite" in unsourced.writes.notes[0].payload["skipped"]
    picks = [{"id": f"ep{i}", "kind": "decision", "utility": 1.0, "gain": 1.0, "need": 1.0} for i in range(3)]
    out = op.run(snap, ctx, Carry(imagined_returns=ir, replay=picks))  # type: ignore[arg-type]
    (entry,) = out.writes.entries
    conc = entry.data["concentrations"]
    assert conc["a"] > conc["b"] and entry.sources == ("ep0", "ep1", "ep2") and entry.confidence == 0.2


labels = st.sampled_from(["a", "b", "c", "d"])


@given(
    st.dictionaries(labels, st.floats(0, 1e6, allow_nan=False), max_size=4),
    st.dictionaries(labels, finite, max_size=4),
)
def test_replicator_stays_a_finite_distribution(conc: dict[str, float], fit: dict[str, float]) -> None:
    c, f_bar = replicator_step(conc, fit, 0.01, 0.01)
    assert math.isfinite(f_bar) and all(math.isfinite(v) and v > 0 for v in c.values())
    assert not c or math.isclose(sum(c.values()), 1.0)


def test_a_single_strategy_keeps_the_whole_mix() -> None:
    c, _ = replicator_step({"only": 1.0}, {"only": 5.0}, 0.01, 0.01)
    assert c == {"only": 1.0}
