"""Contradiction detection, T0 (seed 004's immune check; DESIGN §7): between entries, and between
an entry and the cycle's newer episodes.

A *claim* is (subject, attribute, value, polarity), read from an item's ``data`` when it states
one (``subject``, ``attribute``, ``value``, optional ``polarity`` false for a negation: a declared
attribute is single-valued), else from its text by one plain pattern: ``<subject> <verb> [not |
no longer | never] <value>``, the verb being the attribute. Two claims of one subject and
attribute contradict when they give the same value opposite polarities, or give different
values where the attribute is single-valued: a declared one, or a quantity, the two values being
one template with different numbers in it (``the timeout is 30 seconds`` against ``the timeout is
45 seconds``, ``the standup is at 9:30`` against ``the standup is at 10:00``; ``Ann is a doctor``
and ``Ann is tall`` do not contradict).

Each contradiction becomes a ``contradiction`` entry staged at the hypothesis confidence, citing
both sides (real ids), which INTEGRATION admits like any dream output and the scheduler counts as
open contradictions. Never destructive: neither side is changed here. The same pair is proposed
once while a contradiction of it is live (its identity is in ``data``).

Cost: claims are read from the entries under selection (used by recall), validated knowledge and
the cycle's own entries, not from every entry the store holds.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from oneiro.dream.phase import Carry, Context, ContradictionFinding, Outcome, Snapshot
from oneiro.dream.writes import Note, Writes
from oneiro.model import VIEW_KINDS, Entry, EntryStatus, Episode, Provenance, Tier, content_hash, entry_id
from oneiro.store.query import EntryQuery

KIND = "contradiction"
#: Statuses of a contradiction still open: an equal one is not proposed again.
LIVE = ("staged", "validated", "active")
#: Kinds whose text is bookkeeping, not a claim.
NOT_CLAIMS = frozenset({KIND, "strategy_mix", "dream_fingerprints", "variant", "recombination"})
#: Contradictions proposed per cycle at most (a flood of them would be noise, not signal).
MAX_PER_CYCLE = 50
_VERBS = r"is|are|was|were|has|have|uses|use|prefers|prefer|likes|like|costs|equals|lives in|works at"
_CLAIM = re.compile(
    rf"^\s*(?P<subject>[\w'’ -]{{1,60}}?)\s+(?P<verb>{_VERBS})\s+(?P<neg>not\s+|no longer\s+|never\s+)?"
    r"(?P<value>[^.;!?\n]{1,80})",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"-?\d+(?:[.,:]\d+)*")
_UPDATE_WORDS = re.compile(r"^(now|currently|actually)\s+", re.IGNORECASE)


@dataclass(frozen=True)
class Claim:
    subject: str
    attribute: str
    value: str
    positive: bool
    declared: bool


def _norm(text: object) -> str:
    return " ".join(str(text).casefold().split())


def claim_of(text: str, data: dict[str, object] | None = None) -> Claim | None:
    """The claim an item states, or None."""
    data = data or {}
    if all(k in data for k in ("subject", "attribute", "value")):
        positive = data.get("polarity", True) not in (False, -1, "negative")
        return Claim(_norm(data["subject"]), _norm(data["attribute"]), _norm(data["value"]), positive, True)
    m = _CLAIM.match(text)
    if m is None:
        return None
    value = _UPDATE_WORDS.sub("", _norm(m.group("value")))
    verb = _norm(m.group("verb"))
    return Claim(_norm(m.group("subject")), verb, value, m.group("neg") is None, False) if value else None


def contradicts(a: Claim, b: Claim) -> bool:
    if (a.subject, a.attribute) != (b.subject, b.attribute):
        return False
    if a.value == b.value:
        return a.positive != b.positive
    template = _NUMBER.sub("#", a.value)
    single = (a.declared and b.declared) or ("#" in template and template == _NUMBER.sub("#", b.value))
    return a.positive and b.positive and single


def identity(a: str, b: str) -> str:
    return content_hash([KIND, *sorted((a, b))])


class ContradictionDetection:
    name = "contradiction_detection"
    tier = Tier.T0

    def run(self, snap: Snapshot, ctx: Context, carry: Carry) -> Outcome:
        pool = _pool(snap, ctx)
        claims = [(e, c) for e in pool if (c := claim_of(e.text, e.data)) is not None]
        by_key: dict[tuple[str, str], list[tuple[Entry, Claim]]] = {}
        for e, c in claims:
            by_key.setdefault((c.subject, c.attribute), []).append((e, c))
        pairs: list[tuple[Entry, Entry | Episode, Claim, Claim]] = []
        for group in by_key.values():
            for i, (a, ca) in enumerate(group):
                pairs.extend((a, b, ca, cb) for b, cb in group[i + 1 :] if contradicts(ca, cb))
        for ep in _awake(snap.new_episodes):
            if (ce := claim_of(ep.text, ep.data)) is None:
                continue
            pairs.extend(
                (a, ep, ca, ce) for a, ca in by_key.get((ce.subject, ce.attribute), []) if contradicts(ca, ce)
            )
        if not pairs:
            why = "no claims to compare" if not claims else "no contradiction among the claims"
            return Outcome(Writes(notes=[Note("evolution.contradictions", {"found": 0, "why": why})]))
        return self._propose(snap, ctx, pairs[:MAX_PER_CYCLE], len(claims))

    def _propose(
        self,
        snap: Snapshot,
        ctx: Context,
        pairs: Sequence[tuple[Entry, Entry | Episode, Claim, Claim]],
        n: int,
    ) -> Outcome:
        writes, findings, seen = Writes(), list[ContradictionFinding](), set[str]()
        for a, b, ca, cb in pairs:
            key = identity(a.id, b.id)
            validated = isinstance(b, Entry) and b.status == EntryStatus.VALIDATED
            findings.append(
                ContradictionFinding(
                    entry=a.id,
                    other=b.id,
                    subject=ca.subject,
                    attribute=ca.attribute,
                    validated_other=validated,
                )
            )
            if isinstance(b, Entry) and a.status == EntryStatus.VALIDATED:
                findings.append(
                    ContradictionFinding(
                        entry=b.id,
                        other=a.id,
                        subject=ca.subject,
                        attribute=ca.attribute,
                        validated_other=True,
                    )
                )
            if key in seen or snap.entries_matching(
                EntryQuery(kinds=(KIND,), statuses=LIVE, data_has=(("identity", key),), limit=1)
            ):
                continue
            seen.add(key)
            writes.entries.append(_entry(ctx, a, b, ca, cb, key))
        note = {"claims": n, "found": len(pairs), "proposed": len(writes.entries)}
        writes.notes.append(Note("evolution.contradictions", note))
        return Outcome(
            writes, carry=Carry(contradictions=findings), did={"contradictions": len(writes.entries)}
        )


def _pool(snap: Snapshot, ctx: Context) -> list[Entry]:
    """Entries whose claims are compared: used by recall, validated, or made by this cycle."""
    queries = (
        EntryQuery(statuses=LIVE, min_uses=1, returned=True),
        EntryQuery(statuses=(EntryStatus.VALIDATED.value,), returned=True),
        EntryQuery(cycle=ctx.cycle_id, statuses=LIVE),
    )
    found: dict[str, Entry] = {}
    for q in queries:
        found.update((e.id, e) for e in snap.entries_matching(q))
    return [e for e in found.values() if e.kind not in NOT_CLAIMS and e.kind not in VIEW_KINDS]


def _awake(episodes: Iterable[Episode]) -> list[Episode]:
    return [e for e in episodes if e.provenance == Provenance.AWAKE]


def _entry(ctx: Context, a: Entry, b: Entry | Episode, ca: Claim, cb: Claim, key: str) -> Entry:
    def said(c: Claim) -> str:
        return f"{'' if c.positive else 'not '}{c.value}"

    text = f'Contradiction about {ca.subject} ({ca.attribute}): "{said(ca)}" against "{said(cb)}"'
    data = {
        "identity": key,
        "subject": ca.subject,
        "attribute": ca.attribute,
        "between": [a.id, b.id],
        "claims": [said(ca), said(cb)],
        "with_episode": isinstance(b, Episode),
    }
    sources = (a.id, b.id)
    return Entry(
        id=entry_id(KIND, text, sources, {"identity": key}),
        kind=KIND,
        text=text,
        sources=sources,
        provenance=Provenance.DREAM,
        cycle_id=ctx.cycle_id,
        confidence=ctx.config.lifecycle.hypothesis_confidence,
        data=data,
        created_at=ctx.now,
    )
