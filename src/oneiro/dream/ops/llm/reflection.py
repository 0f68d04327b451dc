"""Reflection at T1 (seed 002, Generative Agents): the LLM asks salient questions of the new
episodes and states insights citing evidence ids. An insight citing no id of a real episode in
this cycle never enters; the rest enter as staged, sourced, low-confidence hypotheses. When the
LLM step fails (budget, endpoint, invalid answer) the operation writes nothing of its own and the
journal says why: the T0 operations of the phase still run (fallback)."""

from __future__ import annotations

from oneiro.dream.phase import Carry, Context, Outcome, Snapshot
from oneiro.dream.writes import Note
from oneiro.llm.backend import LLMBackend, LLMError
from oneiro.llm.prompts import REFLECTION_VERSION, Reflection, reflection_messages
from oneiro.model import Entry, EntryStatus, Provenance, Tier, entry_id


class LLMReflection:
    name = "llm_reflection"
    tier = Tier.T1

    def __init__(self, backend: LLMBackend, limit: int = 50) -> None:
        self.backend, self.limit = backend, limit

    def run(self, snap: Snapshot, ctx: Context, carry: Carry) -> Outcome:
        out = Outcome()
        episodes = list(snap.new_episodes)[: self.limit]
        if not episodes:
            return out
        real = {ep.id for ep in episodes}
        try:
            answer = self.backend.ask(
                reflection_messages([(ep.id, ep.text) for ep in episodes]), Reflection, ctx.budget
            )
        except LLMError as exc:
            out.writes.notes.append(
                Note("llm_fallback", {"op": self.name, "reason": exc.reason, "why": str(exc)})
            )
            out.did["fallback"] = 1
            return out
        value = answer.value
        assert isinstance(value, Reflection)
        rejected = 0
        for insight in value.insights:
            sources = tuple(dict.fromkeys(e for e in insight.evidence if e in real))
            if not sources:
                rejected += 1
                continue
            data = {
                "prompt_hash": answer.prompt_hash,
                "model": answer.model,
                "prompt_version": REFLECTION_VERSION,
            }
            out.writes.entries.append(
                Entry(
                    id=entry_id("reflection", insight.text, sources, data),
                    kind="reflection",
                    text=insight.text,
                    sources=sources,
                    provenance=Provenance.LLM,
                    tier=self.tier,
                    cycle_id=ctx.cycle_id,
                    status=EntryStatus.STAGED,
                    data=data,
                    created_at=ctx.now,
                )
            )
        out.writes.notes.append(
            Note(
                "llm_call",
                {
                    "op": self.name,
                    "prompt_hash": answer.prompt_hash,
                    "model": answer.model,
                    "tier": self.tier.value,
                    "tokens": answer.tokens,
                    "cached": answer.cached,
                    "rejected": rejected,
                },
            )
        )
        out.did["insights"] = len(out.writes.entries)
        if rejected:
            out.did["rejected_uncited"] = rejected
        return out
