"""Contradiction judgement at T1, in NREM (an alternative to the T0 supersession check, which
still runs and is the only one that supersedes): each new episode is paired with the most similar
earlier one, the LLM judges each pair (contradicts, updates, consistent, unrelated), and a pair it
finds in conflict becomes a ``contradiction`` entry citing both episodes, staged for awake
evidence to settle. Nothing is superseded on an LLM's word.

Only pairs the operation itself built can be judged: a judgement naming another pair is dropped,
so the entry's two sources are always real episodes of the snapshot."""

from __future__ import annotations

from oneiro.dream.ops.llm.common import LLMOperation
from oneiro.dream.phase import Carry, Context, Outcome, Snapshot
from oneiro.llm.backend import LLMBackend, LLMError
from oneiro.llm.prompts import CONTRADICTION_VERSION, Judgements, contradiction_messages
from oneiro.model import Episode, Tier

#: Pairs judged per request.
CONTRADICTION_PAIRS = 20
#: Neighbours looked at for each new episode (the first other than itself is its pair).
NEIGHBOURS = 3
#: The verdicts that make an entry.
CONFLICTS = ("contradicts", "updates")


class LLMContradiction(LLMOperation):
    name = "llm_contradiction"
    tier = Tier.T1
    version = CONTRADICTION_VERSION

    def __init__(self, backend: LLMBackend | None = None, limit: int = CONTRADICTION_PAIRS) -> None:
        super().__init__(backend)
        self.limit = limit

    def pairs(self, snap: Snapshot, ctx: Context) -> list[tuple[Episode, Episode]]:
        """(earlier, newer) pairs: each new episode and its nearest earlier episode at or above
        the supersession similarity (the T0 check's candidate threshold)."""
        new = list(snap.new_episodes)
        vectors = snap.vectors([e.id for e in new])
        floor = ctx.config.nrem.supersede_similarity
        wanted: list[tuple[str, str]] = []
        for ep in new:
            if ep.id not in vectors:
                continue
            near = [i for i, s in snap.similar(vectors[ep.id], NEIGHBOURS + 1) if i != ep.id and s >= floor]
            if near and (near[0], ep.id) not in wanted and (ep.id, near[0]) not in wanted:
                wanted.append((near[0], ep.id))
            if len(wanted) >= self.limit:
                break
        known = snap.episodes([i for pair in wanted for i in pair])
        out = [(known[a], known[b]) for a, b in wanted if a in known and b in known]
        return [(a, b) if a.ts <= b.ts else (b, a) for a, b in out]

    def run(self, snap: Snapshot, ctx: Context, carry: Carry) -> Outcome:
        out = Outcome()
        pairs = self.pairs(snap, ctx)
        if not pairs:
            return out
        shown = [((a.id, a.text), (b.id, b.text)) for a, b in pairs]
        try:
            value, answer = self.ask(contradiction_messages(shown), Judgements, ctx)
        except LLMError as exc:
            return self.fallback(out, exc)
        judged: set[int] = set()
        rejected = 0
        for j in value.judgements:
            if not 0 <= j.pair < len(pairs) or j.pair in judged:
                rejected += 1
                continue
            judged.add(j.pair)
            if j.verdict not in CONFLICTS:
                continue
            older, newer = pairs[j.pair]
            text = f"{newer.text} ({j.verdict} {older.text})"
            out.writes.entries.append(
                self.staged(
                    "contradiction",
                    text,
                    (older.id, newer.id),
                    answer,
                    ctx,
                    verdict=j.verdict,
                    reason=j.reason,
                    older=older.id,
                    newer=newer.id,
                )
            )
        self.called(out, answer, pairs=len(pairs), judged=len(judged), rejected=rejected)
        out.did["conflicts"] = len(out.writes.entries)
        if rejected:
            out.did["rejected_pairs"] = rejected
        return out
