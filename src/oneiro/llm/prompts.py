"""Typed prompts, each beside its response schema (pydantic) and versioned: a prompt's messages
and schema together make the hash the journal records with every LLM output."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, Field

from oneiro.llm.backend import Message


class Insight(BaseModel):
    text: str = Field(min_length=1)
    #: Ids of the evidence episodes; an insight citing no valid id is rejected by the operation.
    evidence: list[str]


class Reflection(BaseModel):
    """Generative Agents' reflection (seed 002): salient questions, then insights citing evidence."""

    questions: list[str]
    insights: list[Insight]


REFLECTION_VERSION = 1


def reflection_messages(episodes: Sequence[tuple[str, str]]) -> list[Message]:
    lines = "\n".join(f"[{eid}] {text}" for eid, text in episodes)
    return [
        {"role": "system", "content": f"oneiro reflection v{REFLECTION_VERSION}. Answer JSON only."},
        {
            "role": "user",
            "content": "Given only these records, what are the 3 most salient high-level questions? "
            "Then state insights answering them, each citing the ids of the records it rests on.\n" + lines,
        },
    ]
