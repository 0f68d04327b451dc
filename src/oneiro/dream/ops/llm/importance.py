"""Importance at T1, in ONSET (Generative Agents' poignancy, 1-10): the LLM rates the episodes
recorded since the last cycle, deferred to the dream so that ``record`` stays fast (capture's
T0 importance stands meanwhile, and stands when this step falls back).

An episode is immutable, so a rating is not written into it: each becomes an ``importance`` entry
citing the one episode it rates, staged like any dream output, with the rating in its data. A
rating of an id that is not a new episode of this cycle never enters."""

from __future__ import annotations

from oneiro.dream.ops.llm.common import LLMOperation, cited, handles
from oneiro.dream.phase import Carry, Context, Outcome, Snapshot
from oneiro.llm.backend import Answer, LLMBackend, LLMError
from oneiro.llm.prompts import IMPORTANCE_VERSION, Ratings, importance_messages
from oneiro.model import Entry, Episode, Tier

#: Episodes rated in one request (a cycle makes as many as its new episodes need): small enough
#: for a small model to keep ids straight.
IMPORTANCE_BATCH = 40
#: Characters of the rated episode quoted in the entry's text, so that two episodes' ratings
#: never share a text (admission supersedes an entry whose kind and text an older one has).
QUOTED_CHARS = 80


class LLMImportance(LLMOperation):
    name = "llm_importance"
    tier = Tier.T1
    version = IMPORTANCE_VERSION

    def __init__(self, backend: LLMBackend | None = None, limit: int = IMPORTANCE_BATCH) -> None:
        super().__init__(backend)
        self.limit = limit

    def run(self, snap: Snapshot, ctx: Context, carry: Carry) -> Outcome:
        """Rate the new episodes, :attr:`limit` to a request, until all are rated or a request
        fails (the rest keep capture's importance, and the journal says why)."""
        out = Outcome()
        episodes = list(snap.new_episodes)
        ratings: dict[str, float] = {}
        rejected = 0
        for start in range(0, len(episodes), self.limit):
            batch = {ep.id: ep for ep in episodes[start : start + self.limit]}
            shown = handles(list(batch))
            try:
                value, answer = self.ask(
                    importance_messages([(h, batch[i].text) for h, i in shown.items()]), Ratings, ctx
                )
            except LLMError as exc:
                self.fallback(out, exc)
                break
            rated_here = 0
            for r in value.ratings:
                (episode,) = cited([r.id], shown) or ("",)
                if not episode or episode in ratings:
                    rejected += 1
                    continue
                ratings[episode] = float(r.rating)
                rated_here += 1
                out.writes.entries.append(self._entry(batch[episode], r.rating, r.why, answer, ctx))
            self.called(out, answer, rated=rated_here, rejected=rejected)
        if ratings:
            out.carry = Carry(importance=ratings)
        out.did["rated"] = len(ratings)
        if rejected:
            out.did["rejected_uncited"] = rejected
        return out

    def _entry(self, episode: Episode, rating: int, why: str, answer: Answer, ctx: Context) -> Entry:
        quoted = episode.text[:QUOTED_CHARS]
        text = f'importance {rating}/10 of "{quoted}"' + (f": {why.strip()}" if why.strip() else "")
        return self.staged(
            "importance", text, (episode.id,), answer, ctx, rating=rating, t0=episode.importance
        )
