"""REM's budget split: a minimum creative allocation (seed 003: 20% of REM's budget) so that
threat rehearsal cannot starve imagination, nor imagination rehearsal.

REM runs counterfactuals, then imagination (recombination, predictions, depotentiation), then
rehearsal (threat simulation). Each runs under a :class:`Share` of the phase budget that is
exhausted once the phase has spent ``until`` of its seconds: counterfactuals stop at
``1 - 2 x floor``, imagination at ``1 - floor``, rehearsal at the end. So however long the one
before takes, imagination keeps at least ``floor`` of the phase and rehearsal the last ``floor``;
imagination runs before rehearsal, so rehearsal cannot take its share either. A share reads only
the phase budget's own clock (``elapsed``); a budget without one (a test's) is only delegated to.
Every operation checks its share between units of work and reports what it left.
"""

from __future__ import annotations

from dataclasses import replace

from oneiro.dream.phase import Budget, Carry, Context, Operation, Outcome, Snapshot
from oneiro.model import Tier


class Share:
    """The phase budget as one REM operation sees it: spent at ``until`` of its seconds."""

    def __init__(self, parent: Budget, until: float) -> None:
        self._parent = parent
        self._until = until

    @property
    def seconds(self) -> float:
        return self._parent.seconds * self._until

    @property
    def tokens(self) -> int:
        return self._parent.tokens

    def exhausted(self) -> bool:
        if self._parent.exhausted():
            return True
        elapsed = getattr(self._parent, "elapsed", None)
        return callable(elapsed) and float(elapsed()) >= self.seconds

    def spend_tokens(self, n: int) -> None:
        self._parent.spend_tokens(n)


class Allotted:
    """``op`` run under a :class:`Share` that leaves ``reserve`` creative floors
    (``rem.creative_floor``, read from the cycle's config) of the phase to what follows it."""

    def __init__(self, op: Operation, reserve: int) -> None:
        self.op = op
        self.reserve = reserve
        self.name: str = op.name
        self.tier: Tier = op.tier

    def run(self, snap: Snapshot, ctx: Context, carry: Carry) -> Outcome:
        until = max(0.0, 1.0 - self.reserve * ctx.config.rem.creative_floor)
        return self.op.run(snap, replace(ctx, budget=Share(ctx.budget, until)), carry)
