"""The demo: a small, realistic day in an agent's life, recorded, recalled (and, as the dream
phases land, dreamed over). Used by ``oneiro demo`` and by the tests of the README's first command.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rich.markup import escape

from oneiro.capture import parse_ts
from oneiro.memory import Memory
from oneiro.model import EntryStatus
from oneiro.store.query import DERIVED, EntryQuery

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

#: (time, action, context key, predicted success, observed success, note)
DECISIONS: tuple[tuple[str, str, str, float, float, str], ...] = (
    (
        "2026-03-02T18:00:00",
        "release on Monday evening",
        "evening release",
        0.9,
        0.3,
        "rollback needed, on-call paged at 23:10",
    ),
    ("2026-03-03T11:00:00", "release on Tuesday morning", "morning release", 0.8, 0.85, "smooth, no alerts"),
    (
        "2026-03-03T19:00:00",
        "release after a schema migration without a dry run",
        "evening release",
        0.85,
        0.2,
        "migration locked the orders table for 9 minutes",
    ),
    (
        "2026-03-04T10:00:00",
        "release on Wednesday morning with a canary",
        "morning release",
        0.8,
        0.9,
        "canary caught one bad config before full rollout",
    ),
    (
        "2026-03-04T20:00:00",
        "release on Wednesday evening",
        "evening release",
        0.85,
        0.4,
        "latency alarm, partial rollback",
    ),
    (
        "2026-03-05T09:30:00",
        "release on Thursday morning",
        "morning release",
        0.8,
        0.75,
        "one slow query, fixed in place",
    ),
    (
        "2026-03-05T19:30:00",
        "release on Thursday evening",
        "evening release",
        0.85,
        0.35,
        "error budget burned in an hour",
    ),
    (
        "2026-03-06T18:30:00",
        "release on Friday evening",
        "evening release",
        0.9,
        0.3,
        "rollback, weekend on-call paged twice",
    ),
    ("2026-03-06T10:30:00", "release on Friday morning", "morning release", 0.8, 0.8, "smooth"),
)

#: What happens after waking: more evening releases, on other days, that go as badly.
LATER_DECISIONS: tuple[tuple[str, str, str, float, float, str], ...] = (
    (
        "2026-03-09T20:00:00",
        "release on Monday evening",
        "evening release",
        0.85,
        0.3,
        "error spike, rolled back",
    ),
    (
        "2026-03-10T19:00:00",
        "release on Tuesday evening",
        "evening release",
        0.85,
        0.45,
        "degraded checkout for 20 minutes",
    ),
    (
        "2026-03-11T19:30:00",
        "release on Wednesday evening",
        "evening release",
        0.85,
        0.35,
        "rollback, pager at 22:40",
    ),
)

QUESTIONS = (
    "Which S3 bucket do the nightly artefacts go to?",
    "Who covers the builds while Maya is away?",
    "What went wrong with evening releases?",
)


class ScenarioClock:
    """The demo's own time: its story happens in March 2026, so the cycle and validation must see
    that time, not the wall clock (a hypothesis only counts awake evidence recorded after it)."""

    def __init__(self, start: str = "2026-03-06T23:00:00") -> None:
        self.now = parse_ts(start)

    def __call__(self) -> float:
        return self.now

    def set(self, iso: str) -> None:
        self.now = max(self.now, parse_ts(iso))


@dataclass
class DemoResult:
    episodes: int
    answers: dict[str, list[str]]
    cycle_id: str = ""
    entries: int = 0
    validated: list[str] = field(default_factory=list)


def _decision(ts: str, action: str, key: str, predicted: float, observed: float, note: str) -> dict[str, Any]:
    return {
        "ts": ts,
        "session": f"releases-{ts[:10]}",
        "actor": "agent",
        "kind": "decision",
        "text": f"Decided to {action}; outcome: {note}.",
        "prediction": predicted,
        "outcome": observed,
        "context": {"key": key},
        "data": {"action": action},
        "affect": {"pleasure": observed - predicted, "arousal": abs(observed - predicted), "dominance": 0.0},
    }


def episodes() -> list[dict[str, Any]]:
    """The demo's awake day as records for ``Memory.record_many``."""
    out: list[dict[str, Any]] = [
        {"ts": ts, "session": f"chat-{ts[:10]}", "actor": actor, "kind": "message", "text": text}
        for ts, actor, text in CONVERSATION
    ]
    out.extend(_decision(*d) for d in DECISIONS)
    return out


