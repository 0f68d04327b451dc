"""Reflection at T1 (seed 002, Generative Agents): the LLM asks salient questions of the new
episodes and states insights citing evidence ids. An insight citing no id of a real episode in
this cycle never enters; the rest enter as staged, sourced, low-confidence hypotheses. When the
LLM step fails (budget, endpoint, invalid answer) the operation writes nothing of its own and the
journal says why: the T0 operations of the phase still run (fallback)."""

from __future__ import annotations

from oneiro.dream.ops.llm.common import LLMOperation, cited, handles
from oneiro.dream.phase import Carry, Context, Outcome, Snapshot
from oneiro.llm.backend import LLMBackend, LLMError
from oneiro.llm.prompts import REFLECTION_VERSION, Reflection, reflection_messages
from oneiro.model import Tier

#: Episodes one reflection reads: Generative Agents reflect over the 100 most recent memories;
#: half that keeps one request well inside a small model's context window.
REFLECTION_EPISODES = 50


class LLMReflection(LLMOperation):
    name = "llm_reflection"
    tier = Tier.T1
    version = REFLECTION_VERSION

    def __init__(self, backend: LLMBackend | None = None, limit: int = REFLECTION_EPISODES) -> None:
        super().__init__(backend)
        self.limit = limit

    def run(self, snap: Snapshot, ctx: Context, carry: Carry) -> Outcome:
        out = Outcome()
        episodes = list(snap.new_episodes)[: self.limit]
        if not episodes:
            return out
        shown = handles([ep.id for ep in episodes])
        text = {ep.id: ep.text for ep in episodes}
        try:
            value, answer = self.ask(
                reflection_messages([(h, text[i]) for h, i in shown.items()]), Reflection, ctx
            )
        except LLMError as exc:
            return self.fallback(out, exc)
        rejected = 0
        for insight in value.insights:
            sources = cited(insight.evidence, shown)
            if not sources:
                rejected += 1
                continue
            out.writes.entries.append(self.staged("reflection", insight.text, sources, answer, ctx))
        self.called(out, answer, rejected=rejected)
        out.did["insights"] = len(out.writes.entries)
        if rejected:
            out.did["rejected_uncited"] = rejected
        return out
