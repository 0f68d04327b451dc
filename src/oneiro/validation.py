"""Awake-side validation: later, real experience confirms or refutes what a dream proposed.

The invariant this module exists for: **only awake episodes are evidence.** The validator takes
episodes, never entries, and re-reads each one from the store to use its stored provenance, so a
dream-made entry (however similar its text) and a shadow episode can confirm nothing. An episode
carrying a poisoning signature counts neither way (repeating an injection is not evidence for it).

**Independence is provenance, not labels.** Each episode is judged by the origin the store vouches
for (:class:`oneiro.store.episodes.Origin`), never by what the writer chose to call it:

* its *party*: an episode reporting a real awake effectful dispatch (``dispatch``, checked by the
  store against the immutable ``dispatches`` table, one episode per dispatch) is the agent's own
  observation and its party is that dispatch; any other episode is a message and its party is its
  actor (an empty actor is one anonymous party, never many). Sessions never make parties: one
  actor in ten sessions is one party;
* its *record time* (``recorded_at``, the recording process's clock), which alone decides "later
  than the hypothesis", confirmation windows and expiry. The writer's ``ts`` decides nothing here,
  so a batch dated tomorrow or in 2100 neither validates at once nor postpones expiry.

A hypothesis's *grounds* are the episodes it rests on, followed through source entries to any
depth, and their parties. Those episodes are not later experience, and **confirmations from the
grounds' parties count for nothing** (neither towards the confidence steps nor the quorum). The
weaker rule, "the author may not make up the whole quorum", would let the author plus two
accomplices validate, and would let an author alone lift their own claim to the recall floor; the
strict rule stays usable because the agent's observations are parties of their own: a correction
drawn from the agent's decisions is confirmed by outcomes it observes through later dispatches, or
by other actors. Refutations count from every party, the author's included (denying one's own
claim can only lower trust). What an attacker who controls one actor, one session or the
timestamps can still do is written down in ``docs/threat-model.md``.

The lifecycle rule (constants from ``config.lifecycle``, DESIGN §7), *independent* meaning from
distinct parties outside the hypothesis's grounds:

* staged at ``hypothesis_confidence`` (0.2) with no confirmation;
* the first independent confirmation lifts it to the ``confidence_floor`` (0.3): recall shows it,
  flagged as dream-made; each further one adds an equal step towards ``validated_confidence``
  (0.4 at two with the defaults) without reaching it;
* ``validated`` (0.5) once ``confirmations_needed`` (3) independent confirmations were recorded
  within one ``confirm_window_days`` (7 d) window;
* ``refuted`` as soon as refuting parties outnumber independent confirming parties; its
  confidence is halved from at most the hypothesis level (0.1 with the defaults);
* ``expired`` when still staged ``expiry_days`` (14 d) after the record time of its last
  independent confirmation (or its making, if none).

Predictions resolve by the earliest-recorded episode that decides them between their making and
their checkpoint; one tied to a hypothesis is not resolved by that hypothesis's grounds.

Evidence tests are pluggable (``register_evidence_tests`` in :mod:`oneiro.plugins`, one registry
per memory): a hypothesis names its test in ``data["test"]["type"]``; predictions use the same.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from enum import IntEnum
from types import MappingProxyType
from typing import Any, Protocol

import numpy as np

from oneiro.backends.embedder import Embedder
from oneiro.config import Config, LifecycleConfig
from oneiro.dream.ops.poisoning import is_poisoned
from oneiro.model import Entry, EntryStatus, Episode, Provenance
from oneiro.playbook import Playbook
from oneiro.store.episodes import Origin
from oneiro.store.evidence import EvidenceRow, Grounds
from oneiro.store.predictions import OPEN
from oneiro.store.protocol import Store

DAY = 86_400.0
#: A refuted hypothesis keeps this fraction of (at most) the hypothesis confidence.
REFUTED_FACTOR = 0.5
#: text_support: cosine at which an episode restates a hypothesis. MiniLM scores paraphrases
#: about 0.7-0.9 and topical neighbours about 0.4-0.6; 0.8 keeps mostly restatements.
TEXT_SUPPORT_SIMILARITY = 0.8
#: Words that flip a statement; one side carrying one and the other not reads as a denial.
NEGATION_CUES = frozenset(
    [
        "not",
        "no",
        "never",
        "none",
        "nobody",
        "nothing",
        "neither",
        "nor",
        "cannot",
        "can't",
        "won't",
        "don't",
        "doesn't",
        "didn't",
        "isn't",
        "aren't",
        "wasn't",
        "weren't",
        "shouldn't",
        "wouldn't",
        "false",
        "wrong",
        "untrue",
        "incorrect",
    ]
)


class Verdict(IntEnum):
    REFUTES = -1
    SILENT = 0
    SUPPORTS = 1


class EvidenceTest(Protocol):
    """How one kind of hypothesis is judged against one awake episode. ``similarity`` is the
    cosine between the hypothesis text and the episode text (0 when no test needs it)."""

    name: str
    needs_similarity: bool

    def judge(self, spec: Mapping[str, Any], text: str, episode: Episode, similarity: float) -> Verdict: ...


def context_key(episode: Episode) -> str | None:
    """The context a decision episode happened in: ``context["key"]``, else ``data["context_key"]``,
    else a string ``data["context"]``, else the action taken (``data["action"]``, then
    ``context["action"]``), so that decisions recorded without any context still group by what was
    done. Replay groups decisions by the same key (:func:`oneiro.dream.ops.replay.decision_key`)."""
    for key in (episode.context.get("key"), episode.data.get("context_key"), episode.data.get("context")):
        if isinstance(key, str | int | float) and not isinstance(key, bool):
            return str(key)
    for action in (episode.data.get("action"), episode.context.get("action")):
        if isinstance(action, str) and action.strip():
            return action.strip()
    return None


class ResidualBias:
    """A correction says: in context C, outcomes run ``bias`` from predictions. A later decision
    episode in C whose residual has the same sign and ``|residual| >= min_abs`` confirms it; one
    with the opposite sign and the same magnitude refutes it; anything smaller says nothing."""

    name = "residual_bias"
    needs_similarity = False

    def judge(self, spec: Mapping[str, Any], text: str, episode: Episode, similarity: float) -> Verdict:
        residual = episode.residual
        if residual is None or context_key(episode) != str(spec.get("context")):
            return Verdict.SILENT
        bias, floor = float(spec.get("bias", 0.0)), abs(float(spec.get("min_abs", 0.0)))
        if bias == 0 or not math.isfinite(residual) or abs(residual) < floor or residual == 0:
            return Verdict.SILENT
        return Verdict.SUPPORTS if (residual > 0) == (bias > 0) else Verdict.REFUTES


def negated(text: str) -> bool:
    words = {w.strip(".,;:!?\"'()").lower() for w in text.split()}
    return bool(words & NEGATION_CUES) or "n't" in text.lower()


class TextSupport:
    """T0 text test: an episode that restates the hypothesis (cosine >= ``min_similarity``)
    supports it; one that restates it with the opposite polarity (a negation cue on one side
    only) refutes it.

    Limits: negation is read from a word list, so "rarely", "used to" or a paraphrased denial
    ("that stopped being true") pass for agreement, and double negation reads as denial;
    similarity is only as semantic as the embedder (the hashing embedder is lexical); sarcasm and
    quotation ("she said X") read as support. It is deliberately strict (a high threshold), so it
    errs towards saying nothing.
    """

    name = "text_support"
    needs_similarity = True

    def judge(self, spec: Mapping[str, Any], text: str, episode: Episode, similarity: float) -> Verdict:
        if similarity < float(spec.get("min_similarity", TEXT_SUPPORT_SIMILARITY)):
            return Verdict.SILENT
        return Verdict.REFUTES if negated(text) != negated(episode.text) else Verdict.SUPPORTS


def builtin_tests() -> list[EvidenceTest]:
    """oneiro's own evidence tests, for the registration door (REM's ``outcome_region`` and
    ``affect_settled`` imported here: they read :class:`Verdict` from this module)."""
    from oneiro.dream.ops.rem.evidence import AffectSettled, OutcomeRegion

    return [ResidualBias(), TextSupport(), OutcomeRegion(), AffectSettled()]


#: The built-in tests by name. Deprecated, read-only and used by no path of oneiro: a memory's
#: tests are those of its registry (``Validator(tests=...)``, ``register_evidence_tests``).
TESTS: Mapping[str, EvidenceTest] = MappingProxyType({t.name: t for t in builtin_tests()})


@dataclass(frozen=True)
class Tally:
    """Independent confirmations and refutations (distinct parties), whether enough confirmations
    fall in one confirmation window, and the record time of the latest confirmation."""

    confirmations: int
    refutations: int
    validated: bool
    last_support: float | None


def tally(rows: Sequence[EvidenceRow], lc: LifecycleConfig, grounds: frozenset[str] = frozenset()) -> Tally:
    """Count parties, not episodes or sessions: a party's many confirmations are one. Confirmations
    from ``grounds`` (the parties the hypothesis rests on) count for nothing; refutations count from
    every party, the author's too (denying one's own claim can only lower trust). Windows run on
    record time."""
    support = sorted(
        (r for r in rows if r.polarity > 0 and r.party not in grounds), key=lambda r: r.recorded_at
    )
    against = {r.party for r in rows if r.polarity < 0}
    window = lc.confirm_window_days * DAY
    validated = any(
        len({r.party for r in support if first.recorded_at <= r.recorded_at <= first.recorded_at + window})
        >= lc.confirmations_needed
        for first in support
    )
    parties = {r.party for r in support}
    return Tally(len(parties), len(against), validated, support[-1].recorded_at if support else None)


def next_state(entry: Entry, t: Tally, lc: LifecycleConfig) -> dict[str, Any]:
    """The entry's status, confidence and counters under the lifecycle rule (module docstring)."""
    changes: dict[str, Any] = {"confirmations": t.confirmations, "refutations": t.refutations}
    anchor = max(entry.created_at, t.last_support or entry.created_at)
    changes["expires_at"] = anchor + lc.expiry_days * DAY
    if t.refutations and t.refutations > t.confirmations:
        changes["status"] = EntryStatus.REFUTED
        changes["confidence"] = min(entry.confidence, lc.hypothesis_confidence) * REFUTED_FACTOR
    elif t.validated:
        changes["status"] = EntryStatus.VALIDATED
        changes["confidence"] = max(entry.confidence, lc.validated_confidence)
    elif t.confirmations:
        steps = max(lc.confirmations_needed - 1, 1)
        level = min(t.confirmations, steps) - 1
        step = (lc.validated_confidence - lc.confidence_floor) / steps
        changes["status"] = entry.status if entry.status == EntryStatus.VALIDATED else EntryStatus.STAGED
        changes["confidence"] = round(lc.confidence_floor + step * level, 6)
    return changes


