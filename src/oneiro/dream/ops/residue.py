"""ONSET: collect the waking residue a dream should start from.

The residue is what the day left unresolved: the largest prediction residuals, failures (error
episodes, negative feedback) and high-arousal moments among the new episodes. NREM uses it to raise
the replay gain of those episodes. Pure: it only reads the snapshot.
"""

from __future__ import annotations

from oneiro.dream.phase import Carry, Context, Outcome, Residue, Snapshot
from oneiro.model import Tier

#: How many of the largest residuals to carry forward.
TOP_RESIDUALS = 32
#: Arousal at or above which a moment counts as emotionally charged (PAD scale, [-1, 1]).
AROUSAL_CHARGED = 0.6
FAILURE_KINDS = frozenset({"error", "failure"})


class CollectResidue:
    name = "residue"
    tier = Tier.T0

    def run(self, snap: Snapshot, ctx: Context, carry: Carry) -> Outcome:
        new = snap.new_episodes
        with_residual = sorted(
            (e for e in new if e.residual is not None), key=lambda e: -abs(e.residual or 0.0)
        )[:TOP_RESIDUALS]
        failures = [
            e.id for e in new if e.kind in FAILURE_KINDS or (e.feedback is not None and e.feedback < 0)
        ]
        charged = [e.id for e in new if e.affect is not None and abs(e.affect.arousal) >= AROUSAL_CHARGED]
        residue = Residue(residuals=[e.id for e in with_residual], failures=failures, charged=charged)
        return Outcome(
            carry=Carry(residue=residue),
            did={
                "episodes": len(new),
                "residuals": len(with_residual),
                "failures": len(failures),
                "charged": len(charged),
            },
        )
