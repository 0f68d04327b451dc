"""Contextual re-embedding: a turn embedded together with the turns around it in its session.

A reply like "Yes, on Monday" means nothing alone; with the question before it, it does. The
``context`` entry's vector is the embedding of the window, its text the window (so lexical recall
sees it too), and its only source is the turn itself: a hit on the window counts for that turn.
"""

from __future__ import annotations

from collections import defaultdict

from oneiro.dream.ops.extractive import day_label, extractive_entry
from oneiro.dream.phase import Carry, Context, Outcome, Snapshot
from oneiro.dream.writes import Writes
from oneiro.model import Episode, Tier


def windows(session: list[Episode], width: int) -> dict[str, str]:
    """For each episode of a session (in time order), the text of its window of ``width`` turns
    on each side, the turn itself first so that it dominates the embedding."""
    out: dict[str, str] = {}
    for i, ep in enumerate(session):
        before = session[max(0, i - width) : i]
        after = session[i + 1 : i + 1 + width]
        parts = [f"{ep.actor}: {ep.text}"] if ep.actor else [ep.text]
        around = [f"{e.actor}: {e.text}" if e.actor else e.text for e in (*before, *after)]
        out[ep.id] = f"({day_label(ep.ts)}) " + " ".join(parts + around)
    return out


class ContextualEmbedding:
    name = "context"
    tier = Tier.T0

    def run(self, snap: Snapshot, ctx: Context, carry: Carry) -> Outcome:
        new = list(snap.new_episodes)
        if not new:
            return Outcome()
        width = ctx.config.nrem.context_window
        spans: dict[str, tuple[float, float]] = {}
        for ep in new:
            if ep.session:
                lo, hi = spans.get(ep.session, (ep.ts, ep.ts))
                spans[ep.session] = (min(lo, ep.ts), max(hi, ep.ts))
        by_session: dict[str, list[Episode]] = defaultdict(list)
        for session, (lo, hi) in sorted(spans.items()):
            by_session[session] = snap.episodes_around(session, lo, hi, width)
        texts: dict[str, str] = {}
        for turns in by_session.values():
            texts.update(windows(turns, width))
        writes = Writes()
        chosen = [e for e in new if e.id in texts and e.session]
        if ctx.budget.exhausted():
            return Outcome(left={"episodes": len(chosen)})
        vectors = ctx.embedder.embed([texts[e.id] for e in chosen])
        for ep, vec in zip(chosen, vectors, strict=True):
            entry = extractive_entry(
                ctx, "context", texts[ep.id], (ep.id,), keys=[ep.actor], valid_from=ep.ts
            )
            writes.entries.append(entry)
            writes.vectors[entry.id] = vec
        return Outcome(writes, did={"episodes": len(chosen), "sessions": len(by_session)})
