"""Forgetting: remove episodes and everything that carries what they said.

Users of memory systems report two failures of delete: it wipes what belongs to someone else, or
the deleted text comes back in search. The rule here avoids both:

* what goes is exactly the episodes selected (by id, actor or session) and what was *derived* from
  them: an entry whose sources are all forgotten goes; an entry with other sources keeps them
  and is judged again: it goes too when its text, keys or data hold a word that only forgotten
  material supplied (a summary quoting a forgotten turn), otherwise it loses the forgotten
  sources and the evidence they gave, and its lifecycle is recomputed from what remains;
* an entry that quotes a forgotten episode verbatim without citing it (a context window holds
  its neighbours' turns) is judged the same way;
* this runs to a fixed point, since an entry may rest on entries;
* journal records that quoted forgotten text keep their place and hash but lose their payload
  (a tombstone; :mod:`oneiro.store.journal`), and one ``forgotten`` record lists the ids and
  hashes that went, never their content, so ``journal --verify`` still passes;
* the file is scrubbed afterwards (index merge, checkpoint, vacuum).

:func:`plan` reads and changes nothing (``--dry-run``); :func:`apply` writes the plan in one
transaction. Playbook revisions and dispatch records name episodes by id only and are kept.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from oneiro.config import LifecycleConfig
from oneiro.errors import InvalidInput
from oneiro.model import Entry, EntryStatus, Episode, canonical_json
from oneiro.store.protocol import Store

_WORD = re.compile(r"\w+", re.UNICODE)
#: Words too short to carry content of their own ("a", "of", "is"); a forgotten word shorter than
#: this does not condemn an entry that also rests on other sources.
MIN_CONTENT_WORD = 3


def _words(text: str) -> set[str]:
    return {w for w in (m.lower() for m in _WORD.findall(text)) if len(w) >= MIN_CONTENT_WORD}


def _entry_words(entry: Entry) -> set[str]:
    return _words(entry.text) | _words(" ".join(entry.keys)) | _words(canonical_json(entry.data))


@dataclass(frozen=True)
class Selector:
    """Which episodes to forget: the union of those named, an actor's and a session's."""

    episodes: tuple[str, ...] = ()
    actor: str | None = None
    session: str | None = None

    def __post_init__(self) -> None:
        if not self.episodes and self.actor is None and self.session is None:
            raise InvalidInput("say what to forget: episode ids, an actor or a session", field="forget")
        for name, value in (("actor", self.actor), ("session", self.session)):
            if value is not None and not value.strip():
                raise InvalidInput(f"{name} must not be empty", field=name)


@dataclass(frozen=True)
class ForgetPlan:
    """What a forget would remove; ``trimmed`` maps a kept entry to the sources it keeps."""

    episodes: tuple[str, ...]
    removed_entries: tuple[str, ...]
    trimmed: dict[str, tuple[str, ...]] = field(default_factory=dict)
    rejudged: dict[str, dict[str, Any]] = field(default_factory=dict)
    journal: tuple[int, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.episodes

    def as_dict(self) -> dict[str, Any]:
        return {
            "episodes": list(self.episodes),
            "removed_entries": list(self.removed_entries),
            "trimmed_entries": sorted(self.trimmed),
            "rejudged_entries": sorted(self.rejudged),
            "journal_records": list(self.journal),
        }


def plan(store: Store, selector: Selector, lifecycle: LifecycleConfig) -> ForgetPlan:
    """Work out what forgetting ``selector`` removes, reading one snapshot; writes nothing."""
    with store.snapshot():
        chosen = store.forget_select(selector.episodes, selector.actor, selector.session)
        if not chosen:
            return ForgetPlan((), ())
        removed, trimmed, lost_words = _cascade(store, chosen)
        rejudged = _rejudge(store, trimmed, {e.id for e in chosen}, lifecycle)
        needles = [e.text for e in chosen] + [e.text for e in lost_words]
        seqs = store.journal_containing(needles)
    return ForgetPlan(tuple(e.id for e in chosen), tuple(sorted(removed)), trimmed, rejudged, tuple(seqs))


def _cascade(
    store: Store, chosen: Sequence[Episode]
) -> tuple[set[str], dict[str, tuple[str, ...]], list[Entry]]:
    """Entries removed and entries trimmed, to a fixed point over entries that rest on entries."""
    gone: set[str] = {e.id for e in chosen}
    forgotten_words: set[str] = set().union(*(_words(e.text) for e in chosen))
    removed: dict[str, Entry] = {}
    quoting = store.forget_quoting([e.text for e in chosen])
    changed = True
    while changed:  # a removal adds forgotten words and ids, which may condemn another entry
        changed = False
        suspects = (store.forget_citing(sorted(gone)) | quoting) - set(removed)
        candidates = store.entries(sorted(suspects))
        for entry in candidates.values():
            if _derived_only_from_gone(entry, gone, forgotten_words, store):
                removed[entry.id] = entry
                gone.add(entry.id)
                forgotten_words |= _entry_words(entry)
                changed = True
    trimmed: dict[str, tuple[str, ...]] = {}
    for entry in store.entries(sorted(store.forget_citing(sorted(gone)) - set(removed))).values():
        trimmed[entry.id] = tuple(s for s in entry.sources if s not in gone)
    for entry_id in [t for t, keep in trimmed.items() if not keep]:
        del trimmed[entry_id]  # unreachable: an entry with no source left was removed above
    return set(removed), trimmed, list(removed.values())


def _derived_only_from_gone(entry: Entry, gone: set[str], forgotten: set[str], store: Store) -> bool:
    keep = [s for s in entry.sources if s not in gone]
    if not keep:
        return True
    remaining = _source_words(store, keep)
    return bool((_entry_words(entry) & forgotten) - remaining)


def _source_words(store: Store, ids: Sequence[str]) -> set[str]:
    words: set[str] = set()
    for ep in store.episodes(ids).values():
        words |= _words(ep.text)
    for entry in store.entries(ids).values():
        words |= _entry_words(entry)
    return words


def _rejudge(
    store: Store, trimmed: dict[str, tuple[str, ...]], forgotten: set[str], lc: LifecycleConfig
) -> dict[str, dict[str, Any]]:
    """Lifecycle columns of kept entries that lose evidence: counted again from what remains; a
    validated entry no longer carried by enough confirmations is staged again."""
    from oneiro import validation  # validation imports the playbook; keep this module light

    out: dict[str, dict[str, Any]] = {}
    rows = store.evidence_for(sorted(trimmed))
    entries = store.entries(sorted(trimmed))
    for entry_id, evidence in rows.items():
        if not any(r.episode_id in forgotten for r in evidence):
            continue
        kept = [r for r in evidence if r.episode_id not in forgotten]
        entry = entries[entry_id]
        t = validation.tally(kept, lc)
        changes: dict[str, Any] = {"confirmations": t.confirmations, "refutations": t.refutations}
        if entry.status == EntryStatus.VALIDATED and not t.validated:
            changes["status"] = EntryStatus.STAGED.value
            changes["confidence"] = lc.hypothesis_confidence if not t.confirmations else lc.confidence_floor
        out[entry_id] = changes
    return out


def apply(store: Store, forget_plan: ForgetPlan, now: float) -> ForgetPlan:
    """Write ``forget_plan`` in one transaction, journal it and scrub the file."""
    if forget_plan.empty:
        return forget_plan
    with store.transaction():
        store.forget_apply(forget_plan)
        store.journal_append(
            now,
            "forgotten",
            {
                "episodes": list(forget_plan.episodes),
                "entries": list(forget_plan.removed_entries),
                "trimmed": sorted(forget_plan.trimmed),
                "journal": list(forget_plan.journal),
            },
        )
    store.scrub()
    return forget_plan
