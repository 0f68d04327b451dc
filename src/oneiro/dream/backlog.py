"""What is left to consolidate: the awake episodes no returned cycle has consolidated.

A cycle records, in its checkpoint, the episode rowid intervals it actually consolidated
(``consolidated``), chunk by chunk; a cycle that ran out of budget records only the chunks it
finished. The backlog is everything outside the union of those intervals over the cycles that have
returned (``completed`` or ``partial``). Hence:

- what a budget-limited cycle did not reach stays in the backlog, and the next cycle takes it;
- reverting any cycle, the latest or an older one, removes its intervals from the union, so its
  episodes are unconsolidated again and the next cycle takes them (the gap);
- dream output never counts: only awake episodes are taken, whatever their rowid.

Checkpoints written before intervals were recorded hold ``from_rowid`` / ``to_rowid`` only: a
completed cycle of that kind counts as having consolidated its whole range.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from oneiro.model import Episode, Provenance
from oneiro.store.cycles import RETURNED_STATUSES, CycleRow
from oneiro.store.protocol import Store

#: A closed interval of episode rowids, ``(first, last)``.
Interval = tuple[int, int]


def merge(intervals: Iterable[Sequence[int]]) -> list[Interval]:
    """Sorted, disjoint, non-adjacent intervals covering exactly the same rowids."""
    out: list[Interval] = []
    for lo, hi in sorted((int(a), int(b)) for a, b in intervals if int(a) <= int(b)):
        if out and lo <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def consolidated_by(cycle: CycleRow) -> list[Interval]:
    """The rowid intervals ``cycle`` consolidated (legacy checkpoints: its whole range)."""
    recorded = cycle.checkpoint.get("consolidated")
    if recorded is not None:
        return merge(recorded)
    lo, hi = int(cycle.checkpoint.get("from_rowid", 0)) + 1, int(cycle.checkpoint.get("to_rowid", 0))
    return [(lo, hi)] if cycle.status == "completed" and lo <= hi else []


def covered(store: Store) -> list[Interval]:
    """Every rowid some returned, unreverted cycle consolidated."""
    return merge(i for c in store.cycles_with_status(*RETURNED_STATUSES) for i in consolidated_by(c))


def gaps(done: Sequence[Interval], upto: int) -> list[Interval]:
    """The rowids in ``[1, upto]`` outside ``done`` (sorted, disjoint)."""
    out: list[Interval] = []
    start = 1
    for lo, hi in done:
        if lo > upto:
            break
        if lo > start:
            out.append((start, lo - 1))
        start = max(start, hi + 1)
    if start <= upto:
        out.append((start, upto))
    return out


def unconsolidated(store: Store, upto: int | None = None) -> list[Interval]:
    """The backlog as rowid intervals (up to ``upto``, by default the newest episode)."""
    return gaps(covered(store), store.episode_max_rowid() if upto is None else upto)


def load(store: Store, intervals: Sequence[Sequence[int]]) -> tuple[list[int], list[Episode]]:
    """The awake episodes inside ``intervals``, in recording order, with their rowids."""
    spans = merge(intervals)
    if not spans:
        return [], []
    rowids: list[int] = []
    episodes: list[Episode] = []
    last = spans[-1][1]
    for rowid, ep in store.episodes_since(spans[0][0] - 1):
        if rowid > last:
            break
        if ep.provenance == Provenance.AWAKE and any(lo <= rowid <= hi for lo, hi in spans):
            rowids.append(rowid)
            episodes.append(ep)
    return rowids, episodes


def signals(store: Store) -> tuple[int, float, float]:
    """(count, importance sum, |residual| sum) of the backlog's awake episodes, for the scheduler:
    each gap's figures are the difference of two "since rowid" sums."""
    count, importance, residual = 0, 0.0, 0.0
    for lo, hi in unconsolidated(store):
        a, b = store.backlog(lo - 1), store.backlog(hi)
        count, importance, residual = count + a[0] - b[0], importance + a[1] - b[1], residual + a[2] - b[2]
    return count, importance, residual
