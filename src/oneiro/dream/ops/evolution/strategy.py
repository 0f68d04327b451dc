"""The strategy-evolution operation: one replicator step on the stored concentration vector with
REM's imagined returns, proposed as a staged ``strategy_mix`` entry (sourced on the previous mix
and the cycle's REM output) that holds the concentrations and their history per cycle."""

from __future__ import annotations

from oneiro.dream.ops.evolution.replicator import imagined_fitness, replicator_step
from oneiro.dream.phase import Carry, Context, Outcome, Snapshot
from oneiro.dream.writes import Note, Writes
from oneiro.model import Entry, Provenance, Tier, entry_id
from oneiro.store.query import EntryQuery

KIND = "strategy_mix"
#: Replayed episodes a new mix cites at most (the sources of one entry stay a readable list).
MAX_SOURCES = 20


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
        prior = snap.entries_matching(EntryQuery(kinds=(KIND,)))
        latest = max(prior, key=lambda e: (e.created_at, e.id)) if prior else None
        start = dict(latest.data.get("concentrations", {})) if latest else {}
        history = list(latest.data.get("history", [])) if latest else []
        cfg = ctx.config.evolution
        new, f_bar = replicator_step(start, fit, cfg.replicator_step, cfg.replicator_floor)
        history.append({"cycle": ctx.cycle_id, "concentrations": new})
        data = {"concentrations": new, "history": history, "imagined_fitness": fit, "mean_fitness": f_bar}
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
        return Outcome(Writes(entries=[entry], notes=[note]), did={"steps": 1})
