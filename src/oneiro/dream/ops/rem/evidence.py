"""``outcome_region``: how awake decisions settle what REM imagined about outcomes.

Every REM hypothesis about outcomes (a threat, a rule variant, a recombined decision, a creative
prediction) says: *a decision taking action A in a context inside region R lands in [low, high]*.
A later awake decision taking A whose numeric context lies in R supports it when its finite outcome
lies in the interval and refutes it when it lies outside; any other episode (another action, a
context outside R, no finite outcome) says nothing. Bounds and region edges may be open (null).
The test reads the episode only, never an entry, so dream output cannot confirm dream output; the
validator adds provenance and independence on top.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from oneiro.dream.ops.rem.scm import features_of, outcome_of
from oneiro.dream.ops.replay import action_of
from oneiro.model import Episode
from oneiro.validation import Verdict


def bound(value: Any) -> float | None:
    """A finite number, else None (an open bound; a malformed one is open too)."""
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def within(value: float, low: Any, high: Any) -> bool:
    lo, hi = bound(low), bound(high)
    return (lo is None or value >= lo) and (hi is None or value <= hi)


def in_region(episode: Episode, region: Any) -> bool:
    """The episode's features lie in every ``feature -> [low, high]`` of ``region``."""
    if not isinstance(region, Mapping):
        return not region
    feats = features_of(episode)
    for name, edges in region.items():
        if name not in feats or not isinstance(edges, list | tuple) or len(edges) != 2:
            return False
        if not within(feats[name], edges[0], edges[1]):
            return False
    return True


class OutcomeRegion:
    """Spec ``{"type": "outcome_region", "action", "region", "low", "high"}``."""

    name = "outcome_region"
    needs_similarity = False

    def judge(self, spec: Mapping[str, Any], text: str, episode: Episode, similarity: float) -> Verdict:
        action = spec.get("action")
        outcome = outcome_of(episode)
        if not isinstance(action, str) or action_of(episode) != action or outcome is None:
            return Verdict.SILENT
        if not in_region(episode, spec.get("region") or {}):
            return Verdict.SILENT
        if bound(spec.get("low")) is None and bound(spec.get("high")) is None:
            return Verdict.SILENT
        return Verdict.SUPPORTS if within(outcome, spec.get("low"), spec.get("high")) else Verdict.REFUTES


def outcome_test(
    action: str, region: Mapping[str, Any], low: float | None, high: float | None
) -> dict[str, Any]:
    """The ``data["test"]`` of a REM hypothesis about outcomes (JSON-ready; open bounds null)."""
    clean = {k: [bound(v[0]), bound(v[1])] for k, v in sorted(region.items())}
    return {
        "type": "outcome_region",
        "action": action,
        "region": clean,
        "low": bound(low),
        "high": bound(high),
    }


#: affect_settled: cosine at which a later episode is about the same charged moment. Lower than
#: text_support's restatement threshold: the subject returns in other words, not restated.
SAME_SUBJECT_SIMILARITY = 0.5


class AffectSettled:
    """A depotentiation says: this charged moment no longer needs its charge. A later awake
    episode about the same subject (similarity at least ``min_similarity``) that records an
    affect supports it when its |arousal| is below ``charged`` and refutes it when the charge is
    back; one without an affect, or about something else, says nothing."""

    name = "affect_settled"
    needs_similarity = True

    def judge(self, spec: Mapping[str, Any], text: str, episode: Episode, similarity: float) -> Verdict:
        threshold = bound(spec.get("min_similarity"))
        charged = bound(spec.get("charged"))
        if episode.affect is None or charged is None or episode.id == spec.get("episode"):
            return Verdict.SILENT
        if similarity < (SAME_SUBJECT_SIMILARITY if threshold is None else threshold):
            return Verdict.SILENT
        return Verdict.SUPPORTS if abs(episode.affect.arousal) < charged else Verdict.REFUTES
