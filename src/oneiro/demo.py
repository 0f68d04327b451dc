"""The demo: a small, realistic day in an agent's life, recorded, recalled (and, as the dream
phases land, dreamed over). Used by ``oneiro demo`` and by the tests of the README's first command.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from oneiro.memory import Memory

#: A support agent's conversations with one user over three days, and its own release decisions
#: with what it predicted and what happened.
CONVERSATION: tuple[tuple[str, str, str], ...] = (
    (
        "2026-03-02T09:14:00",
        "maya",
        "Hi! I'm moving the team's nightly build from Jenkins to GitHub Actions this week.",
    ),
    ("2026-03-02T09:15:00", "agent", "Good plan. Do you want to keep the same schedule, 02:00 UTC?"),
    (
        "2026-03-02T09:16:00",
        "maya",
        "Yes, 02:00 UTC, and the artefacts must still land in the S3 bucket called nightly-builds.",
    ),
    (
        "2026-03-02T09:18:00",
        "maya",
        "By the way, my manager Tomás wants a summary of build times every Friday.",
    ),
    ("2026-03-02T09:20:00", "agent", "Noted: a weekly build-time summary for Tomás, sent on Fridays."),
    (
        "2026-03-03T14:02:00",
        "maya",
        "The first Actions run failed yesterday: the runner ran out of disk while caching node_modules.",
    ),
    (
        "2026-03-03T14:04:00",
        "agent",
        "Let's cache only the npm download cache, not node_modules, and prune old caches.",
    ),
    (
        "2026-03-03T14:30:00",
        "maya",
        "That fixed it. The build now takes 18 minutes instead of 31 on Jenkins.",
    ),
    (
        "2026-03-04T08:45:00",
        "maya",
        "I'm off next Monday for my sister's wedding in Porto, so Lena covers the builds.",
    ),
    ("2026-03-04T08:47:00", "agent", "Understood. Should alerts go to Lena while you are away?"),
    ("2026-03-04T08:48:00", "maya", "Yes, send failures to Lena on Monday, and back to me from Tuesday."),
    (
        "2026-03-04T16:10:00",
        "maya",
        "Correction: the bucket is nightly-builds-eu now, we moved regions last month.",
    ),
)

#: (time, action, predicted success, observed success, note)
DECISIONS: tuple[tuple[str, str, float, float, str], ...] = (
    ("2026-03-02T18:00:00", "release on Friday evening", 0.9, 0.3, "rollback needed, on-call paged at 23:10"),
    ("2026-03-03T11:00:00", "release on Tuesday morning", 0.8, 0.95, "smooth, no alerts"),
    (
        "2026-03-03T19:00:00",
        "release after a schema migration without a dry run",
        0.85,
        0.2,
        "migration locked the orders table for 9 minutes",
    ),
    (
        "2026-03-04T10:00:00",
        "release on Wednesday morning with a canary",
        0.8,
        0.9,
        "canary caught one bad config before full rollout",
    ),
    ("2026-03-04T20:00:00", "release on Thursday evening", 0.85, 0.4, "latency alarm, partial rollback"),
)

QUESTIONS = (
    "Which S3 bucket do the nightly artefacts go to?",
    "Who covers the builds while Maya is away?",
    "What went wrong with evening releases?",
)


@dataclass
class DemoResult:
    episodes: int
    answers: dict[str, list[str]]


def episodes() -> list[dict[str, Any]]:
    """The demo's episodes as records for ``Memory.record_many``."""
    out: list[dict[str, Any]] = []
    for ts, actor, text in CONVERSATION:
        out.append({"ts": ts, "session": f"chat-{ts[:10]}", "actor": actor, "kind": "message", "text": text})
    for ts, action, predicted, observed, note in DECISIONS:
        out.append(
            {
                "ts": ts,
                "session": "releases",
                "actor": "agent",
                "kind": "decision",
                "text": f"Decided to {action}; outcome: {note}.",
                "prediction": predicted,
                "outcome": observed,
                "data": {"action": action},
                "affect": {
                    "pleasure": observed - predicted,
                    "arousal": abs(observed - predicted),
                    "dominance": 0.0,
                },
            }
        )
    return out


def run(memory: Memory, say: Callable[[str], None] = print) -> DemoResult:
    """Awake: record the day, then recall a few things from it."""
    recorded = memory.record_many(episodes())
    say(
        f"awake: recorded {len(recorded)} episodes "
        f"({sum(1 for e in recorded if e.kind == 'decision')} decisions with predictions and outcomes)"
    )
    answers: dict[str, list[str]] = {}
    for question in QUESTIONS:
        hits = memory.recall(question, k=2)
        answers[question] = [h.item.text for h in hits]
        say(f"recall: {question}")
        for h in hits:
            say(f"   {h.score:.3f}  {h.item.text}")
    return DemoResult(len(recorded), answers)
