"""Training examples for the weight tier, from what the store trusts.

Invariant: only validated entries and high-importance awake episodes become new material; a staged
hypothesis (dream output not yet confirmed by awake evidence) never trains the weights. Older
important episodes are mixed back in at ``replay_ratio`` (replay against forgetting, DESIGN §7).
Pure: the caller passes the entries, the episodes, the cut-off time and a seeded RNG.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from oneiro.model import Entry, EntryStatus, Episode, Provenance

#: The two formats of the reflection loss (seed 002): next-token on text, question -> answer.
NEXT_TOKEN = "next_token"
QA = "qa"


@dataclass(frozen=True)
class Example:
    """One training example: ``prompt`` is context the loss ignores, ``target`` what is learnt."""

    prompt: str
    target: str
    kind: str
    source: str
    replay: bool = False


@dataclass(frozen=True)
class TrainingSet:
    """New material and replay, kept apart so probes can measure each."""

    new: tuple[Example, ...]
    replay: tuple[Example, ...]

    @property
    def examples(self) -> tuple[Example, ...]:
        return self.new + self.replay

    def __len__(self) -> int:
        return len(self.new) + len(self.replay)


def from_entry(entry: Entry) -> list[Example]:
    """A validated entry: its text as next-token material, and its question/answer if it has one."""
    out = [Example("", entry.text, NEXT_TOKEN, entry.id)]
    question, answer = entry.data.get("question"), entry.data.get("answer")
    if isinstance(question, str) and isinstance(answer, str) and question and answer:
        out.append(Example(question_prompt(question), answer, QA, entry.id))
    return out


def from_episode(episode: Episode, *, replay: bool = False) -> Example:
    speaker = f"{episode.actor}: " if episode.actor else ""
    return Example("", speaker + episode.text, NEXT_TOKEN, episode.id, replay=replay)


def question_prompt(question: str) -> str:
    """The one prompt format QA examples and probes share, so a probe asks as training taught."""
    return f"Q: {question}\nA: "


def build(
    entries: Sequence[Entry],
    episodes: Sequence[Episode],
    *,
    since: float,
    min_importance: float,
    replay_ratio: float,
    rng: random.Random,
) -> TrainingSet:
    """New material: validated entries created at or after ``since`` and important awake episodes
    from then on. Replay: ``replay_ratio`` x len(new) important awake episodes from before."""
    new: list[Example] = []
    for entry in entries:
        if entry.status is EntryStatus.VALIDATED and entry.created_at >= since:
            new.extend(from_entry(entry))
    important = [e for e in episodes if e.provenance is Provenance.AWAKE and e.importance >= min_importance]
    new.extend(from_episode(e) for e in important if e.ts >= since)
    older = sorted((e for e in important if e.ts < since), key=lambda e: e.id)
    wanted = min(len(older), round(replay_ratio * len(new)))
    replay = [from_episode(e, replay=True) for e in rng.sample(older, wanted)] if new else []
    return TrainingSet(tuple(new), tuple(replay))
