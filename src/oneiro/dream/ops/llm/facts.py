"""Fact extraction at T1, in NREM (an alternative to key expansion and temporal normalisation,
which still run): atomic facts from the new turns, each with its speaker and the date it is about
normalised to ISO 8601, citing the turns it comes from.

Checks, because an LLM attributes and dates loosely: a fact citing no new turn of this cycle
never enters; one whose speaker is not the actor of a cited turn never enters (a misattributed
fact is worse than none); a date that is not an ISO calendar date is dropped, the fact kept."""

from __future__ import annotations

import datetime as dt

from oneiro.dream.ops.llm.common import LLMOperation, cited, handles
from oneiro.dream.phase import Carry, Context, Outcome, Snapshot
from oneiro.llm.backend import LLMBackend, LLMError
from oneiro.llm.prompts import FACTS_VERSION, Facts, facts_messages
from oneiro.model import Episode, Tier

#: Turns read per request (a LoCoMo session is 15-30 turns: one or two sessions a request).
FACTS_BATCH = 40


def _date(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).date().isoformat()


def iso_date(value: str | None) -> str | None:
    """``value`` when it is an ISO calendar date (YYYY-MM-DD), else None."""
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value.strip()).isoformat()
    except ValueError:
        return None


class LLMFacts(LLMOperation):
    name = "llm_facts"
    tier = Tier.T1
    version = FACTS_VERSION

    def __init__(self, backend: LLMBackend | None = None, limit: int = FACTS_BATCH) -> None:
        super().__init__(backend)
        self.limit = limit

    def run(self, snap: Snapshot, ctx: Context, carry: Carry) -> Outcome:
        out = Outcome()
        turns = list(snap.new_episodes)[: self.limit]
        if not turns:
            return out
        by_id: dict[str, Episode] = {t.id: t for t in turns}
        shown = handles([t.id for t in turns])
        records = [
            (h, by_id[i].actor or "unknown", _date(by_id[i].ts), by_id[i].text) for h, i in shown.items()
        ]
        try:
            value, answer = self.ask(facts_messages(records), Facts, ctx)
        except LLMError as exc:
            return self.fallback(out, exc)
        rejected = misattributed = undated = 0
        for fact in value.facts:
            sources = cited(fact.sources, shown)
            if not sources:
                rejected += 1
                continue
            actors = {by_id[s].actor.casefold() for s in sources if by_id[s].actor}
            speaker = (fact.speaker or "").strip()
            if speaker and speaker.casefold() not in actors:
                misattributed += 1
                continue
            date = iso_date(fact.date)
            undated += fact.date is not None and date is None
            out.writes.entries.append(
                self.staged(
                    "fact", fact.text.strip(), sources, answer, ctx, speaker=speaker or None, date=date
                )
            )
        self.called(out, answer, rejected=rejected, misattributed=misattributed, bad_dates=undated)
        out.did["facts"] = len(out.writes.entries)
        for key, n in (("rejected_uncited", rejected), ("misattributed", misattributed)):
            if n:
                out.did[key] = n
        return out
