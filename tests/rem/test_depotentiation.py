"""Depotentiation on a real store: a calmer derived view of charged episodes, the episode and its
original arousal untouched, settled by later awake affect."""

from __future__ import annotations

from rem_helpers import context, snapshot

from fakes import apply_writes
from oneiro.dream.ops.rem.depotentiation import Depotentiation, calmer, views
from oneiro.dream.ops.rem.evidence import AffectSettled
from oneiro.dream.phase import Carry
from oneiro.memory import Memory
from oneiro.model import Affect, EntryStatus, Episode
from oneiro.validation import Verdict


def store(memory: Memory) -> list[Episode]:
    base = memory.clock() - 3600
    return memory.record_many(
        [
            {
                "ts": base + i,
                "text": f"moment {i}",
                "affect": {"pleasure": -0.5, "arousal": a, "dominance": 0.0},
            }
            for i, a in enumerate([0.95, 0.1, 0.7, -0.8, 0.2])
        ]
    )


def test_charged_episodes_get_a_calmer_view_and_keep_their_content(memory: Memory) -> None:
    eps = store(memory)
    ctx = context(memory)
    out = Depotentiation().run(snapshot(memory), ctx, Carry())
    viewed = {e.data["episode"]: e for e in out.writes.entries}
    assert set(viewed) == {eps[0].id, eps[2].id, eps[3].id}
    for e in viewed.values():
        assert e.status == EntryStatus.STAGED and e.confidence == 0.2 and e.sources == (e.data["episode"],)
        assert e.data["view_arousal"] == e.data["arousal"] * ctx.config.rem.depotentiation_factor
    apply_writes(memory.store, out.writes, ctx)  # type: ignore[arg-type]
    snap = snapshot(memory)
    got = views(snap, [e.id for e in eps])
    assert got[eps[0].id] == 0.95 * 0.5 and eps[1].id not in got
    calm = calmer(eps[0], got)
    assert calm.affect is not None and calm.affect.arousal == 0.475 and calm.text == eps[0].text
    stored = memory.store.episodes([eps[0].id])[eps[0].id]
    assert stored.affect is not None and stored.affect.arousal == 0.95
    again = Depotentiation().run(snap, ctx, Carry())
    assert not again.writes.entries and again.did["already"] == 3


def test_the_view_is_settled_by_later_affect_on_the_same_subject() -> None:
    spec = {"type": "affect_settled", "episode": "e0", "charged": 0.6, "min_similarity": 0.5}

    def later(arousal: float | None) -> Episode:
        affect = None if arousal is None else Affect(0.0, arousal, 0.0)
        return Episode(id="n", ts=0.0, text="t", affect=affect)

    test = AffectSettled()
    assert test.judge(spec, "", later(0.1), 0.9) == Verdict.SUPPORTS
    assert test.judge(spec, "", later(-0.9), 0.9) == Verdict.REFUTES
    assert test.judge(spec, "", later(0.1), 0.2) == Verdict.SILENT
    assert test.judge(spec, "", later(None), 0.9) == Verdict.SILENT
