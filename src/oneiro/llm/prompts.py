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


def _records(records: Sequence[tuple[str, str]]) -> str:
    return "\n".join(f"[{rid}] {text}" for rid, text in records)


def _system(what: str, version: int) -> Message:
    return {"role": "system", "content": f"oneiro {what} v{version}. Answer JSON only."}


# -- importance (Generative Agents' poignancy rating, 1-10) --------------------------------------
class Rating(BaseModel):
    id: str
    #: 1 is mundane (brushing teeth), 10 is extremely poignant (a break-up), as Park et al. 2023.
    rating: int = Field(ge=1, le=10)
    why: str = ""


class Ratings(BaseModel):
    ratings: list[Rating]


IMPORTANCE_VERSION = 1


def importance_messages(records: Sequence[tuple[str, str]]) -> list[Message]:
    return [
        _system("importance", IMPORTANCE_VERSION),
        {
            "role": "user",
            "content": "On the scale of 1 to 10, where 1 is purely mundane (e.g. brushing teeth) and 10 "
            "is extremely poignant (e.g. a break up), rate the likely poignancy of each record, by id.\n"
            + _records(records),
        },
    ]


# -- fact extraction ------------------------------------------------------------------------------
class Fact(BaseModel):
    text: str = Field(min_length=1)
    #: Who said or did it: the actor of one of the cited records, or null.
    speaker: str | None = None
    #: The date the fact is about, normalised to ISO 8601 (YYYY-MM-DD), or null.
    date: str | None = None
    sources: list[str]


class Facts(BaseModel):
    facts: list[Fact]


FACTS_VERSION = 1


def facts_messages(records: Sequence[tuple[str, str, str, str]]) -> list[Message]:
    """``records``: (id, speaker, date of the record, text)."""
    lines = "\n".join(f"[{rid}] ({date}) {speaker}: {text}" for rid, speaker, date, text in records)
    return [
        _system("facts", FACTS_VERSION),
        {
            "role": "user",
            "content": "Extract the atomic facts these turns state. For each: the fact as one sentence, "
            "the speaker it comes from, the date it is about resolved against the turn's date "
            "(YYYY-MM-DD, or null) and the ids of the turns it comes from.\n" + lines,
        },
    ]


# -- contradiction judgement ----------------------------------------------------------------------
class Judgement(BaseModel):
    pair: int
    verdict: str = Field(pattern="^(contradicts|updates|consistent|unrelated)$")
    reason: str = ""


class Judgements(BaseModel):
    judgements: list[Judgement]


CONTRADICTION_VERSION = 1


def contradiction_messages(pairs: Sequence[tuple[tuple[str, str], tuple[str, str]]]) -> list[Message]:
    lines = "\n".join(f"pair {i}: [{a}] {ta}  <->  [{b}] {tb}" for i, ((a, ta), (b, tb)) in enumerate(pairs))
    return [
        _system("contradiction", CONTRADICTION_VERSION),
        {
            "role": "user",
            "content": "For each pair, judge whether the second statement contradicts the first, updates "
            "it (a newer value for the same thing), is consistent with it, or is unrelated.\n" + lines,
        },
    ]


# -- imagination and its coherence filter (seed 002) ----------------------------------------------
class Narrative(BaseModel):
    text: str = Field(min_length=1)
    #: ``imaginative`` (a recombination of what happened) or ``counterfactual`` (what if not).
    mode: str = Field(pattern="^(imaginative|counterfactual)$")
    sources: list[str]


class Narratives(BaseModel):
    narratives: list[Narrative]


class Coherence(BaseModel):
    index: int
    #: 1 incoherent or contradicting its records, 5 coherent and faithful to them.
    score: int = Field(ge=1, le=5)


class CoherenceCheck(BaseModel):
    scores: list[Coherence]


IMAGINATION_VERSION = 1
COHERENCE_VERSION = 1


def imagination_messages(records: Sequence[tuple[str, str]], n: int) -> list[Message]:
    return [
        _system("imagination", IMAGINATION_VERSION),
        {
            "role": "user",
            "content": f"Dream {n} short narratives from these records: imaginative ones that recombine "
            "them, and counterfactual ones (what would have happened otherwise). Each cites the ids "
            "of the records it grows from.\n" + _records(records),
        },
    ]


def coherence_messages(records: Sequence[tuple[str, str]], narratives: Sequence[str]) -> list[Message]:
    told = "\n".join(f"({i}) {text}" for i, text in enumerate(narratives))
    return [
        _system("coherence", COHERENCE_VERSION),
        {
            "role": "user",
            "content": "Score each narrative from 1 (incoherent, or contradicting the records) to 5 "
            "(coherent, and faithful to what the records say).\nRecords:\n"
            + _records(records)
            + "\nNarratives:\n"
            + told,
        },
    ]


# -- playbook rewriting as item deltas ------------------------------------------------------------
class Delta(BaseModel):
    op: str = Field(pattern="^(add|edit|remove)$")
    #: The item edited or removed (null for an add).
    item: str | None = None
    section: str = ""
    text: str = ""
    reason: str = Field(min_length=1)
    evidence: list[str]


class Deltas(BaseModel):
    deltas: list[Delta]


PLAYBOOK_VERSION = 1


def playbook_messages(
    items: Sequence[tuple[str, str, str]], evidence: Sequence[tuple[str, str]]
) -> list[Message]:
    """``items``: (id, section, text) of the playbook; ``evidence``: confirmed hypotheses."""
    book = "\n".join(f"<{iid}> [{section}] {text}" for iid, section, text in items) or "(empty)"
    return [
        _system("playbook", PLAYBOOK_VERSION),
        {
            "role": "user",
            "content": "Propose changes to the playbook as item deltas (add, edit or remove), each with "
            "its reason and the ids of the evidence it rests on. Propose only what the evidence "
            "supports.\nPlaybook:\n" + book + "\nEvidence:\n" + _records(evidence),
        },
    ]
