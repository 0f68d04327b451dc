"""LLM tiers (T1/T2) of the dream: a backend base that owns timeouts, retries, structured-output
validation, token accounting and a response cache; an OpenAI-compatible backend; typed prompts.

Every LLM operation is an alternative to a T0 operation, never a replacement: when the budget runs
out, the endpoint fails or an answer stays invalid, the caller falls back to T0 (:class:`LLMError`).
"""

from oneiro.config import TierConfig
from oneiro.llm.backend import Completion, LLMBackend, LLMError

__all__ = ["Completion", "LLMBackend", "LLMError", "TierConfig"]
