"""Dream fingerprints and the dream-to-reality loop (seed 004, "HDC dream seeds"; Kanerva 2009).

Each scenario a dream imagined (REM's counterfactuals: one per replayed decision and imagined
action; REM's threats when they name an episode, an action and an outcome) is fingerprinted as
the bundle of its regime (the replayed episode's context labels), strategy (the action) and
outcome (:class:`oneiro.hdc.Encoder`). The cycle's fingerprints are stored together in one
``dream_fingerprints`` entry, staged at the hypothesis confidence and sourced on the episodes the
scenarios came from (dream output, never evidence, below the recall floor).

Each new awake decision of the cycle (an episode with an action) is then compared with the
fingerprints of the last :data:`WINDOW` dreams (:class:`oneiro.hdc.CorrelationTracker`): a match
above ``predictive_similarity`` marks that dream predictive (``data["predictive"]`` of its entry:
how many of its scenarios real decisions matched, and which actions). The scheduler's predictive
weight is the share of recent dreams so marked (:func:`oneiro.scheduler.gather`): dreams that
turn out prophetic make dreaming more urgent. The real episodes are only compared, never cited as
confirming anything.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from oneiro import hdc
from oneiro.dream.phase import Carry, Context, Finding, Outcome, Snapshot
from oneiro.dream.writes import EntryUpdate, Note, Writes
from oneiro.model import Entry, EntryStatus, Episode, Provenance, Tier, entry_id
from oneiro.store.query import EntryQuery

KIND = "dream_fingerprints"
#: Earlier dreams whose fingerprints a new decision is compared with (seed 004 keeps a bounded
#: window; one entry per cycle, so this is cycles).
WINDOW = 50
#: Scenarios fingerprinted per cycle at most: 128 x 1 KiB hypervectors (base64 in ``data``) keeps
#: one cycle's entry near 180 kB, and a window of them within what a cycle reads in well under a
#: second. REM carries up to 64 findings, each with a few actions; the first 128 scenarios count.
MAX_SCENARIOS = 128
#: The dreams still in the window: older ones are retired (``expired``, kept, never deleted), so a
#: cycle reads at most ``WINDOW`` of them however many cycles the store has run.
LIVE = EntryQuery(kinds=(KIND,), statuses=("staged", "active", "validated"), returned=True)
#: Matched actions a predictive mark lists at most.
MAX_LISTED = 20


def regime_of(episode: Episode | None) -> list[str]:
    """The labels an episode's context gives as a regime (what :meth:`hdc.Encoder.episode_context`
    reads, so a dream's scenario and a real decision encode alike)."""
    ctx = episode.context if episode is not None else {}
    return [f"{k}={v}" for k, v in sorted(ctx.items()) if isinstance(v, str | int | bool)]


def scenarios(findings: Sequence[Finding], episodes: Mapping[str, Episode]) -> list[dict[str, Any]]:
    """(episode, action, outcome) of every scenario in REM's findings; strings and findings
    without a finite outcome are skipped."""
    out: list[dict[str, Any]] = []
    for f in findings:
        if not isinstance(f, dict) or not isinstance(f.get("episode"), str):
            continue
        ep = str(f["episode"])
        imagined = f.get("do")
        pairs = (
            [(a, v.get("mean")) for a, v in imagined.items() if isinstance(v, dict)]
            if isinstance(imagined, dict)
            else [(f.get("action"), f.get("outcome"))]
        )
        for action, value in pairs:
            if action is None or not isinstance(value, int | float) or not math.isfinite(value):
                continue
            out.append({"episode": ep, "action": str(action), "outcome": float(value)})
    return out[:MAX_SCENARIOS]


