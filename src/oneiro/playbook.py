"""The playbook: procedural memory as addressable items, rendered as PLAYBOOK.md.

Items (id, section, text, parameters, helpful and harmful counts) change only through revisions.
The active playbook is what awake mode reads; a candidate is the active playbook with one revision
applied, computed, never stored (blue-green). Before a candidate becomes active it must pass every
probe (built-in: it renders, it breaks no constraint, it loses no item without a remove, it carries
no poisoning signature; plus any callable a user registers). Validation stores the sha256 of the
candidate's rendering; promotion recomputes the candidate and refuses unless the hash matches, so
what becomes active is exactly the bytes that were validated. Rollback restores the items an active
revision replaced, exactly.

Constraints are limits no revision may change (a parameter range, a locked item or section, text
that may never appear). They come from a TOML file or the API, never from a revision; a revision
that would break one is rejected and journaled.

Policy per store (``meta`` key ``playbook_policy``): ``manual`` (a person approves) or ``auto``
(awake validation promotes a revision once every entry it cites as evidence is validated). Dreams
only propose.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import hashlib
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from oneiro.constraints import Constraint, load_constraints, parse_constraint, replacements, violations
from oneiro.dream.ops.poisoning import signatures
from oneiro.dream.writes import RevisionProposal
from oneiro.errors import ConfigError, ConstraintViolation, PlaybookError, RevisionError, UnknownRevision
from oneiro.model import EntryStatus, Provenance, canonical_json, content_hash
from oneiro.screen import Verdict, screen_label, screen_rule

if TYPE_CHECKING:
    from oneiro.store.protocol import Store

POLICY_KEY = "playbook_policy"
POLICIES = ("manual", "auto")
AUTO_DECIDER = "auto-policy"
#: Hex digits of a revision or item id: 48 bits, ample for one store's playbook.
REVISION_ID_HEX = 12
OPS = ("add", "edit", "remove")
#: Item ids: lowercase letters, digits and '-' (``item-<hex>``, ``correction-<context>``), bounded
#: so that an id cannot carry a sentence into PLAYBOOK.md.
MAX_ITEM_ID = 80
ITEM_ID = re.compile(rf"[a-z0-9][a-z0-9-]{{0,{MAX_ITEM_ID - 1}}}")
TITLE = "# Playbook\n"
#: Who proposed a revision a cycle made.
DREAM_PROPOSER = "dream"


class RevisionStatus(StrEnum):
    PROPOSED = "proposed"
    ACTIVE = "active"
    REJECTED = "rejected"
    ROLLED_BACK = "rolled_back"


@dataclass(frozen=True)
class Item:
    """One rule of the playbook."""

    id: str
    section: str
    text: str
    params: dict[str, Any] = field(default_factory=dict)
    helpful: int = 0
    harmful: int = 0
    version: int = 1

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Revision:
    """A change to one item, with its diff, evidence and the decision taken on it."""

    id: str
    seq: int
    op: str
    item_id: str | None
    section: str
    text: str
    params: dict[str, Any]
    reason: str
    evidence: tuple[str, ...]
    base_version: int | None
    base_sha: str
    diff: str
    status: RevisionStatus
    proposed_by: str
    decided_by: str | None = None
    decided_at: float | None = None
    decision: str | None = None
    validated_sha: str | None = None
    probes: dict[str, Any] = field(default_factory=dict)
    cycle_id: str | None = None
    created_at: float = 0.0
    activated_at: float | None = None


def replace_fields(rev: Revision, **changes: Any) -> Revision:
    return dataclasses.replace(rev, **changes)


def new_item_id(section: str, text: str) -> str:
    return "item-" + content_hash({"section": section, "text": text})[:REVISION_ID_HEX]


# -- rendering --------------------------------------------------------------------------------
def _render_item(item: Item) -> str:
    line = f"- **[{item.id}]** {item.text}"
    if item.params:
        line += " — " + ", ".join(f"`{k}={canonical_json(v)}`" for k, v in sorted(item.params.items()))
    return line + f" (helpful {item.helpful}, harmful {item.harmful})\n"


def render(items: Sequence[Item]) -> str:
    """PLAYBOOK.md: sections in order of first appearance, items in playbook order."""
    sections: dict[str, list[Item]] = {}
    for item in items:
        sections.setdefault(item.section, []).append(item)
    parts = [TITLE]
    for name, members in sections.items():
        parts.append(f"\n## {name}\n\n")
        parts.extend(_render_item(i) for i in members)
    return "".join(parts)


def sha256(markdown: str) -> str:
    return hashlib.sha256(markdown.encode("utf-8")).hexdigest()


def diff(before: str, after: str) -> str:
    return "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True),
            after.splitlines(keepends=True),
            fromfile="PLAYBOOK.md (active)",
            tofile="PLAYBOOK.md (candidate)",
        )
    )


# -- applying a revision ----------------------------------------------------------------------
def apply(items: Sequence[Item], rev: Revision) -> list[Item]:
    """The candidate: ``items`` with ``rev`` applied. Raises RevisionError when it cannot apply."""
    if rev.op not in OPS:
        raise RevisionError(f"unknown revision op {rev.op!r}; use one of {', '.join(OPS)}")
    index = {i.id: n for n, i in enumerate(items)}
    out = list(items)
    if rev.op == "add":
        if rev.item_id in index:
            raise RevisionError(f"item {rev.item_id} already exists; propose an edit instead")
        if not rev.text.strip():
            raise RevisionError("an added item needs text")
        out.append(Item(rev.item_id or new_item_id(rev.section, rev.text), rev.section, rev.text, rev.params))
        return out
    if rev.item_id not in index:
        raise RevisionError(f"no playbook item {rev.item_id!r} to {rev.op}")
    n = index[rev.item_id]
    if rev.base_version is not None and items[n].version != rev.base_version:
        raise RevisionError(
            f"revision {rev.id} conflicts: item {rev.item_id} changed since it was proposed "
            f"(version {rev.base_version} -> {items[n].version}); propose it again"
        )
    if rev.op == "remove":
        del out[n]
        return out
    old = items[n]
    out[n] = dataclasses.replace(
        old,
        section=rev.section or old.section,
        text=rev.text or old.text,
        params={**old.params, **rev.params},
        version=old.version + 1,
    )
    return out


def conflicting(rev: Revision, pending: Sequence[Revision]) -> Revision | None:
    """A pending revision that edits or removes the same item from the same base, if any."""
    if rev.op == "add":
        return next(
            (p for p in pending if p.op == "add" and p.item_id == rev.item_id and p.id != rev.id), None
        )
    return next(
        (
            p
            for p in pending
            if p.id != rev.id
            and p.item_id == rev.item_id
            and p.op != "add"
            and p.base_version == rev.base_version
        ),
        None,
    )


def admission_problem(rev: Revision, from_dream: bool) -> str | None:
    """Why a revision may not even be proposed (None when it may)."""
    if rev.op not in OPS:
        return f"unknown revision op {rev.op!r}"
    texts = [rev.text, *(v for v in rev.params.values() if isinstance(v, str))]
    found = sorted({s for t in texts for s in signatures(t)})
    if found:
        return f"poisoning signature in revision text: {', '.join(found)}"
    screened = screen_problem(rev)
    if screened:
        return screened
    if from_dream and not rev.evidence:
        return "a dream revision must cite its evidence"
    return None


def screen_problem(rev: Revision) -> str | None:
    """What the rule-text screen (:mod:`oneiro.screen`) refuses in a revision, else None: its text
    as a rule, its section and string parameters as labels, its item id as an identifier. Every
    way text enters the playbook (a dream's proposal, a person's, the API) passes here."""
    checks: list[tuple[str, Verdict]] = []
    if rev.text or rev.op != "remove":
        checks.append(("text", screen_rule(rev.text)))
    if rev.section:
        checks.append(("section", screen_label(rev.section, exact=True)))
    checks.extend(
        (f"params.{key}", screen_label(value, exact=True))
        for key, value in rev.params.items()
        if isinstance(value, str)
    )
    bad = [f"{where} {verdict.reason()}" for where, verdict in checks if not verdict.ok]
    if rev.item_id is not None and not ITEM_ID.fullmatch(rev.item_id):
        bad.append(f"item id {rev.item_id[:MAX_ITEM_ID]!r} is not lowercase letters, digits and '-'")
    return "; ".join(bad) or None


# -- drafting a revision ----------------------------------------------------------------------
def _revision_id(proposal: RevisionProposal, item_id: str, base_version: int | None, base_sha: str) -> str:
    return (
        "rev-"
        + content_hash(
            {
                "op": proposal.op,
                "item": item_id,
                "section": proposal.section,
                "text": proposal.text,
                "params": proposal.params,
                "evidence": sorted(proposal.evidence),
                "base_version": base_version,
                "base_sha": base_sha,
            }
        )[:REVISION_ID_HEX]
    )


def draft(
    active: Sequence[Item],
    constraints: Sequence[Constraint],
    proposal: RevisionProposal,
    *,
    proposed_by: str,
    now: float,
    cycle_id: str | None = None,
) -> Revision:
    """A revision for ``proposal`` against the ``active`` playbook: ``proposed``, or ``rejected``
    with the reason when it could never be applied (admission, an op that cannot apply, a broken
    constraint). Pure: the same data always drafts the same revision, id included."""
    base_sha = sha256(render(active))
    item_id = proposal.item_id or new_item_id(proposal.section, proposal.text)
    target = next((i for i in active if i.id == item_id), None)
    base_version = None if proposal.op == "add" or target is None else target.version
    rev = Revision(
        id=_revision_id(proposal, item_id, base_version, base_sha),
        seq=0,
        op=proposal.op,
        item_id=item_id,
        section=proposal.section,
        text=proposal.text,
        params=dict(proposal.params),
        reason=proposal.reason,
        evidence=tuple(proposal.evidence),
        base_version=base_version,
        base_sha=base_sha,
        diff="",
        status=RevisionStatus.PROPOSED,
        proposed_by=proposed_by,
        cycle_id=cycle_id,
        created_at=now,
    )
    problem = admission_problem(rev, proposed_by == DREAM_PROPOSER)
    try:
        candidate = apply(active, rev)
    except PlaybookError as exc:
        problem = problem or str(exc)
        candidate = list(active)
    broken = violations(constraints, active, candidate)
    if broken and problem is None:
        problem = "breaks constraint " + "; ".join(broken)
    changed = diff(render(active), render(candidate))
    if problem is None:
        return replace_fields(rev, diff=changed)
    return replace_fields(
        rev,
        diff=changed,
        status=RevisionStatus.REJECTED,
        decided_by="constraint" if broken else "admission",
        decided_at=now,
        decision=problem,
    )


def propose_from_dream(store: Store, proposal: RevisionProposal, cycle_id: str, now: float) -> str:
    """Store a dream's proposal (inside the cycle's transaction, undo-logged); return its id.

    Never activates anything and never raises for a bad proposal: one that cannot stand is
    stored as rejected, with its reason journaled. One that conflicts with a pending revision
    (same item, same base) is rejected too: the first proposal stands until someone decides it.
    """
    rev = draft(
        store.playbook_items(),
        store.constraints(),
        proposal,
        proposed_by=DREAM_PROPOSER,
        now=now,
        cycle_id=cycle_id,
    )
    rival = conflicting(rev, store.playbook_revisions(RevisionStatus.PROPOSED.value))
    if rival is not None and rev.status == RevisionStatus.PROPOSED:
        rev = replace_fields(
            rev,
            status=RevisionStatus.REJECTED,
            decided_by="conflict",
            decided_at=now,
            decision=f"conflicts with pending revision {rival.id} (same item, same base)",
        )
    if store.add_revision(rev, cycle_id) and rev.status == RevisionStatus.REJECTED:
        store.journal_append(
            now,
            "revision_rejected",
            {"revision": rev.id, "reason": rev.decision, "by": rev.decided_by, "item": rev.item_id},
            cycle_id=cycle_id,
            phase="integration",
        )
    return rev.id


# -- probes -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ProbeInput:
    active: Sequence[Item]
    candidate: Sequence[Item]
    revision: Revision
    markdown: str
    constraints: Sequence[Constraint]


#: A probe returns None when the candidate passes, else what is wrong.
Probe = Callable[[ProbeInput], str | None]


def _probe_renders(p: ProbeInput) -> str | None:
    if render(p.candidate) != p.markdown or not p.markdown.startswith(TITLE):
        return "rendering is not deterministic"
    missing = [i.id for i in p.candidate if f"[{i.id}]" not in p.markdown]
    return f"items missing from the rendering: {missing}" if missing else None


def _probe_constraints(p: ProbeInput) -> str | None:
    broken = violations(p.constraints, p.active, p.candidate)
    return f"breaks constraint {', '.join(broken)}" if broken else None


def _probe_no_item_lost(p: ProbeInput) -> str | None:
    kept = {i.id for i in p.candidate}
    lost = [
        i.id
        for i in p.active
        if i.id not in kept and not (p.revision.op == "remove" and i.id == p.revision.item_id)
    ]
    return f"items lost without a remove revision: {lost}" if lost else None


def _probe_no_injection(p: ProbeInput) -> str | None:
    found = sorted({s for i in p.candidate for s in signatures(i.text)})
    if found:
        return f"poisoning signatures in the candidate: {found}"
    # Revisions stored before the screen existed meet it here, before they can become active.
    return screen_problem(p.revision)


BUILTIN_PROBES: dict[str, Probe] = {
    "renders": _probe_renders,
    "constraints": _probe_constraints,
    "no-item-lost": _probe_no_item_lost,
    "no-injection": _probe_no_injection,
}


@dataclass(frozen=True)
class Candidate:
    revision: Revision
    items: list[Item]
    markdown: str
    sha: str
    diff: str
    probes: dict[str, str | None]

    @property
    def passed(self) -> bool:
        return all(v is None for v in self.probes.values())


# -- the service ------------------------------------------------------------------------------
class Playbook:
    """The playbook of one store: read it, propose, validate, promote, reject, roll back.

    Every method that writes runs in one transaction (joining the caller's, if any), and any
    error leaves the tables as they were.
    """

    def __init__(
        self,
        store: Store,
        *,
        clock: Callable[[], float] = time.time,
        probes: Mapping[str, Probe] | None = None,
    ) -> None:
        """``probes`` are every check a candidate must pass (a memory's registry's); the built-in
        probes when none are given."""
        self.store = store
        self.clock = clock
        self.probes: dict[str, Probe] = dict(BUILTIN_PROBES if probes is None else probes)

    def register_probe(self, name: str, probe: Probe) -> None:
        """Add a check every candidate must pass before it becomes active, whether a person
        approves it or the ``auto`` policy promotes it (the validator promotes through this same
        playbook: ``Memory.playbook``)."""
        if name in self.probes:
            raise ValueError(f"a probe named {name!r} is already registered")
        self.probes[name] = probe

    def at(self, now: float) -> Playbook:
        """This playbook deciding at time ``now``: the same store and the same probes (one dict,
        so a probe registered on either is run by both), a fixed clock."""
        view = copy.copy(self)
        view.clock = lambda: now
        return view

    # -- reading
    def items(self) -> list[Item]:
        return self.store.playbook_items()

    def render(self) -> str:
        return render(self.items())

    def revisions(self, *statuses: RevisionStatus) -> list[Revision]:
        return self.store.playbook_revisions(*(s.value for s in statuses))

    def revision(self, revision_id: str) -> Revision:
        rev = self.store.playbook_revision(revision_id)
        if rev is None:
            raise UnknownRevision(f"no revision {revision_id!r}; list them with 'oneiro playbook show'")
        return rev

    def constraints(self) -> list[Constraint]:
        return self.store.constraints()

    @property
    def policy(self) -> str:
        return self.store.get_meta(POLICY_KEY, "manual") or "manual"

    def set_policy(self, policy: str) -> None:
        if policy not in POLICIES:
            raise ConfigError(f"playbook policy must be one of {', '.join(POLICIES)}, got {policy!r}")
        self.store.put_meta(POLICY_KEY, policy)

    # -- constraints
    def add_constraint(
        self, constraint: Constraint | Mapping[str, Any], *, replace: bool = False
    ) -> Constraint:
        c = (
            constraint
            if isinstance(constraint, Constraint)
            else parse_constraint(constraint, "api", "constraint")
        )
        parse_constraint({"name": c.name, "kind": c.kind, **c.spec}, c.source, "constraint")
        self._put_constraints([c], replace)
        return c

    def load_constraints(self, path: Path, *, replace: bool = False) -> list[Constraint]:
        """Store the constraints of a TOML file; one that would loosen a stored constraint of the
        same name needs ``replace`` (see :func:`oneiro.constraints.replacements`)."""
        loaded = load_constraints(path)
        self._put_constraints(loaded, replace)
        return loaded

    def _put_constraints(self, loaded: Sequence[Constraint], replace: bool) -> None:
        with self.store.transaction():
            now = self.clock()
            for change in replacements(self.store.constraints(), loaded, replace=replace):
                self.store.journal_append(now, "constraint_replaced", change)
            for c in loaded:
                self.store.put_constraint(c, now)

    # -- changing
    def propose(self, proposal: RevisionProposal, *, by: str = "user") -> Revision:
        """Store a proposal. A conflicting one (same item, same base as a pending revision) is a
        RevisionError and nothing is stored; one that breaks a constraint is stored as rejected and
        journaled, and returned with that status."""
        now = self.clock()
        with self.store.transaction():
            rev = draft(
                self.store.playbook_items(), self.store.constraints(), proposal, proposed_by=by, now=now
            )
            rival = conflicting(rev, self.store.playbook_revisions(RevisionStatus.PROPOSED.value))
            if rival is not None:
                raise RevisionError(
                    f"revision conflicts with pending revision {rival.id}: both change item "
                    f"{rev.item_id} from the same base; approve or reject {rival.id} first"
                )
            if self.store.add_revision(rev) and rev.status == RevisionStatus.REJECTED:
                self.store.journal_append(
                    now, "revision_rejected", {"revision": rev.id, "reason": rev.decision}
                )
            found = self.store.playbook_revision(rev.id)
        assert found is not None
        return found

    def candidate(self, revision_id: str) -> Candidate:
        """The active playbook with this revision applied, rendered and probed (reads only)."""
        with self.store.snapshot():
            rev = self._pending(revision_id)
            active = self.store.playbook_items()
            known = self.store.constraints()
        cand = apply(active, rev)
        markdown = render(cand)
        inp = ProbeInput(active, cand, rev, markdown, known)
        results = {name: _run_probe(probe, inp) for name, probe in self.probes.items()}
        return Candidate(rev, cand, markdown, sha256(markdown), diff(render(active), markdown), results)

    def validate(self, revision_id: str) -> Candidate:
        """Probe the candidate and store the sha256 of its rendering. A failing probe rejects the
        revision (journaled) and raises ConstraintViolation or RevisionError."""
        with self.store.transaction():
            cand = self.candidate(revision_id)
            failed = {k: v for k, v in cand.probes.items() if v is not None}
            if failed:
                self._reject(revision_id, "probe:" + ",".join(failed), "; ".join(map(str, failed.values())))
            else:
                self.store.set_revision_validated(revision_id, cand.sha, dict(cand.probes))
        if failed:
            cls = ConstraintViolation if "constraints" in failed else RevisionError
            raise cls(f"revision {revision_id} failed probes and was rejected: {failed}")
        return cand

    def promote(self, revision_id: str, *, by: str = "user") -> Revision:
        """Make a validated revision's candidate active, refusing unless its rendering hashes to
        exactly what was validated."""
        with self.store.transaction():
            rev = self._pending(revision_id)
            if rev.validated_sha is None:
                raise RevisionError(f"revision {revision_id} has not been validated; validate it first")
            active = self.store.playbook_items()
            cand = apply(active, rev)
            if sha256(render(cand)) != rev.validated_sha:
                raise RevisionError(
                    f"revision {revision_id}: the candidate is not the one validated (the active "
                    "playbook changed since); validate it again"
                )
            self.store.replace_playbook_items(cand)
            if sha256(render(self.store.playbook_items())) != rev.validated_sha:
                raise RevisionError(
                    f"revision {revision_id}: stored playbook differs from the validated bytes"
                )
            now = self.clock()
            self.store.decide_revision(
                revision_id, RevisionStatus.ACTIVE, by=by, at=now, decision="promoted", before=active
            )
            self.store.journal_append(
                now, "revision_active", {"revision": revision_id, "by": by, "sha": rev.validated_sha}
            )
        return self.revision(revision_id)

    def approve(self, revision_id: str, *, by: str = "user") -> Revision:
        """Validate, then promote. Two transactions on purpose: a failed probe's rejection is kept,
        and if the playbook changes in between, promotion's hash check refuses the stale candidate."""
        self.validate(revision_id)
        return self.promote(revision_id, by=by)

    def reject(self, revision_id: str, *, by: str = "user", reason: str = "rejected") -> Revision:
        with self.store.transaction():
            self._pending(revision_id)
            self._reject(revision_id, by, reason)
        return self.revision(revision_id)

    def rollback(self, *, by: str = "user") -> Revision:
        """Restore the playbook the most recently activated revision replaced, exactly."""
        with self.store.transaction():
            last = self.store.last_active_revision()
            if last is None:
                raise RevisionError("nothing to roll back: no active revision")
            rev, before = last
            self.store.replace_playbook_items(before)
            now = self.clock()
            self.store.decide_revision(
                rev.id, RevisionStatus.ROLLED_BACK, by=by, at=now, decision="rolled back"
            )
            self.store.journal_append(now, "revision_rolled_back", {"revision": rev.id, "by": by})
        return self.revision(rev.id)

    def auto_promote(self) -> list[str]:
        """Under the ``auto`` policy, approve every pending revision whose cited entries are all
        validated; return their ids. Awake-side only: the validator calls it."""
        if self.policy != "auto":
            return []
        done: list[str] = []
        with self.store.transaction():
            for rev in self.store.playbook_revisions(RevisionStatus.PROPOSED.value):
                if not evidence_validated(self.store, rev):
                    continue
                try:
                    self.approve(rev.id, by=AUTO_DECIDER)
                except (RevisionError, ConstraintViolation):
                    continue
                done.append(rev.id)
        return done

    # -- internals
    def _pending(self, revision_id: str) -> Revision:
        rev = self.store.playbook_revision(revision_id)
        if rev is None:
            raise UnknownRevision(f"no revision {revision_id!r}; list them with 'oneiro playbook show'")
        if rev.status != RevisionStatus.PROPOSED:
            raise RevisionError(
                f"revision {revision_id} is already {rev.status.value}; it cannot be decided again"
            )
        return rev

    def _reject(self, revision_id: str, by: str, reason: str) -> None:
        now = self.clock()
        self.store.decide_revision(revision_id, RevisionStatus.REJECTED, by=by, at=now, decision=reason)
        self.store.journal_append(
            now, "revision_rejected", {"revision": revision_id, "by": by, "reason": reason}
        )


def _run_probe(probe: Probe, inp: ProbeInput) -> str | None:
    try:
        return probe(inp)
    except Exception as exc:  # a user probe that crashes fails, it does not pass
        return f"probe raised {type(exc).__name__}: {exc}"


def evidence_validated(store: Store, rev: Revision) -> bool:
    """True when the revision cites at least one entry, every cited entry is validated, and every
    other cited id is an awake episode: dream output alone never qualifies."""
    found = store.entries(list(rev.evidence))
    if not found or any(e.status != EntryStatus.VALIDATED for e in found.values()):
        return False
    others = [i for i in rev.evidence if i not in found]
    episodes = store.episodes(others)
    return len(episodes) == len(others) and all(e.provenance == Provenance.AWAKE for e in episodes.values())
