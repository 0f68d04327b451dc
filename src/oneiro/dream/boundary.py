"""The operation boundary: one bad stored value costs one episode, never the cycle.

Episodes are immutable and old stores hold whatever earlier versions accepted (a ``ts`` of 1e300,
a millisecond epoch, year 9999, numbers at the edge of a float), so an operation that fails on one
episode would otherwise fail the same way in every later cycle, forever. The boundary runs an
operation and checks what it proposes; when either raises, it finds the episode responsible, leaves
it out of that operation, and runs the operation again over the rest:

- *run*: any ``Exception`` from ``op.run`` (a wake-up or Ctrl-C is not one and passes through);
- *check*: proposed writes and carry must be plain, finite JSON (a checkpoint holds the carry, the
  journal hashes payloads, and SQLite's JSON functions refuse ``NaN`` or ``Infinity`` in a stored
  row, which would break every later query over it);
- *culprit*: the shortest failing prefix of the new episodes, by binary search over its length
  (O(log n) re-runs); its last episode is the one that makes the operation fail. When even the
  empty prefix fails, no episode is responsible: that is a defect of the operation, and it raises.

Each skipped episode becomes a journal record (kind ``episode_skipped``) naming the episode, the
operation and the error class. Re-runs start from the same RNG state, so an operation sees the
draws it would have seen had the bad episode never been there, and a resumed cycle repeats them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from oneiro.dream.phase import Carry, Context, Operation, Outcome, Snapshot
from oneiro.dream.writes import Note, Writes
from oneiro.model import Episode

#: Characters of an error message kept in the journal (the class is always kept in full).
MESSAGE_LIMIT = 200

SnapshotFor = Callable[[Sequence[Episode]], Snapshot]


class UnfitWrite(ValueError):
    """An operation proposed a value the store cannot keep (not finite, or not JSON)."""


@dataclass(frozen=True)
class Skipped:
    """One episode an operation could not process, and why."""

    episode: str
    operation: str
    error: str
    message: str

    def note(self) -> Note:
        payload = {
            "episode": self.episode,
            "operation": self.operation,
            "error": self.error,
            "message": self.message,
        }
        return Note("episode_skipped", payload)


def run_guarded(
    op: Operation, snapshot_for: SnapshotFor, episodes: Sequence[Episode], ctx: Context, carry: Carry
) -> tuple[Outcome, list[Skipped]]:
    """Run ``op`` over ``episodes`` (the snapshot's new episodes), leaving out each episode it
    cannot process. The outcome carries an ``episode_skipped`` note per episode left out."""
    state = ctx.rng.bit_generator.state
    remaining = list(episodes)
    skipped: list[Skipped] = []
    while True:
        ctx.rng.bit_generator.state = state
        try:
            outcome = _attempt(op, snapshot_for(remaining), ctx, carry)
        except Exception as exc:
            culprit, error = _culprit(op, snapshot_for, remaining, ctx, carry, state, exc)
            skipped.append(Skipped(culprit.id, op.name, type(error).__name__, str(error)[:MESSAGE_LIMIT]))
            remaining = [e for e in remaining if e.id != culprit.id]
            continue
        outcome.writes.notes.extend(s.note() for s in skipped)
        return outcome, skipped


def _attempt(op: Operation, snap: Snapshot, ctx: Context, carry: Carry) -> Outcome:
    outcome = op.run(snap, ctx, carry)
    check_outcome(outcome)
    return outcome


def _culprit(
    op: Operation,
    snapshot_for: SnapshotFor,
    episodes: Sequence[Episode],
    ctx: Context,
    carry: Carry,
    state: Mapping[str, Any],
    first: Exception,
) -> tuple[Episode, Exception]:
    """The last episode of the shortest failing prefix of ``episodes``, and its error."""

    def fails(n: int) -> Exception | None:
        ctx.rng.bit_generator.state = state
        try:
            _attempt(op, snapshot_for(episodes[:n]), ctx, carry)
        except Exception as exc:
            return exc
        return None

    if not episodes or fails(0) is not None:
        raise first
    lo, hi, error = 0, len(episodes), first  # prefix lo passes, prefix hi fails
    while hi - lo > 1:
        mid = (lo + hi) // 2
        found = fails(mid)
        if found is None:
            lo = mid
        else:
            hi, error = mid, found
    return episodes[hi - 1], error


def check_outcome(outcome: Outcome) -> None:
    """Raise :class:`UnfitWrite` unless every proposed value can be stored and journaled."""
    _check_writes(outcome.writes)
    if not isinstance(outcome.carry, Carry):
        raise UnfitWrite(f"carry must be a Carry, got {type(outcome.carry).__name__}")
    _json(outcome.carry.to_json(), "carry")
    for name in ("did", "left"):
        for key, value in getattr(outcome, name).items():
            if isinstance(value, bool) or not isinstance(value, int):
                raise UnfitWrite(f"{name}[{key!r}] must be an integer count, got {value!r}")


def _check_writes(writes: Writes) -> None:
    for entry in writes.entries:
        if not isinstance(entry.text, str) or not all(isinstance(k, str) for k in entry.keys):
            raise UnfitWrite(f"entry {entry.id}: text and keys must be strings")
        for name in ("confidence", "valid_from", "valid_to", "created_at"):
            _finite(getattr(entry, name), f"entry {entry.id}.{name}", optional=name != "confidence")
        _json(entry.data, f"entry {entry.id}.data")
    for update in writes.updates:
        _json(update.changes, f"update of {update.entry_id}")
    for prediction in writes.predictions:
        _finite(prediction.due_at, f"prediction {prediction.id}.due_at")
        _json(prediction.data, f"prediction {prediction.id}.data")
    for revision in writes.revisions:
        _json(revision.params, f"revision of {revision.item_id}.params")
    for note in writes.notes:
        _json(note.payload, f"note {note.kind}")


def _finite(value: Any, where: str, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise UnfitWrite(f"{where} must be a finite number, got {value!r}")


def _json(value: Any, where: str) -> None:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError, OverflowError, RecursionError) as exc:
        raise UnfitWrite(f"{where} is not finite JSON: {exc}") from exc
