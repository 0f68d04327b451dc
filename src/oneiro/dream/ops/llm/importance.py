"""Importance at T1, in ONSET (Generative Agents' poignancy, 1-10): the LLM rates the episodes
recorded since the last cycle, deferred to the dream so that ``record`` stays fast (capture's
T0 importance stands meanwhile, and stands when this step falls back).

An episode is immutable, so a rating is not written into it: each becomes an ``importance`` entry
citing the one episode it rates, staged like any dream output, with the rating in its data. A
rating of an id that is not a new episode of this cycle never enters."""

from __future__ import annotations

from oneiro.dream.ops.llm.common import LLMOperation, cited, handles
from oneiro.dream.phase import Carry, Context, Outcome, Snapshot
from oneiro.llm.backend import LLMBackend, LLMError
from oneiro.llm.prompts import IMPORTANCE_VERSION, Ratings, importance_messages
from oneiro.model import Tier

#: Episodes rated in one request: small enough for a small model to keep ids straight.
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
        out = Outcome()
        episodes = list(snap.new_episodes)[: self.limit]
        if not episodes:
            return out
        by_id = {ep.id: ep for ep in episodes}
        shown = handles(list(by_id))
        try:
            value, answer = self.ask(
                importance_messages([(h, by_id[i].text) for h, i in shown.items()]), Ratings, ctx
            )
        except LLMError as exc:
            return self.fallback(out, exc)
        rated: set[str] = set()
        rejected = 0
        for r in value.ratings:
            (episode,) = cited([r.id], shown) or ("",)
            if not episode or episode in rated:
                rejected += 1
                continue
            rated.add(episode)
            quoted = by_id[episode].text[:QUOTED_CHARS]
            text = f'importance {r.rating}/10 of "{quoted}"' + (f": {r.why.strip()}" if r.why.strip() else "")
            out.writes.entries.append(
                self.staged(
                    "importance", text, (episode,), answer, ctx, rating=r.rating, t0=by_id[episode].importance
                )
            )
        self.called(out, answer, rated=len(rated), rejected=rejected)
        out.did["rated"] = len(rated)
        if rejected:
            out.did["rejected_uncited"] = rejected
        return out
