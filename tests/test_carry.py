"""What one phase hands the next is a typed Carry that a checkpoint holds and gives back whole."""

from __future__ import annotations

import json

import pytest

from oneiro.dream.phase import (
    AdmissionSummary,
    BacklogSummary,
    Carry,
    ReplayPick,
    Residue,
    ScorerMark,
    Trajectory,
)
from oneiro.errors import CycleStateError


def full_carry() -> Carry:
    return Carry(
        residue=Residue(residuals=["e1"], failures=["e2"], charged=[]),
        replay=[ReplayPick(id="e1", kind="decision", utility=0.5, gain=1.0, need=0.5)],
        trajectories=[
            Trajectory(session="s", ids=["e1"], actions=["buy"], residuals=[0.1], running=[0.1], credit=[1.0])
        ],
        keys_entries={"e1": "k1"},
        rescoring_cursor={"engagement": ScorerMark(version=2, after=7)},
        threats=["liquidity drains", {"text": "a rug pull", "p": 0.1}],
        predictions=[{"id": "p1"}],
        counterfactuals=[{"action": "hold"}],
        admission=AdmissionSummary(
            checked=2,
            quarantined=[{"entry": "q", "signatures": ["x"]}],
            rejected=[],
            corrected=["c"],
            superseded=[],
        ),
        revisions=[],
        backlog=BacklogSummary(intake=3, consolidated=3, left=0, ran_out=False),
        brief={"cycle_id": "c", "markdown": "# brief"},
    )


def test_a_carry_survives_the_checkpoint_json_round_trip() -> None:
    carry = full_carry()
    again = Carry.from_json(json.loads(json.dumps(carry.to_json())))
    assert again == carry
    assert Carry.from_json(Carry().to_json()) == Carry()


def test_unset_fields_stay_apart_from_empty_ones() -> None:
    """ "No selection ran" (None) is not "selection chose nothing" ([]), also after a checkpoint."""
    assert Carry.from_json(Carry(replay=[]).to_json()).replay == []
    assert Carry.from_json(Carry().to_json()).replay is None


def test_chunks_join_and_later_operations_override() -> None:
    a = Carry(keys_entries={"e1": "k1"}, replay=[ReplayPick(id="a", kind="chat", utility=1, gain=1, need=1)])
    b = Carry(keys_entries={"e2": "k2"}, replay=[ReplayPick(id="b", kind="chat", utility=1, gain=1, need=1)])
    joined = a.joined(b)
    assert joined.keys_entries == {"e1": "k1", "e2": "k2"}
    assert [r["id"] for r in joined.replay or []] == ["a", "b"]
    assert a.overridden(b).keys_entries == {"e2": "k2"}
    assert a.overridden(Carry()).keys_entries == {"e1": "k1"}


def test_a_checkpoint_carry_of_the_wrong_shape_is_refused_naming_the_key() -> None:
    with pytest.raises(CycleStateError, match=r"carry\['replay'\]"):
        Carry.from_json({"replay": {"not": "a list"}})
    with pytest.raises(CycleStateError, match="JSON object"):
        Carry.from_json(["not", "an", "object"])  # type: ignore[arg-type]
    assert Carry.from_json({"from_a_newer_version": 1}) == Carry()


def test_an_operation_returning_an_untyped_carry_is_refused() -> None:
    from oneiro.dream.boundary import UnfitWrite, check_outcome
    from oneiro.dream.phase import Outcome

    with pytest.raises(UnfitWrite, match="carry must be a Carry"):
        check_outcome(Outcome(carry={"replay": []}))  # type: ignore[arg-type]
    check_outcome(Outcome(carry=full_carry()))
