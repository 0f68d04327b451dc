"""REM depotentiation: a calmer view of charged episodes, the content kept (seed 003; Walker &
van der Helm 2009, "sleep to forget, sleep to remember": REM sleep keeps the memory of an
emotional experience while lowering its affective charge).

Episodes are immutable, so the charge is lowered in a derived view, never in the episode: a
``depotentiation`` entry per charged episode (|arousal| at least ``rem.charged_arousal``, the same
line ONSET's residue calls charged), holding the original arousal (``data["arousal"]``, and the
episode itself, stay queryable) and the view's, ``rem.depotentiation_factor`` times it. At most
``rem.max_depotentiated`` a cycle, the most charged first, from the store's recent episodes and
this cycle's; an episode already viewed is not viewed again. :func:`views` and :func:`calmer`
let a reader (replay, a benchmark) score episodes through the view.

Like all of REM's output the view is a staged hypothesis, tested by ``affect_settled``: when the
subject comes back in later awake experience with a calm affect the view is confirmed, with the
charge back it is refuted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from oneiro.dream.ops.rem.decisions import RecentView
from oneiro.dream.ops.rem.evidence import SAME_SUBJECT_SIMILARITY
from oneiro.dream.ops.rem.staging import live, staged
from oneiro.dream.phase import Carry, Context, Outcome, Snapshot
from oneiro.dream.writes import Note, Writes
from oneiro.model import Affect, Entry, EntryStatus, Episode, Provenance, Tier
from oneiro.store.query import EntryQuery

#: Characters of the episode's text the view's text quotes (the subject, for the evidence test).
QUOTE_CHARS = 300


def charged(episodes: Sequence[Episode], threshold: float) -> list[Episode]:
    """Awake episodes at or above ``threshold`` |arousal|, most charged first, each once."""
    seen: dict[str, Episode] = {}
    for ep in episodes:
        if (
            ep.provenance == Provenance.AWAKE
            and ep.affect is not None
            and abs(ep.affect.arousal) >= threshold
        ):
            seen.setdefault(ep.id, ep)
    return sorted(seen.values(), key=lambda e: (-abs(e.affect.arousal if e.affect else 0.0), e.id))


def view_entry(ctx: Context, ep: Episode) -> Entry:
    cfg = ctx.config.rem
    original = ep.affect.arousal if ep.affect else 0.0
    lowered = original * cfg.depotentiation_factor
    text = f"Calmer view (arousal {original:.2f} -> {lowered:.2f}) of: {ep.text[:QUOTE_CHARS]}"
    data = {
        "episode": ep.id,
        "arousal": original,
        "view_arousal": lowered,
        "test": {
            "type": "affect_settled",
            "episode": ep.id,
            "charged": cfg.charged_arousal,
            "min_similarity": SAME_SUBJECT_SIMILARITY,
        },
    }
    return staged(ctx, "depotentiation", text, (ep.id,), data, ("depotentiation",))


class Depotentiation:
    """Stages a calmer view of each charged episode not yet viewed."""

    name = "depotentiation"
    tier = Tier.T0

    def run(self, snap: Snapshot, ctx: Context, carry: Carry) -> Outcome:
        cfg = ctx.config.rem
        recent: Sequence[Episode] = ()
        if isinstance(snap, RecentView):
            recent = snap.recent_episodes(cfg.model_window)
        found = charged([*recent, *snap.new_episodes], cfg.charged_arousal)
        writes = Writes()
        viewed = known = 0
        for ep in found:
            if viewed >= cfg.max_depotentiated or ctx.budget.exhausted():
                break
            if live(snap, "depotentiation", "episode", ep.id):
                known += 1
                continue
            writes.entries.append(view_entry(ctx, ep))
            viewed += 1
        left = max(0, len(found) - known - viewed)
        writes.notes.append(
            Note("depotentiation", {"charged": len(found), "viewed": viewed, "already": known, "left": left})
        )
        return Outcome(
            writes,
            did={"viewed": viewed, "already": known},
            left={"charged": left} if left and ctx.budget.exhausted() else {},
        )


def views(snap: Snapshot, ids: Sequence[str]) -> dict[str, float]:
    """The view's arousal of each of ``ids`` a live depotentiation holds (the latest one)."""
    wanted = set(ids)
    rows = snap.entries_matching(
        EntryQuery(kinds=("depotentiation",), statuses=(EntryStatus.STAGED, EntryStatus.VALIDATED))
    )
    return {
        str(e.data["episode"]): float(e.data["view_arousal"]) for e in rows if e.data.get("episode") in wanted
    }


def calmer(ep: Episode, arousal: Mapping[str, float]) -> Episode:
    """``ep`` as the view sees it (a copy; the stored episode is untouched)."""
    if ep.id not in arousal or ep.affect is None:
        return ep
    return replace(ep, affect=Affect(ep.affect.pleasure, arousal[ep.id], ep.affect.dominance))