def run(memory: Memory, say: Callable[[str], None] = print, clock: ScenarioClock | None = None) -> DemoResult:
    """Awake -> dream -> wake: record a day, recall from it, dream over it, read the waking brief,
    then let later experience confirm (or not) what the dream proposed. With the scenario's
    ``clock`` (the one ``memory`` was opened with), time moves as the story does."""
    recorded = memory.record_many(episodes())
    say(
        f"[bold]awake[/bold]: recorded {len(recorded)} episodes "
        f"({sum(1 for e in recorded if e.kind == 'decision')} decisions with predictions and outcomes)"
    )
    answers = _ask(memory, say)
    say("[bold]dream[/bold]: the agent is idle; oneiro dreams (effects gated, writes staged)")
    report = memory.dream(reason="demo")
    for phase in report.phases:
        made = {k: v for k, v in phase.writes.items() if v and "." in k}
        say(f"   {phase.phase.upper():<12} {', '.join(phase.operations) or '-':<60} {made or phase.note}")
    say(f"journal of {report.cycle_id} (hash chain verified: {memory.verify_journal()} records)")
    for rec in memory.journal(report.cycle_id):
        say(f"   #{rec.seq:<3} {rec.kind:<16} {rec.phase or ''}")
    say("[bold]wake[/bold]: the waking brief")
    if report.brief:
        for line in str(report.brief.get("markdown", "")).splitlines():
            say("   " + escape(line))
    answers.update(_ask(memory, say, QUESTIONS[2:]))
    later = []
    release = _release_pipeline(memory)
    for d in LATER_DECISIONS:
        if clock is not None:
            clock.set(d[0])
        observed = {**_decision(*d), "dispatch": memory.dispatch(release, d[1]).seq}
        later.extend(memory.record_many([observed]))
    say(
        f"awake again: {len(later)} more evening releases on other days; validation judges the "
        "dream's hypotheses against them"
    )
    validated = [e.text for e in memory.store.entries_matching(EntryQuery(statuses=(EntryStatus.VALIDATED,)))]
    judged = (EntryStatus.STAGED, EntryStatus.VALIDATED, EntryStatus.REFUTED)
    for entry in memory.store.entries_matching(
        EntryQuery(provenance=DERIVED, cycle=report.cycle_id, statuses=judged)
    ):
        say(f"   {entry.status:<9} {entry.confidence:.2f}  {escape(entry.text[:110])}")
    _second_night(memory, say, clock)
    return DemoResult(len(recorded), answers, report.cycle_id, report.entries_written(), validated)


def _release_pipeline(memory: Memory) -> str:
    """Later releases go out through an effectful pipeline, and each outcome is recorded as the
    observation of that dispatch: evidence the store vouches for. The agent's own messages could
    not confirm a correction drawn from its own earlier decisions."""
    name = "demo.release"
    if name not in memory.gate.pipelines():
        memory.pipeline(name, effect="effectful")(_release)
    return name


def _release(action: str) -> str:
    return f"done: {action}"


def _second_night(memory: Memory, say: Callable[[str], None], clock: ScenarioClock | None) -> None:
    """Validated knowledge may change the playbook, but only as a proposed revision that a person
    (or, under the auto policy, validated evidence) approves."""
    if clock is not None:
        clock.set("2026-03-11T23:00:00")
    say("[bold]dream again[/bold]: validated knowledge becomes a proposed playbook revision")
    memory.dream(reason="demo, second night")
    for revision in memory.playbook.revisions():
        if revision.status != "proposed":
            continue
        say(f"   proposed {revision.id}: {escape(revision.text)}")
        memory.playbook.approve(revision.id, by="demo user")
        say("   approved by a person (probes passed); PLAYBOOK.md is now:")
        for line in memory.playbook.render().splitlines():
            say("      " + escape(line))


def _ask(
    memory: Memory, say: Callable[[str], None], questions: tuple[str, ...] = QUESTIONS
) -> dict[str, list[str]]:
    answers: dict[str, list[str]] = {}
    for question in questions:
        hits = memory.recall(question, k=2)
        answers[question] = [h.item.text for h in hits]
        say(f"recall: {question}")
        for h in hits:
            tag = f" [dream-made {h.item.kind}]" if h.is_entry else ""
            say(f"   {h.score:.3f}  {escape(h.item.text[:120])}{tag}")
    return answers
