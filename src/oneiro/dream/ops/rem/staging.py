"""How REM's outputs enter: dream-made hypotheses staged at the hypothesis confidence (0.2).

Invariant: every REM entry is ``provenance=dream``, ``status=staged`` at
``lifecycle.hypothesis_confidence`` (below the 0.3 recall floor until awake evidence lifts it),
rests on real stored ids (``sources``, never empty, never made up) and names a registered evidence
test in ``data["test"]`` so the awake validator can confirm or refute it. Nothing REM makes is
ever evidence: the validator judges awake episodes only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from oneiro.dream.phase import Context, Snapshot
from oneiro.model import Entry, EntryStatus, Provenance, entry_id
from oneiro.store.query import EntryQuery

#: Source ids kept per REM entry: enough to trace it, bounded so one entry never lists a store.
MAX_SOURCES = 20


def staged(
    ctx: Context, kind: str, text: str, sources: Sequence[str], data: dict[str, Any], keys: Sequence[str]
) -> Entry:
    ids = tuple(dict.fromkeys(sources))[:MAX_SOURCES]
    return Entry(
        id=entry_id(kind, text, ids, data),
        kind=kind,
        text=text,
        sources=ids,
        provenance=Provenance.DREAM,
        tier=ctx.tier,
        cycle_id=ctx.cycle_id,
        confidence=ctx.config.lifecycle.hypothesis_confidence,
        status=EntryStatus.STAGED,
        keys=tuple(keys),
        data=data,
        created_at=ctx.now,
    )


def live(snap: Snapshot, kind: str, path: str, value: str) -> bool:
    """A staged or validated ``kind`` entry whose ``data[path]`` is ``value`` already waits for
    awake evidence (so the same hypothesis is not staged twice)."""
    rows = snap.entries_matching(
        EntryQuery(
            kinds=(kind,),
            statuses=(EntryStatus.STAGED, EntryStatus.VALIDATED),
            data_has=((path, value),),
            limit=1,
        )
    )
    return bool(rows)