@dataclass(frozen=True)
class Subject:
    """What is judged: a hypothesis or prediction's text, its test spec and the registered test
    (None for an unknown type: it is never confirmed, only expires). ``vector_id`` names a
    stored vector of the text, if any."""

    vector_id: str | None
    text: str
    spec: Mapping[str, Any]
    test: EvidenceTest | None

    @staticmethod
    def of(
        vector_id: str | None, text: str, data: Mapping[str, Any], tests: Mapping[str, EvidenceTest]
    ) -> Subject:
        spec = data.get("test")
        spec = spec if isinstance(spec, dict) else {}
        return Subject(vector_id, text, spec, tests.get(str(spec.get("type"))))


@dataclass
class ValidationReport:
    """What one validator call did. ``confirmed_topics`` feeds the dream-correlation tracker:
    which dream-made hypotheses (and their topics) real experience confirmed, by which episode."""

    now: float
    episodes: int = 0
    ignored: int = 0
    evidence: int = 0
    confirmed: list[str] = field(default_factory=list)
    refuted: list[str] = field(default_factory=list)
    validated: list[str] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)
    predictions: dict[str, str] = field(default_factory=dict)
    promoted: list[str] = field(default_factory=list)
    confirmed_topics: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _topic(entry: Entry) -> str:
    test = entry.data.get("test", {})
    for key in ("context", "topic"):
        if isinstance(test, dict) and test.get(key) is not None:
            return str(test[key])
        if entry.data.get(key) is not None:
            return str(entry.data[key])
    return " ".join(entry.keys[:3]) or entry.kind


