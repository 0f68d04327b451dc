"""Perspective: a turn re-stated in the third person, with its speaker and addressee named.

"I lost my job" said by Gina to Jon is, to anyone asking later, "Gina lost Gina's job"; the
question will be "What happened to Gina's job?". Replacing first-person pronouns by the speaker
and second-person ones by the addressee (the other participant of a two-party session) lets both
lexical and dense recall match questions asked about people. Deterministic, and it asserts
nothing the turn did not say. Group and ambiguous pronouns ("we", "they") are left alone.
"""

from __future__ import annotations

import re

_FIRST = (
    (r"\bI'm\b|\bI’m\b|\bI am\b", "{s} is"),
    (r"\bI've\b|\bI’ve\b", "{s} has"),
    (r"\bI'd\b|\bI’d\b", "{s} would"),
    (r"\bI'll\b|\bI’ll\b", "{s} will"),
    (r"\bI\b", "{s}"),
    (r"\b[Mm]yself\b", "{s}"),
    (r"\b[Mm]y\b", "{s}'s"),
    (r"\b[Mm]ine\b", "{s}'s"),
    (r"\bme\b", "{s}"),
)
_SECOND = (
    (r"\b[Yy]ou're\b|\b[Yy]ou’re\b|\b[Yy]ou are\b", "{a} is"),
    (r"\b[Yy]ou've\b|\b[Yy]ou’ve\b", "{a} has"),
    (r"\b[Yy]ou'll\b|\b[Yy]ou’ll\b", "{a} will"),
    (r"\b[Yy]ourself\b", "{a}"),
    (r"\b[Yy]our\b", "{a}'s"),
    (r"\b[Yy]ours\b", "{a}'s"),
    (r"\b[Yy]ou\b", "{a}"),
)
_COMPILED_FIRST = tuple((re.compile(p), r) for p, r in _FIRST)
_COMPILED_SECOND = tuple((re.compile(p), r) for p, r in _SECOND)


def third_person(text: str, speaker: str, addressee: str | None = None) -> str:
    """``text`` with first-person pronouns replaced by ``speaker`` and, when known, second-person
    ones by ``addressee``."""
    if not speaker:
        return text
    out = text
    for pattern, repl in _COMPILED_FIRST:
        out = pattern.sub(repl.format(s=speaker), out)
    if addressee:
        for pattern, repl in _COMPILED_SECOND:
            out = pattern.sub(repl.format(a=addressee), out)
    return out
