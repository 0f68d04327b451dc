"""Knowledge shared between related agents: only what one agent validated, and the receiver
must confirm it again from its own awake evidence.

A shared entry enters the receiving store as a *new hypothesis*: staged, at
:data:`SHARED_CONFIDENCE` (below a dream's own 0.2: shared knowledge enters at lower weight), its
``data.origin`` naming the agent, entry and confidence it came from. Its sources are the
sender's entry id and that entry's own sources: real ids, in the sender's store (none of them is
an episode of the receiver, so none can count as the receiver's evidence). Its id is derived
from its kind, text and sources, so sharing the same entry twice stages it once.

What is never shared: anything not validated by the sender, and anything the sender itself
received (an entry with an ``origin``): agents do not echo one another's knowledge back and
forth until it looks confirmed; only the receiver's own evidence can validate it there.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from oneiro.model import Entry, EntryStatus, Provenance, entry_id
from oneiro.store.protocol import Store
from oneiro.store.query import EntryQuery
from oneiro.store.vectors import Matrix

#: The confidence a shared entry enters with: half a dream's staged 0.2 (DESIGN §4), because the
#: receiver has seen none of the evidence behind it.
SHARED_CONFIDENCE = 0.1
ORIGIN_KEY = "origin"


@dataclass(frozen=True)
class Shared:
    sender: str
    receiver: str
    offered: int
    staged: int


def shareable(store: Store) -> list[Entry]:
    """The sender's validated entries that it did not receive from another agent."""
    validated = store.entries_matching(EntryQuery(statuses=(EntryStatus.VALIDATED,), returned=True))
    return [e for e in validated if ORIGIN_KEY not in e.data and e.provenance != Provenance.AWAKE]


def received(entry: Entry, sender: str, now: float) -> Entry:
    """The hypothesis ``entry`` becomes in a receiving store (see the module docstring)."""
    sources = (entry.id, *entry.sources)
    origin = {"agent": sender, "entry": entry.id, "confidence": entry.confidence}
    data = {k: v for k, v in entry.data.items() if k == "test"}
    return Entry(
        id=entry_id(entry.kind, entry.text, sources),
        kind=entry.kind,
        text=entry.text,
        sources=sources,
        provenance=Provenance.DREAM,
        confidence=SHARED_CONFIDENCE,
        status=EntryStatus.STAGED,
        keys=entry.keys,
        data={**data, ORIGIN_KEY: origin},
        created_at=now,
    )


def share(
    sender: str,
    source: Store,
    receiver: str,
    target: Store,
    now: float,
    model: str,
    embed: Callable[[list[str]], Matrix] | None = None,
) -> Shared:
    """Stage the sender's shareable entries in the receiver, embedded with the receiver's own
    embedder (``embed``, named ``model``) when given; returns how many were new there."""
    offered = [received(e, sender, now) for e in shareable(source)]
    if not offered:
        return Shared(sender, receiver, 0, 0)
    matrix = None if embed is None else embed([e.text for e in offered])
    fresh = target.add_entries(offered, matrix, model)
    return Shared(sender, receiver, len(offered), sum(fresh))


def share_within(groups: Sequence[Sequence[str]]) -> list[tuple[str, str]]:
    """Every (sender, receiver) pair of agents that share a group, in a stable order."""
    pairs: dict[tuple[str, str], None] = {}
    for group in groups:
        for sender in group:
            for receiver in group:
                if sender != receiver:
                    pairs[(sender, receiver)] = None
    return list(pairs)
