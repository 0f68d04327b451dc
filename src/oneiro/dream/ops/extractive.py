"""What every extractive consolidation shares: how an entry that only re-states its sources is
built. Such an entry asserts nothing new, so it enters ``active`` at the extractive confidence
rather than as a hypothesis; it is still dream-made (provenance ``dream``), carries its cycle id and
stays invisible until its cycle returns."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from oneiro.dream.phase import Context
from oneiro.model import Entry, EntryStatus, Episode, Provenance, entry_id

#: What an episode whose ``ts`` is no calendar instant is labelled with, instead of a date.
UNDATED = "undated"


def calendar_time(ts: float) -> datetime | None:
    """``ts`` (seconds, UTC) as a naive UTC datetime; None when it is no instant a calendar can
    name (not finite, before year 1 or after 9999, beyond the platform's time_t). Stored episodes
    may hold any float, and one that cannot be dated must still be consolidated."""
    try:
        return datetime.fromtimestamp(ts, UTC).replace(tzinfo=None)
    except (OverflowError, OSError, ValueError, TypeError):
        return None


def day_label(ts: float) -> str:
    """'8 May 2023', the form people (and questions) use; :data:`UNDATED` when ``ts`` has no date."""
    dt = calendar_time(ts)
    return UNDATED if dt is None else f"{dt.day} {dt:%B %Y}"


def say(ep: Episode) -> str:
    """An episode as one line with its date and speaker: '(8 May 2023) Caroline said, "..."'."""
    who = ep.actor or ep.kind
    return f'({day_label(ep.ts)}) {who} said, "{ep.text}"'


def extractive_entry(
    ctx: Context,
    kind: str,
    text: str,
    sources: Sequence[str],
    *,
    keys: Sequence[str] = (),
    data: dict[str, Any] | None = None,
    valid_from: float | None = None,
) -> Entry:
    payload = data or {}
    return Entry(
        id=entry_id(kind, text, tuple(sources), payload),
        kind=kind,
        text=text,
        sources=tuple(sources),
        provenance=Provenance.DREAM,
        tier=ctx.tier,
        cycle_id=ctx.cycle_id,
        confidence=ctx.config.lifecycle.extractive_confidence,
        status=EntryStatus.ACTIVE,
        keys=tuple(dict.fromkeys(k for k in keys if k)),
        data=payload,
        created_at=ctx.now,
        valid_from=valid_from,
    )
