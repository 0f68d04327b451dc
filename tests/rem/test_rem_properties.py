"""Property: over generated stores (episodes without actions or outcomes, one action only,
non-finite or non-numeric values, odd rule params, an empty playbook) every REM operation
completes and nothing it proposes or carries holds a NaN or an infinity."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fakes import fake_context
from oneiro.config import Config
from oneiro.dream.phase import Carry
from oneiro.dream.phases.rem import rem_operations
from oneiro.model import Affect, Entry, Episode
from oneiro.playbook import Item
from oneiro.store.query import EntryQuery

ODD = st.one_of(
    st.none(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-5, 5),
    st.text(max_size=3),
    st.booleans(),
)


class Snap:
    """A pure in-memory snapshot: the generated episodes are the store and the intake."""

    cycle_id = "c-prop"

    def __init__(self, eps: list[Episode], items: list[Item]) -> None:
        self.new_episodes = eps
        self.items = items

    def recent_episodes(self, limit: int) -> list[Episode]:
        return self.new_episodes[-limit:]

    def episodes(self, ids: Sequence[str]) -> dict[str, Episode]:
        return {e.id: e for e in self.new_episodes if e.id in set(ids)}

    def entries_matching(self, query: EntryQuery) -> list[Entry]:
        return []

    def playbook_items(self) -> list[Item]:
        return self.items


@st.composite
def episode(draw: Any, i: int) -> Episode:
    action = draw(st.sampled_from(["a", "a", "b", "b", "c", None, ""]))
    outcome = draw(st.one_of(st.floats(-10, 10), st.floats(-10, 10), st.floats(-10, 10), ODD))
    x = draw(st.one_of(st.floats(0, 1), st.floats(0, 1), ODD))
    arousal = draw(st.one_of(st.none(), st.floats(-1, 1)))
    return Episode(
        id=f"e{i}",
        ts=float(i),
        text=f"episode {i}",
        session=draw(st.sampled_from(["s1", "s2", ""])),
        kind=draw(st.sampled_from(["decision", "message"])),
        data={} if action is None else {"action": action},
        context={"x": x, "y": draw(ODD)},
        affect=None if arousal is None else Affect(0.0, arousal, 0.0),
        prediction=0.0,
        outcome=outcome,
    )


@st.composite
def store(draw: Any) -> tuple[list[Episode], list[Item]]:
    n = draw(st.integers(0, 60))
    eps = [draw(episode(i)) for i in range(n)]
    rules = draw(
        st.lists(
            st.fixed_dictionaries(
                {
                    "action": st.one_of(st.sampled_from(["a", "b", "z"]), ODD),
                    "when": st.one_of(
                        st.none(),
                        st.dictionaries(
                            st.sampled_from(["x", "y", "w"]), st.lists(ODD, max_size=3), max_size=2
                        ),
                        ODD,
                    ),
                    "min_outcome": st.one_of(st.floats(-10, 10), ODD),
                }
            ),
            max_size=3,
        )
    )
    return eps, [Item(f"r{i}", "Rules", f"rule {i}", params) for i, params in enumerate(rules)]


def finite(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(finite(v) for v in value.values())
    if isinstance(value, list | tuple):
        return all(finite(v) for v in value)
    return True


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(store(), st.integers(0, 3))
def test_rem_never_crashes_nor_proposes_a_non_finite_number(
    data: tuple[list[Episode], list[Item]], seed: int
) -> None:
    eps, items = data
    config = Config()
    ctx = fake_context("c-prop", 1_000_000.0, config=config, seed=seed)
    carry = Carry()
    for op in rem_operations(config):
        out = op.run(Snap(eps, items), ctx, carry)  # type: ignore[arg-type]
        carry = carry.joined(out.carry)
        for entry in out.writes.entries:
            assert (
                entry.sources
                and finite(entry.data)
                and entry.confidence == config.lifecycle.hypothesis_confidence
            )
            assert set(entry.sources) <= {e.id for e in eps}
        assert all(finite(p.data) and math.isfinite(p.due_at) for p in out.writes.predictions)
        assert all(finite(n.payload) for n in out.writes.notes)
        json.dumps(out.carry.to_json(), allow_nan=False)
        assert all(np.isfinite(v) for v in out.did.values())
    assert carry.threat_search is not None
