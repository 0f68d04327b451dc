"""Knowledge recombination (seed 004, activity 3; Wright 1932): complementary entries that were
individually useful but never tested together are merged into one hypothesis.

A pair qualifies when both entries are above the population's mean fitness, their context
similarity (cosine of their stored embeddings) is at most ``recombination_similarity``, and they
were never used together. "Used together" is read from what the store keeps: two entries that
rest on a common source were derived from one experience, and two that some entry already cites
both were already combined; either disqualifies the pair. (Recall does not record which entries
it returned side by side, so co-retrieval itself is not seen.)

At most ``recombinations_per_cycle`` pairs, best summed fitness first; each becomes a
``recombination`` entry at ``recombination_confidence``, generation max(parents) + 1, sourced on
both parents, its fitness the parents' mean (seed 004). INTEGRATION admits it like any dream
output.
"""

from __future__ import annotations

import itertools

import numpy as np

from oneiro.dream.ops.evolution.fitness import fitness
from oneiro.dream.ops.evolution.memetic import EXEMPT_KINDS, LIVE
from oneiro.dream.phase import Carry, Context, Outcome, Snapshot
from oneiro.dream.writes import Note, Writes
from oneiro.model import Entry, Provenance, Tier, entry_id
from oneiro.store.query import EntryQuery

KIND = "recombination"
#: Above-mean entries considered, fittest first: pairs grow with the square (seed 004: O(k^2),
#: "~milliseconds"); 64 gives at most 2,016 pairs.
MAX_CANDIDATES = 64


class KnowledgeRecombination:
    name = "knowledge_recombination"
    tier = Tier.T0

    def run(self, snap: Snapshot, ctx: Context, carry: Carry) -> Outcome:
        cfg = ctx.config.evolution
        query = EntryQuery(statuses=tuple(s.value for s in LIVE), min_uses=1, returned=True)
        pop = [e for e in snap.entries_matching(query) if e.kind not in EXEMPT_KINDS]
        if len(pop) < 2:
            return _note({"skipped": "fewer than two entries under selection"})
        fit = {e.id: fitness(e, ctx.now, cfg) for e in pop}
        w_bar = sum(fit.values()) / len(fit)
        high = sorted((e for e in pop if fit[e.id] > w_bar), key=lambda e: (-fit[e.id], e.id))[
            :MAX_CANDIDATES
        ]
        if len(high) < 2:
            return _note({"skipped": "fewer than two entries above mean fitness", "mean_fitness": w_bar})
        vectors = snap.vectors([e.id for e in high])
        combined = _already_combined(snap, high)
        made: list[Entry] = []
        pairs = sorted(
            itertools.combinations(high, 2), key=lambda p: (-(fit[p[0].id] + fit[p[1].id]), p[0].id)
        )
        for a, b in pairs:
            if len(made) >= cfg.recombinations_per_cycle:
                break
            if set(a.sources) & set(b.sources) or frozenset((a.id, b.id)) in combined:
                continue
            sim = _cosine(vectors.get(a.id), vectors.get(b.id))
            if sim is None or sim > cfg.recombination_similarity:
                continue
            made.append(_combine(ctx, a, b, (fit[a.id] + fit[b.id]) / 2.0, sim))
        payload = {"candidates": len(high), "mean_fitness": w_bar, "made": [e.sources for e in made]}
        return Outcome(
            Writes(entries=made, notes=[Note("evolution.recombination", payload)]), did={"made": len(made)}
        )


def _already_combined(snap: Snapshot, entries: list[Entry]) -> set[frozenset[str]]:
    citing = snap.entries_citing([e.id for e in entries])
    by_citer: dict[str, set[str]] = {}
    for parent, citers in citing.items():
        for c in citers:
            by_citer.setdefault(c, set()).add(parent)
    return {frozenset(p) for parents in by_citer.values() for p in itertools.combinations(sorted(parents), 2)}


def _cosine(a: np.ndarray | None, b: np.ndarray | None) -> float | None:
    if a is None or b is None:
        return None
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na == 0.0 or nb == 0.0:
        return None
    return float(np.dot(a, b) / (na * nb))


def _combine(ctx: Context, a: Entry, b: Entry, fit: float, sim: float) -> Entry:
    text = f"Combined: [{a.text}] and [{b.text}]"
    sources = (a.id, b.id)
    data = {"parents": [a.id, b.id], "similarity": round(sim, 6)}
    return Entry(
        id=entry_id(KIND, text, sources, data),
        kind=KIND,
        text=text,
        sources=sources,
        provenance=Provenance.RECOMBINATION,
        cycle_id=ctx.cycle_id,
        confidence=ctx.config.evolution.recombination_confidence,
        keys=tuple(dict.fromkeys([*a.keys, *b.keys])),
        data=data,
        created_at=ctx.now,
        fitness=fit,
        generation=max(a.generation, b.generation) + 1,
    )


def _note(payload: dict[str, object]) -> Outcome:
    return Outcome(Writes(notes=[Note("evolution.recombination", payload)]), did={"made": 0})
