"""The OpenAI-compatible backend on the ``openai`` SDK, at any base URL. The SDK's own retries
are off (``max_retries=0``): the base owns retries and backoff so every backend retries alike.
Structured output is asked for by sending the JSON schema as ``response_format``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from oneiro.llm.backend import Completion, LLMBackend, LLMError, Message, TransientError

#: What the SDK is given as the key for an endpoint that takes none (it refuses an empty one).
NO_KEY = "no-key"


class OpenAIBackend(LLMBackend):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._client: Any = None

    def client(self) -> Any:
        if self._client is None:
            try:
                import openai
            except ImportError:
                raise LLMError("no_sdk", "the openai package is missing; install oneiro[llm]") from None
            key = self.config.api_key()
            if key is None and self.config.api_key_env:
                raise LLMError(
                    "key_missing",
                    f"the environment variable {self.config.api_key_env} holding the key is not set",
                )
            self._client = openai.OpenAI(
                base_url=self.config.base_url,
                api_key=key or NO_KEY,
                timeout=self.config.timeout_s,
                max_retries=0,
            )
        return self._client

    def complete_raw(self, messages: Sequence[Message], schema: dict[str, Any] | None) -> Completion:
        import openai

        kwargs: dict[str, Any] = {
            "model": self.config.model,
            "messages": list(messages),
            "max_tokens": self.config.max_tokens,
        }
        if schema is not None:
            kwargs["response_format"] = {"type": "json_schema", "json_schema": schema}
        try:
            resp = self.client().chat.completions.create(**kwargs)
        except (
            openai.RateLimitError,
            openai.InternalServerError,
            openai.APITimeoutError,
            openai.APIConnectionError,
        ) as exc:
            raise TransientError(type(exc).__name__) from None
        except openai.APIStatusError as exc:
            raise LLMError(
                "endpoint_failed", f"the endpoint refused the request: HTTP {exc.status_code}"
            ) from None
        except openai.APIError as exc:
            raise LLMError(
                "endpoint_failed", f"the endpoint's answer is unreadable: {type(exc).__name__}"
            ) from None
        if not resp.choices:
            raise LLMError("invalid_answer", "the endpoint answered no choices")
        choice = resp.choices[0]
        usage = resp.usage
        return Completion(
            choice.message.content or "",
            int(usage.prompt_tokens) if usage else 0,
            int(usage.completion_tokens) if usage else 0,
            truncated=choice.finish_reason == "length",
        )


def openai_factory(config: Any, cache: Any = None) -> OpenAIBackend:
    """The registration door's factory: ``factory(TierConfig, cache) -> OpenAIBackend``."""
    return OpenAIBackend(config, cache)
