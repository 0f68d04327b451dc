"""Use and outcome accounting for recalled entries (the input of memetic selection, seed 004).

Recall only *notes* what it returned: an append to an in-process buffer under a lock, no I/O, so
counting never slows or blocks a recall. The buffer is *settled* into the store later, inside a
write transaction someone already opens (recording episodes, the start of a dream, closing the
memory): each entry's ``uses`` grows by the times recall returned it, and an outcome recorded
after a recall credits the entries that recall returned, ``helpful`` or ``harmful`` by the
outcome's sign.

Who can credit what (docs/threat-model.md):

* a use is counted only for what this process's recall returned: in-process code is trusted, a
  record cannot claim a use;
* each recall is credited at most once, by the first signed outcome recorded after it within
  :data:`CREDIT_WINDOW_SECONDS` of record time (the store's clock, never the writer's ``ts``), so
  for every entry ``helpful + harmful <= uses``: a writer flooding outcomes decides at most the
  sign of credit for recalls the agent really made, never their number;
* ``helpful`` credit from a party the entry rests on (its grounds, through source entries) counts
  for nothing, as confirmations do: an author cannot make their own claim fit; ``harmful``
  credit counts from any party, as refutations do (it can only lower trust);
* shadow episodes and dream output never credit: only awake experience is evidence.

A failed write transaction loses the counts drained into it (a use is undercounted, never
counted twice); a read-only store drops them.
"""

from __future__ import annotations

import math
import threading
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass

from oneiro.model import Entry, Episode, Hit, Provenance
from oneiro.store.protocol import Store

#: An outcome credits the recalls of the hour before it: about one agent task (a choice: long
#: enough to span a tool call and its result, short enough not to credit yesterday's questions).
CREDIT_WINDOW_SECONDS = 3600.0
#: Recalls kept waiting for an outcome; older ones are dropped uncredited (their uses still count).
PENDING_RECALLS = 1000


@dataclass(frozen=True)
class _Recall:
    at: float
    entries: tuple[str, ...]


def outcome_sign(episode: Episode) -> int:
    """+1 / -1 / 0: the episode's ``feedback`` if it has one, else its residual (outcome against
    prediction), else its bare outcome. Non-finite values count as no signal."""
    for value in (episode.feedback, episode.residual, episode.outcome):
        if value is not None and math.isfinite(value):
            return (value > 0) - (value < 0)
    return 0


class UseLog:
    """What recall returned, waiting to be counted into the store (see the module docstring)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._uses: Counter[str] = Counter()
        self._pending: deque[_Recall] = deque(maxlen=PENDING_RECALLS)

    def note(self, hits: Sequence[Hit], now: float) -> None:
        """Called by recall with its hits: O(k), no I/O."""
        ids = tuple(dict.fromkeys(h.item.id for h in hits if isinstance(h.item, Entry)))
        if not ids:
            return
        with self._lock:
            self._uses.update(ids)
            self._pending.append(_Recall(now, ids))

    def settle(self, store: Store, outcomes: Sequence[Episode] = (), now: float = 0.0) -> int:
        """Count the noted uses, and credit the pending recalls with the first signed outcome among
        ``outcomes`` (new awake episodes recorded at ``now``), inside the caller's transaction.
        Returns how many entries' counters changed."""
        signed = [e for e in outcomes if e.provenance == Provenance.AWAKE and outcome_sign(e)]
        with self._lock:
            uses, self._uses = self._uses, Counter()
            credited: list[_Recall] = []
            if signed:
                credited = [r for r in self._pending if now - r.at <= CREDIT_WINDOW_SECONDS]
                self._pending.clear()
        if store.read_only or not (uses or credited):
            return 0
        counts: dict[str, list[int]] = {i: [n, 0, 0] for i, n in uses.items()}
        if credited:
            self._credit(store, signed[0], credited, counts)
        return store.count_entry_uses({i: (c[0], c[1], c[2]) for i, c in counts.items()})

    @staticmethod
    def _credit(
        store: Store, outcome: Episode, recalls: Sequence[_Recall], counts: dict[str, list[int]]
    ) -> None:
        sign = outcome_sign(outcome)
        origin = store.episode_origins([outcome.id]).get(outcome.id)
        for entry_id in dict.fromkeys(i for r in recalls for i in r.entries):
            row = counts.setdefault(entry_id, [0, 0, 0])
            if sign < 0:
                row[2] += 1
            elif origin is None or origin.party not in store.evidence_grounds(entry_id).parties:
                row[1] += 1
