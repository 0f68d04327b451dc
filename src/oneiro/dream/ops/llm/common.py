"""What every tiered (T1/T2) operation shares: where its backend comes from, how a failed LLM
step falls back (a journaled ``llm_fallback`` note, no writes of its own: the T0 operations of the
phase still run) and what the journal records of a call (``llm_call``: prompt hash, model, tier,
tokens, whether it was cached; never the key).

Invariant: an operation built on :class:`LLMOperation` never lets an :class:`LLMError` out of
``run``; every entry it proposes cites ids that exist in the snapshot it was given.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel

from oneiro.dream.phase import Context, Outcome
from oneiro.dream.writes import Note
from oneiro.llm.backend import Answer, LLMBackend, LLMError, Message
from oneiro.llm.tiers import TierBackends
from oneiro.model import Entry, EntryStatus, Provenance, Tier, entry_id

M = TypeVar("M", bound=BaseModel)


class LLMOperation:
    """A dream operation that asks an LLM. ``backend`` given: that one; else the memory's
    :class:`TierBackends` for this operation's tier (bound when the memory opens)."""

    name = "llm"
    tier = Tier.T1
    #: The prompt's version, recorded with every output (bump it when the prompt changes).
    version = 1

    def __init__(self, backend: LLMBackend | None = None) -> None:
        self._backend = backend
        self._backends: TierBackends | None = None

    def bind_llm(self, backends: TierBackends) -> None:
        self._backends = backends

    def backend(self) -> LLMBackend:
        if self._backend is not None:
            return self._backend
        if self._backends is None:
            raise LLMError("no_endpoint", f"{self.name} has no LLM backend (no [tiers.*] endpoint)")
        return self._backends.for_tier(self.tier)

    def ask(
        self, messages: Sequence[Message], model: type[M], ctx: Context, step: str = ""
    ) -> tuple[M, Answer]:
        """A validated answer charged to the phase's budget (raises LLMError). The schema is
        named after the operation (and ``step``, for an operation asking more than once)."""
        name = f"{self.name}_{step}" if step else self.name
        answer = self.backend().ask(messages, model, ctx.budget, schema_name=name)
        value = answer.value
        assert isinstance(value, model)
        return value, answer

    def fallback(self, out: Outcome, exc: LLMError) -> Outcome:
        out.writes.notes.append(
            Note("llm_fallback", {"op": self.name, "reason": exc.reason, "why": str(exc)})
        )
        out.did["fallback"] = 1
        return out

    def called(self, out: Outcome, answer: Answer, **extra: Any) -> None:
        out.writes.notes.append(
            Note(
                "llm_call",
                {
                    "op": self.name,
                    "prompt_hash": answer.prompt_hash,
                    "prompt_version": self.version,
                    "model": answer.model,
                    "tier": self.tier.value,
                    "tokens": answer.tokens,
                    "cached": answer.cached,
                    **extra,
                },
            )
        )

    def provenance(self, answer: Answer) -> dict[str, Any]:
        """What every output records of the call that made it."""
        return {
            "prompt_hash": answer.prompt_hash,
            "model": answer.model,
            "prompt_version": self.version,
            "tier": self.tier.value,
        }

    def staged(
        self, kind: str, text: str, sources: Sequence[str], answer: Answer, ctx: Context, **data: Any
    ) -> Entry:
        """A dream hypothesis: staged at the hypothesis confidence, citing ``sources``."""
        cited = tuple(dict.fromkeys(sources))
        assert cited, "an LLM-made entry must cite at least one real id"
        payload = {**self.provenance(answer), **data}
        return Entry(
            id=entry_id(kind, text, cited, payload),
            kind=kind,
            text=text,
            sources=cited,
            provenance=Provenance.LLM,
            tier=self.tier,
            cycle_id=ctx.cycle_id,
            confidence=ctx.config.lifecycle.hypothesis_confidence,
            status=EntryStatus.STAGED,
            data=payload,
            created_at=ctx.now,
        )


def handles(ids: Sequence[str], prefix: str = "") -> dict[str, str]:
    """Short handles (``1``, ``2``... or ``e1``...) for the ids a prompt shows, handle -> id.

    Why: ids are 64-hex digests; listed in full they cost about 40 tokens each in the prompt and
    again in every citation, and a model copying 64 hex digits garbles some. A prompt shows the
    handle; :func:`cited` maps what the answer cites back to real ids."""
    return {f"{prefix}{i + 1}": real for i, real in enumerate(dict.fromkeys(ids))}


def cited(given: Sequence[str], shown: Mapping[str, str]) -> tuple[str, ...]:
    """The real ids ``given`` cites, in order, once each: a handle ``shown`` maps, or a full id it
    holds. Anything else (a made-up id, a handle never shown) is dropped: what an output may cite."""
    real = set(shown.values())
    out = (shown.get(g.strip().strip("[]"), g if g in real else "") for g in given)
    return tuple(dict.fromkeys(i for i in out if i))
