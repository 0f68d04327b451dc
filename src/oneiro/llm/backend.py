"""The LLM backend base: one abstract method, :meth:`LLMBackend.complete_raw`, a completion over
messages with an optional JSON schema. The base owns everything else, so every backend behaves
alike: a timeout per request, retries with exponential backoff on 429 and 5xx, validation of a
structured answer against its pydantic model with one repair attempt, token accounting charged to
the phase's budget before anything is returned, and a response cache keyed by the prompt's hash so
a repeated dry run costs nothing.

Invariant: :meth:`ask` either returns a validated answer whose tokens were charged, or raises
:class:`LLMError` having charged what the endpoint reported it used; it never returns half an
answer. The API key is read from the environment by name (:meth:`TierConfig.api_key`) and is
never part of any error message.
"""

from __future__ import annotations

import hashlib
import json
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from oneiro.config import TierConfig
from oneiro.errors import OneiroError
from oneiro.llm.cache import Cache

M = TypeVar("M", bound=BaseModel)
Message = dict[str, str]


class LLMError(OneiroError):
    """An LLM step failed (budget, endpoint, invalid answer); ``reason`` is what the journal says
    when the step falls back to T0."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class TransientError(Exception):
    """Raised by :meth:`LLMBackend.complete_raw` for an answer worth retrying (429, 5xx, timeout)."""


@dataclass
class Stats:
    """What this backend has done since it was built: for the bench and the cost report."""

    requests: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    failures: int = 0
    #: Wall time spent in requests (retries and backoff included), for the overhead figure.
    seconds: float = 0.0


@dataclass(frozen=True)
class Completion:
    """A raw completion: the text and the tokens the endpoint reports it used."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    truncated: bool = False

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class Answer:
    """A validated answer with what the journal records of it."""

    value: BaseModel
    prompt_hash: str
    model: str
    tokens: int
    cached: bool


def prompt_hash(model: str, messages: Sequence[Message], schema: dict[str, Any] | None) -> str:
    """The cache key: sha256 of the model, messages and schema in canonical JSON."""
    body = json.dumps({"model": model, "messages": list(messages), "schema": schema}, sort_keys=True)
    return hashlib.sha256(body.encode()).hexdigest()


class LLMBackend(ABC):
    """The base every LLM backend extends; subclasses implement :meth:`complete_raw` only."""

    def __init__(
        self,
        config: TierConfig,
        cache: Cache | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config, self.cache, self._sleep = config, cache, sleep
        self.stats = Stats()

    @abstractmethod
    def complete_raw(self, messages: Sequence[Message], schema: dict[str, Any] | None) -> Completion:
        """One request. Raise :class:`TransientError` for 429/5xx/timeouts, :class:`LLMError` otherwise."""

    def ask(
        self, messages: Sequence[Message], model: type[M], budget: Any, *, schema_name: str = "answer"
    ) -> Answer:
        """A validated ``model`` instance for ``messages``, its tokens charged to ``budget``
        (anything with ``tokens`` and ``spend_tokens``). Cached answers cost nothing."""
        schema = {"name": schema_name, "schema": model.model_json_schema(), "strict": False}
        key = prompt_hash(self.config.model, messages, schema)
        if self.cache is not None:
            hit = self.cache.get(key)
            if hit is not None:
                try:
                    value = model.model_validate_json(hit)
                    self.stats.cache_hits += 1
                    return Answer(value, key, self.config.model, 0, True)
                except ValidationError:
                    pass  # a stale entry for a changed schema: ask again
        completion = self._charged(messages, schema, budget)
        try:
            value = _parse(completion, model)
        except ValueError as first:
            repair = [
                *messages,
                {"role": "assistant", "content": completion.text},
                {
                    "role": "user",
                    "content": f"That answer is invalid ({first}). Reply with JSON matching the schema only.",
                },
            ]
            completion = self._charged(repair, schema, budget)
            try:
                value = _parse(completion, model)
            except ValueError as second:
                raise LLMError(
                    "invalid_answer", f"the answer stayed invalid after one repair: {second}"
                ) from None
        if self.cache is not None:
            self.cache.put(key, value.model_dump_json())
        return Answer(value, key, self.config.model, completion.tokens, False)

    def _charged(self, messages: Sequence[Message], schema: dict[str, Any], budget: Any) -> Completion:
        if budget.tokens <= 0:
            raise LLMError("budget_exhausted", "the phase's token budget is spent")
        completion = self._with_retries(messages, schema)
        budget.spend_tokens(completion.tokens)
        self.stats.prompt_tokens += completion.prompt_tokens
        self.stats.completion_tokens += completion.completion_tokens
        return completion

    def _with_retries(self, messages: Sequence[Message], schema: dict[str, Any]) -> Completion:
        delay = self.config.backoff_s
        for attempt in range(self.config.max_retries + 1):
            self.stats.requests += 1
            start = time.perf_counter()
            try:
                return self.complete_raw(messages, schema)
            except LLMError:
                self.stats.failures += 1
                raise
            except TransientError as exc:
                self.stats.failures += 1
                if attempt == self.config.max_retries:
                    raise LLMError("endpoint_failed", f"the endpoint kept failing: {exc}") from None
                self._sleep(delay)
                delay *= 2
            finally:
                self.stats.seconds += time.perf_counter() - start
        raise AssertionError("unreachable")


def _parse(completion: Completion, model: type[M]) -> M:
    if completion.truncated:
        raise ValueError("the answer was cut off (finish_reason=length)")
    try:
        return model.model_validate_json(completion.text)
    except ValidationError as exc:
        raise ValueError(f"{exc.error_count()} schema error(s): {exc.errors()[0]['msg']}") from None