class DreamFingerprints:
    name = "dream_fingerprints"
    tier = Tier.T0

    def run(self, snap: Snapshot, ctx: Context, carry: Carry) -> Outcome:
        enc = hdc.Encoder(ctx.config.evolution.hdc_dimension)
        writes = Writes()
        live = sorted(
            (e for e in snap.entries_matching(LIVE) if e.cycle_id != ctx.cycle_id),
            key=lambda e: (e.created_at, e.id),
        )
        for old in live[:-WINDOW]:
            change = {"status": EntryStatus.EXPIRED}
            writes.updates.append(EntryUpdate(old.id, change, "beyond the dream correlation window"))
        marked = self._correlate(snap, ctx, enc, writes, live[-WINDOW:])
        findings = [*(carry.counterfactuals or []), *(carry.threats or [])]
        if not findings:
            why = "REM imagined no scenario this cycle"
            writes.notes.append(Note("evolution.fingerprints", {"fingerprinted": 0, "why": why, **marked}))
            return Outcome(writes, did={"fingerprints": 0})
        ids = sorted(
            {str(f["episode"]) for f in findings if isinstance(f, dict) and isinstance(f.get("episode"), str)}
        )
        episodes = snap.episodes(ids)
        found = [s for s in scenarios(findings, episodes) if s["episode"] in episodes]
        if not found:
            writes.notes.append(
                Note(
                    "evolution.fingerprints",
                    {"fingerprinted": 0, "why": "no scenario with an episode and an outcome", **marked},
                )
            )
            return Outcome(writes, did={"fingerprints": 0})
        for s in found:
            hv = enc.fingerprint(regime_of(episodes[s["episode"]]), s["action"], s["outcome"])
            s["hv"] = base64.b64encode(hv.tobytes()).decode("ascii")
        sources = tuple(dict.fromkeys(s["episode"] for s in found))
        text = f"Dream fingerprints: {len(found)} scenarios over {len(sources)} decisions"
        data = {"dim": enc.dim, "fingerprints": found}
        writes.entries.append(
            Entry(
                id=entry_id(KIND, text, sources, {"cycle": ctx.cycle_id}),
                kind=KIND,
                text=text,
                sources=sources,
                provenance=Provenance.DREAM,
                cycle_id=ctx.cycle_id,
                confidence=ctx.config.lifecycle.hypothesis_confidence,
                data=data,
                created_at=ctx.now,
            )
        )
        writes.notes.append(Note("evolution.fingerprints", {"fingerprinted": len(found), **marked}))
        return Outcome(writes, did={"fingerprints": len(found)})

    def _correlate(
        self, snap: Snapshot, ctx: Context, enc: hdc.Encoder, writes: Writes, stored: Sequence[Entry]
    ) -> dict[str, int]:
        """Mark earlier dreams predictive when a new awake decision matches one of their scenarios."""
        decisions = [
            e
            for e in snap.new_episodes
            if e.provenance == Provenance.AWAKE and (e.data or {}).get("action") is not None
        ]
        if not decisions:
            return {"compared": 0, "predictive_dreams": 0}
        tracker = hdc.CorrelationTracker(enc.dim, window=WINDOW * MAX_SCENARIOS)
        for entry in stored:
            if entry.data.get("dim") != enc.dim:
                continue
            for i, s in enumerate(entry.data.get("fingerprints", [])):
                hv = np.frombuffer(base64.b64decode(s["hv"]), dtype=np.uint8)
                if hv.shape == (enc.dim // 8,):
                    tracker.record(hv, {"entry": entry.id, "scenario": i, "action": s.get("action")})
        matches: dict[str, list[str]] = {}
        for ep in decisions:
            for _sim, meta in tracker.correlate(
                enc.episode_context(ep), ctx.config.evolution.predictive_similarity
            ):
                matches.setdefault(meta["entry"], []).append(str(meta["action"]))
        by_id = {e.id: e for e in stored}
        for eid, actions in matches.items():
            entry = by_id[eid]
            old = entry.data.get("predictive") or {}
            mark = {
                "matches": int(old.get("matches", 0)) + len(actions),
                "actions": sorted(set(actions))[:MAX_LISTED],
            }
            writes.updates.append(
                EntryUpdate(eid, {"data": {**entry.data, "predictive": mark}}, "dream proved predictive")
            )
        return {"compared": len(decisions), "predictive_dreams": len(matches)}