@dataclass
class _Judging:
    """One validator call's view: the judged episodes' origins and, per hypothesis, its grounds
    (read once)."""

    store: Store
    origins: Mapping[str, Origin]
    _grounds: dict[str, Grounds] = field(default_factory=dict)

    def grounds(self, entry_id: str) -> Grounds:
        if entry_id not in self._grounds:
            self._grounds[entry_id] = self.store.evidence_grounds(entry_id)
        return self._grounds[entry_id]

    def may_judge(self, h: Entry, episode_id: str, polarity: int) -> bool:
        """Later experience only: not an episode the hypothesis rests on (at any depth), recorded
        after the hypothesis was made (record time), and, to confirm, from a party other than the
        ones it rests on."""
        origin, grounds = self.origins[episode_id], self.grounds(h.id)
        if episode_id in grounds.episodes or episode_id in h.sources or origin.recorded_at <= h.created_at:
            return False
        return polarity < 0 or origin.party not in grounds.parties


class Validator:
    """Judges awake episodes against open hypotheses and predictions; the awake path, so it
    writes directly through the store, in one transaction per call."""

    def __init__(
        self,
        store: Store,
        embedder: Embedder,
        config: Config,
        *,
        tests: Mapping[str, EvidenceTest] | None = None,
        playbook: Playbook | None = None,
    ) -> None:
        """``tests`` are the evidence tests by name (a memory's registry's; the built-ins by
        default); ``playbook`` is the memory's own, so the probes registered on it judge what the
        ``auto`` policy promotes."""
        self.store = store
        self.embedder = embedder
        self.lc = config.lifecycle
        self.tests = tests if tests is not None else {t.name: t for t in builtin_tests()}
        self.playbook = playbook if playbook is not None else Playbook(store)

    def run(self, episodes: Sequence[Episode], now: float) -> ValidationReport:
        """Judge ``episodes`` (already recorded), then sweep. Episodes the store does not hold as
        awake are ignored, whatever the objects passed in claim; each one is judged with the
        origin the store vouches for (record time, party), never the passed object's fields."""
        report = ValidationReport(now=now, episodes=len(episodes))
        with self.store.transaction():
            stored = self.store.episodes([e.id for e in episodes])
            usable = [
                stored[e.id]
                for e in episodes
                if e.id in stored
                and stored[e.id].provenance == Provenance.AWAKE
                and not is_poisoned(stored[e.id].text)
            ]
            usable = list({e.id: e for e in usable}.values())
            report.ignored = len(episodes) - len(usable)
            if usable:
                judging = _Judging(self.store, self.store.episode_origins([e.id for e in usable]))
                touched = self._judge_predictions(judging, usable, now, report)
                touched |= self._judge_hypotheses(judging, usable, report)
                self._settle(judging, touched, report)
            self._sweep(now, report)
        return report

    def sweep(self, now: float) -> ValidationReport:
        """Expire stale hypotheses, lapse due predictions, apply the auto policy."""
        report = ValidationReport(now=now)
        with self.store.transaction():
            self._sweep(now, report)
        return report

    # -- judging
    def _matrix(self, items: Sequence[tuple[str | None, str]]) -> np.ndarray:
        """Unit vectors for (id, text) pairs: the stored vector when the id has one (episodes and
        entries are embedded when written), else the text embedded now."""
        stored = self.store.vectors_for([i for i, _ in items if i is not None], self.embedder.name)
        missing = [t for i, t in items if i not in stored]
        fresh = iter(self.embedder.embed(missing)) if missing else iter(())
        rows = [stored[i] if i in stored else next(fresh) for i, _ in items]
        matrix = np.vstack(rows).astype(np.float32)
        matrix /= np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
        return matrix

    def _verdicts(self, subjects: Sequence[Subject], eps: Sequence[Episode]) -> list[list[Verdict]]:
        """For each subject, the verdict of each episode."""
        idx = [n for n, s in enumerate(subjects) if s.test is not None and s.test.needs_similarity]
        sims = np.zeros((len(subjects), len(eps)), dtype=np.float32)
        if idx and eps:
            left = self._matrix([(subjects[n].vector_id, subjects[n].text) for n in idx])
            sims[idx] = left @ self._matrix([(e.id, e.text) for e in eps]).T
        return [
            [Verdict.SILENT] * len(eps)
            if s.test is None
            else [s.test.judge(s.spec, s.text, ep, float(sims[n, j])) for j, ep in enumerate(eps)]
            for n, s in enumerate(subjects)
        ]

    def _judge_hypotheses(self, j: _Judging, eps: Sequence[Episode], report: ValidationReport) -> set[str]:
        hyps = self.store.testable_hypotheses()
        subjects = [Subject.of(h.id, h.text, h.data, self.tests) for h in hyps]
        touched: set[str] = set()
        for h, row in zip(hyps, self._verdicts(subjects, eps), strict=True):
            for ep, verdict in zip(eps, row, strict=True):
                if verdict != Verdict.SILENT and self._record(j, h, ep, int(verdict), report):
                    touched.add(h.id)
        return touched

    def _record(self, j: _Judging, h: Entry, ep: Episode, polarity: int, report: ValidationReport) -> bool:
        """Write one evidence row if this episode may judge this hypothesis (:meth:`_Judging.may_judge`)."""
        if not j.may_judge(h, ep.id, polarity):
            return False
        origin = j.origins[ep.id]
        if not self.store.add_evidence(EvidenceRow(h.id, ep.id, polarity, origin.recorded_at, origin.party)):
            return False
        report.evidence += 1
        if polarity > 0:
            if h.id not in report.confirmed:
                report.confirmed.append(h.id)
            report.confirmed_topics.append(
                {
                    "entry": h.id,
                    "kind": h.kind,
                    "topic": _topic(h),
                    "cycle_id": h.cycle_id,
                    "episode": ep.id,
                    "ts": origin.recorded_at,
                }
            )
        return True

    def _judge_predictions(
        self, j: _Judging, eps: Sequence[Episode], now: float, report: ValidationReport
    ) -> set[str]:
        """Resolve each open prediction by the earliest-recorded episode that decides it between
        its making and its checkpoint (record time). A prediction tied to a hypothesis is not
        resolved by the parties that hypothesis rests on."""
        rows = self.store.predictions(OPEN)
        subjects = [Subject.of(None, p.text, p.data, self.tests) for p in rows]
        linked = self.store.entries([p.entry_id for p in rows if p.entry_id])
        touched: set[str] = set()
        for p, row in zip(rows, self._verdicts(subjects, eps), strict=True):
            entry = linked.get(p.entry_id or "")
            decisive = [
                (ep, v)
                for ep, v in zip(eps, row, strict=True)
                if v
                and p.made_at < j.origins[ep.id].recorded_at <= p.due_at
                and (entry is None or j.origins[ep.id].party not in j.grounds(entry.id).parties)
            ]
            if not decisive:
                continue
            ep, verdict = min(decisive, key=lambda pair: (j.origins[pair[0].id].recorded_at, pair[0].id))
            status = "confirmed" if verdict > 0 else "refuted"
            self.store.resolve_prediction(p.id, status, ep.id, now)
            report.predictions[p.id] = status
            if entry is not None and self._record(j, entry, ep, int(verdict), report):
                touched.add(entry.id)
        return touched

    # -- settling
    def _settle(self, j: _Judging, ids: set[str], report: ValidationReport) -> None:
        current = self.store.entries(sorted(ids))
        updates: dict[str, dict[str, Any]] = {}
        for entry_id, rows in self.store.evidence_for(sorted(ids)).items():
            entry = current[entry_id]
            changes = next_state(entry, tally(rows, self.lc, j.grounds(entry_id).parties), self.lc)
            status = changes.get("status", entry.status)
            if status == EntryStatus.VALIDATED and entry.status != EntryStatus.VALIDATED:
                report.validated.append(entry_id)
            if status == EntryStatus.REFUTED and entry.status != EntryStatus.REFUTED:
                report.refuted.append(entry_id)
            updates[entry_id] = changes
        self.store.update_entries(updates)

    def _sweep(self, now: float, report: ValidationReport) -> None:
        stale = self.store.expirable_entries(now, self.lc.expiry_days * DAY)
        self.store.update_entries({entry.id: {"status": EntryStatus.EXPIRED} for entry in stale})
        report.expired.extend(entry.id for entry in stale)
        for p in self.store.predictions(OPEN):
            if p.due_at <= now:
                self.store.resolve_prediction(p.id, "lapsed", None, now)
                report.predictions[p.id] = "lapsed"
        report.promoted = self.playbook.at(now).auto_promote()
