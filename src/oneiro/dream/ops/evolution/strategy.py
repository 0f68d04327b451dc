"""The strategy-evolution operation: one replicator step on the stored concentration vector with
REM's imagined returns, proposed as a staged ``strategy_mix`` entry (sourced on the previous mix
and the cycle's REM output).

History is stored once per cycle: each mix holds its own cycle's concentrations and cites the
previous mix, which it supersedes (status ``superseded``, never deleted). So a cycle reads only
the live mix, never the whole history, and the chain of superseded mixes is the history of the
concentrations, one entry per cycle."""

from __future__ import annotations

from oneiro.dream.ops.evolution.replicator import imagined_fitness, replicator_step
from oneiro.dream.phase import Carry, Context, Outcome, Snapshot
from oneiro.dream.writes import EntryUpdate, Note, Writes
from oneiro.model import Entry, EntryStatus, Provenance, Tier, entry_id
from oneiro.store.query import EntryQuery

KIND = "strategy_mix"
#: Replayed episodes a new mix cites at most (the sources of one entry stay a readable list).
MAX_SOURCES = 20
#: The mix in force: not yet superseded by a later cycle's.
LIVE_MIX = EntryQuery(kinds=(KIND,), statuses=("staged", "active", "validated"), returned=True)


class StrategyEvolution:
    name = "strategy_evolution"
    tier = Tier.T0

    def run(self, snap: Snapshot, ctx: Context, carry: Carry) -> Outcome:
        returns = carry.imagined_returns
        if not returns:
            why = "REM produced no imagined returns this cycle" if returns is None else "no imagined returns"
            return Outcome(Writes(notes=[Note("evolution.strategy", {"skipped": why})]), did={"steps": 0})
        fit = imagined_fitness(returns)
        if not fit:
            skipped = {"skipped": "no finite imagined return"}
            return Outcome(Writes(notes=[Note("evolution.strategy", skipped)]))
        prior = snap.entries_matching(LIVE_MIX)
        latest = max(prior, key=lambda e: (e.created_at, e.id)) if prior else None
        start = dict(latest.data.get("concentrations", {})) if latest else {}
        cfg = ctx.config.evolution
        new, f_bar = replicator_step(start, fit, cfg.replicator_step, cfg.replicator_floor)
        data = {"concentrations": new, "cycle": ctx.cycle_id, "imagined_fitness": fit, "mean_fitness": f_bar}
        # Sourced on what is real: the previous mix and the replayed episodes REM imagined over.
        # A mix that could cite neither never enters (a dream entry names its evidence).
        replayed = [p["id"] for p in carry.replay or []][:MAX_SOURCES]
        sources = tuple(dict.fromkeys([*([latest.id] if latest else []), *replayed]))
        if not sources:
            unsourced = {"skipped": "neither a previous mix nor a replayed episode to cite"}
            return Outcome(Writes(notes=[Note("evolution.strategy", unsourced)]), did={"steps": 0})
        text = "Strategy mix: " + ", ".join(f"{a} {c:.3f}" for a, c in sorted(new.items()))
        entry = Entry(
            id=entry_id(KIND, text, sources, {"cycle": ctx.cycle_id}),
            kind=KIND,
            text=text,
            sources=sources,
            provenance=Provenance.DREAM,
            cycle_id=ctx.cycle_id,
            confidence=ctx.config.lifecycle.hypothesis_confidence,
            data=data,
            created_at=ctx.now,
            generation=(latest.generation + 1) if latest else 0,
        )
        note = Note("evolution.strategy", {"before": start, "after": new, "mean_imagined_fitness": f_bar})
        writes = Writes(entries=[entry], notes=[note])
        for old in prior:
            change = {"status": EntryStatus.SUPERSEDED, "superseded_by": entry.id, "valid_to": ctx.now}
            writes.updates.append(EntryUpdate(old.id, change, "a later cycle's strategy mix"))
        return Outcome(writes, did={"steps": 1})
