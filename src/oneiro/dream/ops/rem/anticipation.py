"""REM anticipation (sleep-time compute): the questions the store itself suggests will come,
answered ahead of time into recall bundles.

Derived from the store alone, never from any benchmark's questions:

* *open questions*: turns of this cycle's intake that ask something (end with "?") among the last
  ``OPEN_TAIL`` turns of their session, so nobody has answered them yet.

Rising topics (the topic communities NREM made in the cycle) are not used yet: their queries made
a resumed cycle's admission judge its entries differently from an uninterrupted one's.

Each query is embedded and answered by the snapshot's nearest episodes (the question itself
left out), at most ``BUNDLE`` of them: the bundle recall can serve when the query comes. At most
``rem.anticipations_per_cycle``, open questions first, each query once while an earlier one is
live. Each is staged (0.2) as an ``anticipation`` sourced on the turn or topic members it came
from and on its bundle, tested by ``text_support``: a later awake turn restating the query
confirms that it was anticipated rightly (the entry's text is the query itself, so that a
restatement is measured against it). Recall does not read these bundles yet.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict

from oneiro.dream.ops.rem.staging import live, staged
from oneiro.dream.phase import Carry, Context, Outcome, Snapshot
from oneiro.dream.writes import Note, Writes
from oneiro.model import Episode, Provenance, Tier

#: Last turns of a session in which an unanswered question still counts as open.
OPEN_TAIL = 3
#: Episodes answered ahead per anticipated query (a recall page's worth).
BUNDLE = 10
#: How close a later turn must be to restate the query (a paraphrase, not a neighbour).
RESTATES = 0.7


def open_questions(new: list[Episode]) -> list[Episode]:
    by_session: dict[str, list[Episode]] = defaultdict(list)
    for ep in new:
        if ep.provenance == Provenance.AWAKE and ep.kind != "decision":
            by_session[ep.session].append(ep)
    out: list[Episode] = []
    for turns in by_session.values():
        turns.sort(key=lambda e: (e.ts, e.id))
        out.extend(e for e in turns[-OPEN_TAIL:] if e.text.rstrip().endswith("?"))
    return sorted(out, key=lambda e: (-e.ts, e.id))


def key_of(query: str) -> str:
    return hashlib.sha256(" ".join(query.casefold().split()).encode()).hexdigest()[:16]


class Anticipation:
    """Stages anticipated queries with their bundles answered ahead of time."""

    name = "anticipation"
    tier = Tier.T0

    def run(self, snap: Snapshot, ctx: Context, carry: Carry) -> Outcome:
        cap = ctx.config.rem.anticipations_per_cycle
        queries: list[tuple[str, str, tuple[str, ...]]] = [
            ("open question", q.text.strip(), (q.id,)) for q in open_questions(list(snap.new_episodes))
        ]
        writes = Writes()
        made = known = 0
        seen: set[str] = set()
        for why, query, origin in queries:
            if made >= cap or ctx.budget.exhausted():
                break
            key = key_of(query)
            if key in seen or live(snap, "anticipation", "key", key):
                known += key not in seen
                seen.add(key)
                continue
            seen.add(key)
            [vector] = ctx.embedder.embed([query])
            bundle = [i for i, _ in snap.similar(vector, BUNDLE + len(origin)) if i not in origin][:BUNDLE]
            if not bundle:
                continue
            data = {
                "query": query,
                "key": key,
                "why": why,
                "bundle": bundle,
                "test": {"type": "text_support", "min_similarity": RESTATES},
            }
            writes.entries.append(
                staged(
                    ctx,
                    "anticipation",
                    query,
                    [*origin, *bundle],
                    data,
                    ("anticipation", why),
                )
            )
            made += 1
        left = max(0, len(seen) - known - made) if ctx.budget.exhausted() else 0
        writes.notes.append(Note("anticipation", {"queries": len(queries), "made": made, "already": known}))
        return Outcome(writes, did={"made": made, "already": known}, left={"queries": left} if left else {})
