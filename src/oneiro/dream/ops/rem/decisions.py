"""The decisions REM imagines over: the store's, read through the snapshot, bounded.

The causal model is fitted per store, not per cycle: a cycle's intake may hold a handful of
decisions, too few to model any action, while the store holds hundreds. Reading the whole store
would make every cycle grow with its history, so REM reads at most ``rem.model_window`` of the latest
episodes recorded before the cycle began (:meth:`StoreSnapshot.recent_episodes`), plus this
cycle's intake (which a window always ends on, but a snapshot without a window still has).
Invariant: only awake episodes are read, each once; conversation turns are left out (they are no
decisions), while a decision missing its action or outcome is kept so the model counts it skipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from oneiro.dream.ops.rem.scm import CausalModel
from oneiro.dream.ops.replay import action_of
from oneiro.dream.phase import Context, Snapshot
from oneiro.model import Episode, Provenance

#: Default of ``rem.model_window``: latest episodes read per cycle for the store's causal model.
#: 5,000 decisions fit a per-action ridge ensemble in well under a second, and a store's recent
#: decisions describe its present better than its oldest ones.
MODEL_WINDOW = 5_000


@runtime_checkable
class RecentView(Protocol):
    """A snapshot that can read the latest episodes recorded before the cycle began."""

    def recent_episodes(self, limit: int) -> list[Episode]: ...


def looks_like_decision(ep: Episode) -> bool:
    """A decision, well-formed or not: kind ``decision``, or an action, or an outcome."""
    return ep.kind == "decision" or action_of(ep) is not None or ep.outcome is not None


def store_decisions(snap: Snapshot, window: int = MODEL_WINDOW) -> list[Episode]:
    """The store's recent decisions (at most ``window`` episodes read) and this cycle's, oldest
    first, each once."""
    recent: Sequence[Episode] = snap.recent_episodes(window) if isinstance(snap, RecentView) else ()
    seen: dict[str, Episode] = {}
    for ep in (*recent, *snap.new_episodes):
        if ep.provenance == Provenance.AWAKE and looks_like_decision(ep):
            seen.setdefault(ep.id, ep)
    return list(seen.values())


def store_model(snap: Snapshot, ctx: Context) -> CausalModel:
    """The store's causal model, fitted on :func:`store_decisions` with ``rem``'s settings."""
    cfg = ctx.config.rem
    return CausalModel(
        store_decisions(snap, cfg.model_window),
        min_samples=cfg.min_action_samples,
        reps=cfg.bootstrap,
        rng=ctx.rng,
    )
