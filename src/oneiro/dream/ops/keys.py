"""Key expansion: each new episode gets an entry whose index terms say what a later question may
ask by: its speaker and date, the calendar dates its relative expressions mean, its named entities
and its most distinctive keywords (TF-IDF within its session).

Named entities are found by capitalisation (runs of capitalised words not opening a sentence, plus
known speakers): no model, and good enough for names of people, places and products in chat text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from oneiro.dream.ops.extractive import calendar_time, day_label, extractive_entry
from oneiro.dream.ops.perspective import third_person
from oneiro.dream.ops.temporal import normalise
from oneiro.dream.phase import Carry, Context, Outcome, Snapshot
from oneiro.dream.writes import Writes
from oneiro.model import Episode, Tier

#: Keywords kept per episode.
KEYWORDS_PER_EPISODE = 6
_CAPITALISED = re.compile(r"(?<![.!?]\s)(?<!^)\b([A-Z][a-zA-Z'’\-]+(?:\s+[A-Z][a-zA-Z'’\-]+)*)")
_SENTENCE_START = re.compile(r"(?:^|[.!?]\s+)([A-Z][a-zA-Z'’\-]+)")
_COMMON = frozenset(
    {"I", "I'm", "I've", "I'd", "I'll", "OK", "Oh", "Hey", "Hi", "Wow", "Yes", "No", "Thanks"}
)


def entities(text: str, known: Sequence[str] = ()) -> list[str]:
    """Capitalised names in ``text`` (not sentence openers unless known), known names first."""
    found = [k for k in known if k and re.search(rf"\b{re.escape(k)}\b", text)]
    starts = {m.group(1) for m in _SENTENCE_START.finditer(text)}
    for match in _CAPITALISED.finditer(text):
        name = match.group(1)
        if name in _COMMON or (name in starts and name not in known):
            continue
        found.append(name)
    return list(dict.fromkeys(found))


def keywords(texts: Sequence[str], k: int) -> list[list[str]]:
    """The ``k`` highest TF-IDF words of each text, relative to the others."""
    if not texts:
        return []
    try:
        vec = TfidfVectorizer(
            stop_words="english", token_pattern=r"(?u)\b[a-zA-Z][a-zA-Z]+\b", sublinear_tf=True
        )
        matrix = vec.fit_transform(texts)
    except ValueError:  # every text is stop words only
        return [[] for _ in texts]
    vocab = np.array(vec.get_feature_names_out())
    out: list[list[str]] = []
    for row in range(matrix.shape[0]):
        data, cols = matrix[row].data, matrix[row].indices
        top = cols[np.argsort(-data)[:k]]
        out.append([str(w) for w in vocab[top]])
    return out


def addressees(episodes: Sequence[Episode]) -> dict[str, str]:
    """For each episode of a two-party session, the other participant (whom "you" means)."""
    by_session: dict[str, set[str]] = {}
    for ep in episodes:
        if ep.session and ep.actor:
            by_session.setdefault(ep.session, set()).add(ep.actor)
    out: dict[str, str] = {}
    for ep in episodes:
        people = by_session.get(ep.session, set())
        if len(people) == 2 and ep.actor in people:
            out[ep.id] = next(p for p in people if p != ep.actor)
    return out


class KeyExpansion:
    """NREM consolidation: one ``keys`` entry per new episode, its text the turn restated in the
    third person (see :mod:`oneiro.dream.ops.perspective`) with its date and the calendar dates
    its relative expressions mean."""

    name = "keys"
    tier = Tier.T0

    def run(self, snap: Snapshot, ctx: Context, carry: Carry) -> Outcome:
        new = [e for e in snap.new_episodes if e.text.strip()]
        writes = Writes()
        speakers = sorted({e.actor for e in new if e.actor})
        to_whom = addressees(new)
        kw = keywords([e.text for e in new], KEYWORDS_PER_EPISODE)
        dated = 0
        for i, ep in enumerate(new):
            if ctx.budget.exhausted():
                made = {e.sources[0]: e.id for e in writes.entries}
                return Outcome(
                    writes,
                    carry=Carry(keys_entries=made),
                    did={"episodes": i, "dated": dated},
                    left={"episodes": len(new) - i},
                )
            writes.entries.append(self._entry(ctx, ep, speakers, kw[i], to_whom.get(ep.id)))
            dated += 1 if writes.entries[-1].data.get("dates") else 0
        made = {e.sources[0]: e.id for e in writes.entries}
        return Outcome(writes, carry=Carry(keys_entries=made), did={"episodes": len(new), "dated": dated})

    def _entry(
        self, ctx: Context, ep: Episode, speakers: Sequence[str], kw: Sequence[str], addressee: str | None
    ) -> Any:
        mentions = normalise(ep.text, ep.ts)
        resolved = "".join(f" [{m.expression} = {day_label_iso(m.date)}]" for m in mentions)
        names = entities(ep.text, speakers)
        date_words = [w for m in mentions for w in m.words]
        dated = calendar_time(ep.ts) is not None
        keys = [ep.actor, addressee or "", day_label(ep.ts) if dated else "", *names, *kw, *date_words]
        data = {
            "dates": [
                {"expression": m.expression, "date": m.date, "granularity": m.granularity} for m in mentions
            ],
            "entities": names,
        }
        who = ep.actor or ep.kind
        text = f"({day_label(ep.ts)}) {who}: {third_person(ep.text, ep.actor, addressee)}{resolved}"
        return extractive_entry(ctx, "keys", text, (ep.id,), keys=keys, data=data, valid_from=ep.ts)


def day_label_iso(iso: str) -> str:
    year, month, day = (int(p) for p in iso.split("-"))
    return f"{day} {datetime(year, month, day):%B %Y}"
