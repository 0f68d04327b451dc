"""Imagination at T2, in REM (seed 002; an alternative to REM's T0 recombination and
counterfactuals, which still run): imaginative and counterfactual dream narratives grown from the
new episodes, then seed 002's quality filter: a second request scores each narrative's coherence
and faithfulness to its records, and only those scoring at least :data:`COHERENCE_MIN` enter.

A narrative citing no new episode of this cycle never enters; when the coherence check fails, no
narrative enters (unfiltered dream text is never kept). Entries are ``dream_narrative``, staged:
raw material for later dreams, below the floor until awake evidence speaks for them."""

from __future__ import annotations

from oneiro.dream.ops.llm.common import LLMOperation, cited, handles
from oneiro.dream.phase import Carry, Context, Outcome, Snapshot
from oneiro.llm.backend import LLMBackend, LLMError
from oneiro.llm.prompts import (
    IMAGINATION_VERSION,
    CoherenceCheck,
    Narratives,
    coherence_messages,
    imagination_messages,
)
from oneiro.model import Tier

#: Narratives asked for per cycle, and the records they may grow from.
NARRATIVES = 3
IMAGINATION_RECORDS = 30
#: Coherence a narrative needs to enter, on the check's 1-5 scale: "mostly coherent" and above.
COHERENCE_MIN = 4


class LLMImagination(LLMOperation):
    name = "llm_imagination"
    tier = Tier.T2
    version = IMAGINATION_VERSION

    def __init__(
        self, backend: LLMBackend | None = None, n: int = NARRATIVES, limit: int = IMAGINATION_RECORDS
    ) -> None:
        super().__init__(backend)
        self.n, self.limit = n, limit

    def run(self, snap: Snapshot, ctx: Context, carry: Carry) -> Outcome:
        out = Outcome()
        episodes = list(snap.new_episodes)[: self.limit]
        if not episodes:
            return out
        shown = handles([e.id for e in episodes])
        text = {e.id: e.text for e in episodes}
        records = [(h, text[i]) for h, i in shown.items()]
        try:
            told, answer = self.ask(imagination_messages(records, self.n), Narratives, ctx)
            grounded = [(n, cited(n.sources, shown)) for n in told.narratives]
            kept = [(n, s) for n, s in grounded if s]
            check, checked = (
                self.ask(
                    coherence_messages(records, [n.text for n, _s in kept]), CoherenceCheck, ctx, "coherence"
                )
                if kept
                else (CoherenceCheck(scores=[]), answer)
            )
        except LLMError as exc:
            return self.fallback(out, exc)
        scores = {c.index: c.score for c in check.scores if 0 <= c.index < len(kept)}
        incoherent = 0
        for i, (narrative, sources) in enumerate(kept):
            score = scores.get(i, 0)
            if score < COHERENCE_MIN:
                incoherent += 1
                continue
            out.writes.entries.append(
                self.staged(
                    "dream_narrative",
                    narrative.text.strip(),
                    sources,
                    answer,
                    ctx,
                    mode=narrative.mode,
                    coherence=score,
                    coherence_hash=checked.prompt_hash,
                )
            )
        uncited = len(grounded) - len(kept)
        self.called(out, answer, told=len(grounded), uncited=uncited, incoherent=incoherent)
        if checked is not answer:
            self.called(out, checked, check="coherence")
        out.did["narratives"] = len(out.writes.entries)
        for key, n in (("rejected_uncited", uncited), ("incoherent", incoherent)):
            if n:
                out.did[key] = n
        return out
