"""The registration door wired in: what a memory runs, judges, scores, shadows and probes comes
from its own registry; a plugin's failing operation stops or is skipped by policy; one playbook
per memory, so a user's probe guards automatic promotion too."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest

import oneiro
from conftest import FakeClock
from oneiro.dream.budget import CycleBudget
from oneiro.dream.phase import Context, Outcome, Snapshot
from oneiro.dream.writes import Note, RevisionProposal
from oneiro.memory import Memory
from oneiro.model import Entry, EntryStatus, Episode, Provenance, Tier
from oneiro.playbook import RevisionStatus
from oneiro.plugins import PluginError, hookimpl
from oneiro.shadows import StubShadow
from oneiro.validation import Verdict
from test_cycle import day


class Noting:
    """A fake operation: counts its runs and proposes one journal note per run."""

    def __init__(self, name: str, tier: Tier = Tier.T0) -> None:
        self.name, self.tier, self.calls = name, tier, 0

    def run(self, snap: Snapshot, ctx: Context, carry: dict[str, Any]) -> Outcome:
        self.calls += 1
        out = Outcome(did={"ran": 1})
        out.writes.notes.append(Note(f"{self.name}_ran", {"tier": self.tier.value}))
        return out


class Ops:
    """A plugin registering REM operations."""

    def __init__(self, *ops: Any) -> None:
        self.ops = ops

    @hookimpl
    def register_operations(self, register: Any) -> None:
        for i, op in enumerate(self.ops):
            register("rem", op, order=i + 1)


def opened(clock: FakeClock, *plugins: object, **kw: Any) -> Memory:
    return oneiro.open(":memory:", embedder="hashing", clock=clock, plugins=list(plugins), **kw)


@pytest.fixture
def pair(clock: FakeClock) -> Iterator[tuple[Memory, Memory, Noting]]:
    op = Noting("fake-rem")
    with_plugin, without = opened(clock, Ops(op)), opened(clock)
    yield with_plugin, without, op
    with_plugin.close()
    without.close()


def test_two_memories_in_one_process_run_their_own_operations(pair: tuple[Memory, Memory, Noting]) -> None:
    with_plugin, without, op = pair
    for m in (with_plugin, without):
        m.record_many(day(4))
    a, b = with_plugin.dream(), without.dream()
    assert op.calls == 1
    (mine,) = [p.operations for p in a.phases if p.phase == "rem"]
    (theirs,) = [p.operations for p in b.phases if p.phase == "rem"]
    assert "fake-rem" in mine and "fake-rem" not in theirs
    assert [o for o in mine if o != "fake-rem"] == theirs
    assert with_plugin.journal(a.cycle_id, kind="fake-rem_ran") and not without.journal(kind="fake-rem_ran")
    assert ("operation", "fake-rem") in {(r.kind, r.name) for r in with_plugin.plugins()}
    assert ("operation", "fake-rem") not in {(r.kind, r.name) for r in without.plugins()}


def test_an_llm_tier_operation_runs_only_under_a_budget_of_its_tier(clock: FakeClock) -> None:
    cheap, llm = Noting("cheap"), Noting("llm", Tier.T1)
    with opened(clock, Ops(cheap, llm)) as memory:
        memory.record_many(day(3))
        memory.dream()
        assert (cheap.calls, llm.calls) == (1, 0)
        memory.record_many(day(3, start=3))
        memory.dream(budget=CycleBudget(60.0, tokens=1_000, tier=Tier.T1))
        assert (cheap.calls, llm.calls) == (2, 1)


class Raises(Noting):
    def run(self, snap: Snapshot, ctx: Context, carry: dict[str, Any]) -> Outcome:
        raise RuntimeError("the plugin's own bug")


class WrongType(Noting):
    def run(self, snap: Snapshot, ctx: Context, carry: dict[str, Any]) -> Outcome:
        return {"writes": []}  # type: ignore[return-value]


class Failing:
    """A plugin (named, as a module would be) whose REM operation is broken after a good one."""

    __name__ = "broken_plugin"

    def __init__(self, bad: Noting) -> None:
        self.good, self.bad = Noting("good-rem"), bad

    @hookimpl
    def register_operations(self, register: Any) -> None:
        register("rem", self.good, order=1)
        register("rem", self.bad, order=2)


@pytest.mark.parametrize(
    ("bad", "error"),
    [(Raises("raises"), "RuntimeError: the plugin's own bug"), (WrongType("wrong-type"), "not an Outcome")],
)
def test_a_failing_operation_stops_the_cycle_naming_plugin_and_operation_and_undoes_it(
    clock: FakeClock, bad: Noting, error: str
) -> None:
    with opened(clock, Failing(bad)) as memory:
        memory.record_many(day(4))
        with pytest.raises(PluginError, match=f"plugin 'broken_plugin': operation '{bad.name}' of rem"):
            memory.dream()
        failed = memory.cycles(1)[0]
        assert failed.status == "failed"
        [record] = memory.journal(failed.id, kind="cycle_failed")
        assert bad.name in record.payload["error"] and error in record.payload["error"]
        assert record.payload["undone_writes"] > 0  # ONSET and NREM had written: all undone
        assert memory.store.entry_counts() == {}
        assert not memory.journal(kind="good-rem_ran")  # the good operation's phase never applied


@pytest.mark.parametrize("bad", [Raises("raises"), WrongType("wrong-type")])
def test_under_skip_the_cycle_journals_the_failure_and_goes_on_without_its_writes(
    clock: FakeClock, bad: Noting
) -> None:
    policy = {"on_operation_error": "skip"}
    with opened(clock, Failing(bad), overrides=policy) as memory:
        memory.record_many(day(4))
        report = memory.dream()
        assert report.status == "completed"
        [note] = memory.journal(report.cycle_id, kind="operation_failed")
        assert note.payload["plugin"] == "broken_plugin" and note.payload["operation"] == bad.name
        assert note.phase == "rem"
        assert memory.journal(report.cycle_id, kind="good-rem_ran")  # the rest of the phase applied
        rem = next(p for p in report.phases if p.phase == "rem")
        assert rem.did[f"{bad.name}.failed"] == 1


def test_an_unknown_policy_is_refused_naming_the_setting(clock: FakeClock) -> None:
    with pytest.raises(oneiro.OneiroError, match="on_operation_error"):
        opened(clock, overrides={"on_operation_error": "ignore"})


class Always:
    """An evidence test that finds every later episode supporting the hypothesis."""

    name = "always"
    needs_similarity = False

    def judge(self, spec: Mapping[str, Any], text: str, episode: Episode, similarity: float) -> Verdict:
        return Verdict.SUPPORTS


class Tests:
    @hookimpl
    def register_evidence_tests(self, register: Any) -> None:
        register(Always())


def staged(memory: Memory, test: str) -> str:
    source = memory.record({"text": "the reconcile job ran late", "actor": "ops"})
    hyp = Entry(
        "h-" + test,
        "insight",
        "Reconcile runs late on Fridays",
        (source.id,),
        Provenance.DREAM,
        status=EntryStatus.STAGED,
        data={"test": {"type": test}},
        created_at=memory.clock(),
    )
    memory.store.add_entries([hyp], None, "none")
    return hyp.id


def test_an_evidence_test_registered_through_the_door_judges_that_memory_only(clock: FakeClock) -> None:
    with opened(clock, Tests()) as judged, opened(clock) as plain:
        ids = [staged(m, "always") for m in (judged, plain)]
        clock.advance(60)
        for m in (judged, plain):
            m.record({"text": "anything at all", "actor": "maya"})
        assert judged.store.entries([ids[0]])[ids[0]].confirmations == 1
        assert plain.store.entries([ids[1]])[ids[1]].confirmations == 0  # an unknown test stays silent


class Scorers:
    @hookimpl
    def register_scorers(self, register: Any) -> None:
        register("likes", 1, lambda i: float(i["likes"]))
        register("likes", 2, lambda i: float(i["likes"]) * 2)


def test_a_scorer_registered_through_the_door_drives_the_built_in_rescoring(clock: FakeClock) -> None:
    scored = {
        "text": "posted the launch note",
        "kind": "decision",
        "data": {"score": {"scorer": "likes", "version": 1, "value": 5.0, "inputs": {"likes": 5}}},
    }
    with opened(clock, Scorers()) as memory, opened(clock) as plain:
        for m in (memory, plain):
            m.record(scored)
        [note] = memory.journal(memory.dream().cycle_id, kind="rescoring")
        assert note.payload["count"] == 1
        [unscored] = plain.journal(plain.dream().cycle_id, kind="rescoring")
        assert unscored.payload["count"] == 0  # that memory knows no such scorer
        assert memory.scorers.current("likes") is not None and plain.scorers.current("likes") is None


class Shadows:
    @hookimpl
    def register_shadows(self, register: Any) -> None:
        register("send_mail", StubShadow({"sent": False, "shadow": True}))


def test_a_shadow_registered_through_the_door_answers_for_the_pipeline_of_its_name(clock: FakeClock) -> None:
    with opened(clock, Shadows()) as memory:
        sent: list[str] = []

        @memory.pipeline(effect="effectful")
        def send_mail(to: str) -> dict[str, Any]:
            sent.append(to)
            return {"sent": True}

        assert memory.dispatch("send_mail", "maya").value == {"sent": True}
        with memory.gate.dreaming("c-shadowed"):
            dreamt = memory.dispatch("send_mail", "zara")
        assert dreamt.value == {"sent": False, "shadow": True} and sent == ["maya"]


# -- the probes bug: one playbook per memory ---------------------------------------------------
def validated_revision(memory: Memory) -> str:
    """A pending revision whose only evidence is a validated hypothesis: what ``auto`` promotes."""
    hyp = Entry(
        "h1", "insight", "Reconcile before close", ("ep",), Provenance.DREAM, status=EntryStatus.VALIDATED
    )
    memory.store.add_entries([hyp], None, "none")
    proposal = RevisionProposal("add", "Ops", "Reconcile before close", "x", evidence=("h1",))
    rev = memory.playbook.propose(proposal)
    memory.playbook.set_policy("auto")
    return rev.id


def refuse(_probe: Any) -> str:
    return "the owner's probe refuses every candidate"


class Probes:
    @hookimpl
    def register_probes(self, register: Any) -> None:
        register("owner-veto", refuse)


def test_the_playbook_is_one_object_per_memory(memory: Memory) -> None:
    assert memory.playbook is memory.playbook


@pytest.mark.parametrize("through", ["register_probe", "the door"])
def test_a_users_failing_probe_refuses_an_automatic_promotion(clock: FakeClock, through: str) -> None:
    with opened(clock, *([Probes()] if through == "the door" else [])) as memory:
        if through == "register_probe":
            memory.playbook.register_probe("owner-veto", refuse)
        rev = validated_revision(memory)
        report = memory.validate()
        assert report.promoted == []
        decided = memory.playbook.revision(rev)
        assert decided.status == RevisionStatus.REJECTED and "owner-veto" in (decided.decided_by or "")
        assert memory.playbook.items() == []


def test_without_the_probe_the_same_revision_is_promoted(clock: FakeClock) -> None:
    with opened(clock) as memory:
        rev = validated_revision(memory)
        assert memory.validate().promoted == [rev]
        assert memory.playbook.revision(rev).status == RevisionStatus.ACTIVE


def test_a_users_probe_guards_a_manual_approval_too(clock: FakeClock) -> None:
    with opened(clock) as memory:
        memory.playbook.register_probe("owner-veto", refuse)
        rev = memory.playbook.propose(RevisionProposal("add", "Ops", "Reconcile before close", "x"))
        with pytest.raises(Exception, match="owner's probe"):
            memory.playbook.approve(rev.id)
