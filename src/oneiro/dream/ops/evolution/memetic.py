"""Memetic selection over entries (seed 004, activity 1; 01b memetic model): one iteration of
variation, selection and inheritance per cycle.

* **Population**: the live entries recall has used (``uses >= 1``; what was never recalled is
  under no selection), of returned cycles or made awake, but for the phase's own bookkeeping.
* **Selection**: each entry's fitness (:func:`fitness.fitness`) is recomputed; the stored one
  becomes ``previous_fitness``. Immune checks: an entry carrying a poisoning signature (the
  admission check) or a parasite (retrieved often, linked to more harm than help) is demoted:
  its confidence and its new fitness are multiplied by ``parasite_decay`` (faster than the
  ordinary demurrage); an entry a contradiction pits against validated knowledge loses
  confidence by ``decay``. Demoted entries leave no copies.
* **Variation**: the ``variation_candidates`` entries whose fitness moved most (and is positive)
  get variants (confidence perturbation, context expansion, threshold adjustment), each a
  staged entry of generation + 1 with its parent as source.
* **Inheritance**: variants of parents at or above mean fitness survive (a variant inherits its
  parent's fitness); the rest are discarded before they consume capacity.
* **Price**: the split of the change in mean fitness into selection and transmission, journaled.

Never destructive: updates change confidence and the memetic columns only, undo-logged by the
cycle. Every figure is finite (non-finite fitness reads as 0).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from oneiro.config import EvolutionConfig
from oneiro.dream.ops.evolution.fitness import fitness, is_parasite, price
from oneiro.dream.ops.poisoning import signatures
from oneiro.dream.phase import Carry, Context, Outcome, Snapshot
from oneiro.dream.writes import EntryUpdate, Note, Writes
from oneiro.model import Entry, EntryStatus, Provenance, Tier, entry_id
from oneiro.store.query import EntryQuery

#: Statuses under selection: what recall can return.
LIVE = (EntryStatus.ACTIVE, EntryStatus.VALIDATED, EntryStatus.STAGED)
#: The phase's own bookkeeping is not knowledge under selection.
EXEMPT_KINDS = frozenset({"strategy_mix", "dream_fingerprints", "contradiction"})
#: Source episodes read for a context expansion (their context labels widen the variant's keys).
CONTEXT_SOURCES = 5
#: A threshold adjustment moves a numeric threshold by at most this fraction (seed 004 names the
#: mutation, not its size; the confidence perturbation's 0.1 is reused).
THRESHOLD_STEP = 0.1


def _finite(x: float) -> float:
    return x if math.isfinite(x) else 0.0


class MemeticSelection:
    name = "memetic_selection"
    tier = Tier.T0

    def run(self, snap: Snapshot, ctx: Context, carry: Carry) -> Outcome:
        cfg = ctx.config.evolution
        query = EntryQuery(statuses=tuple(s.value for s in LIVE), min_uses=1, returned=True)
        pop = [e for e in snap.entries_matching(query) if e.kind not in EXEMPT_KINDS]
        if not pop:
            return _skip("no entry has been used by recall yet")
        old = {e.id: _finite(e.fitness) for e in pop}
        new = {e.id: _finite(fitness(e, ctx.now, cfg)) for e in pop}
        writes, demoted = Writes(), self._immune(pop, new, cfg, carry)
        for e in pop:
            changes: dict[str, Any] = dict(demoted.get(e.id, {}))
            if new[e.id] != old[e.id] or changes:
                changes.update(fitness=new[e.id], previous_fitness=old[e.id])
                why = changes.pop("reason", "fitness recomputed")
                writes.updates.append(EntryUpdate(e.id, changes, str(why)))
        w_bar = sum(new.values()) / len(new)
        ids = [e.id for e in pop]
        equal = all(new[i] == new[ids[0]] for i in ids)
        # All of equal fitness, selection has nothing to tell apart: no variant is worth more.
        survivors = [] if equal else self._variants(snap, ctx, pop, old, new, set(demoted), w_bar)
        writes.entries.extend(survivors)
        copies = {e.id: 0.0 if e.id in demoted else 1.0 for e in pop}
        for v in survivors:
            copies[v.sources[0]] += 1.0
        split = price([old[i] for i in ids], [new[i] for i in ids], [copies[i] for i in ids])
        report = {
            "population": len(pop),
            "mean_fitness": w_bar,
            "demoted": {i: str(c.get("reason")) for i, c in demoted.items()},
            "variants_surviving": len(survivors),
            "price": split.as_dict(),
        }
        if equal:
            report["no_variation"] = "all entries of equal fitness"
        writes.notes.append(Note("evolution.memetic", report))
        did = {"entries": len(pop), "demoted": len(demoted), "variants": len(survivors)}
        return Outcome(writes, did=did)

    @staticmethod
    def _immune(
        pop: Sequence[Entry], new: dict[str, float], cfg: EvolutionConfig, carry: Carry
    ) -> dict[str, dict[str, Any]]:
        """The demotions: poisoned and parasitic entries (``parasite_decay`` on confidence, and on
        their new fitness in ``new`` when it is positive: a demotion never raises a fitness), and
        entries a contradiction sets against validated knowledge (``decay`` on confidence)."""
        against = {c["entry"] for c in carry.contradictions or [] if c.get("validated_other")}
        out: dict[str, dict[str, Any]] = {}
        for e in pop:
            found = sorted({s for t in (e.text, *e.keys) for s in signatures(t)})
            if found or is_parasite(e, cfg):
                new[e.id] = min(new[e.id], new[e.id] * cfg.parasite_decay)
                why = (
                    f"poisoning signature {found}"
                    if found
                    else f"parasite: {e.harmful} harmful of {e.uses} uses"
                )
                out[e.id] = {"confidence": e.confidence * cfg.parasite_decay, "reason": why}
            elif e.id in against:
                out[e.id] = {
                    "confidence": e.confidence * cfg.decay,
                    "reason": "contradicts validated knowledge",
                }
        return out

    def _variants(
        self,
        snap: Snapshot,
        ctx: Context,
        pop: Sequence[Entry],
        old: dict[str, float],
        new: dict[str, float],
        demoted: set[str],
        w_bar: float,
    ) -> list[Entry]:
        """Variants of the moving frontier whose parent is at or above mean fitness."""
        cfg = ctx.config.evolution
        moving = [e for e in pop if new[e.id] > 0.0 and e.id not in demoted]
        moving.sort(key=lambda e: (-abs(new[e.id] - old[e.id]), e.id))
        parents = [e for e in moving[: cfg.variation_candidates] if new[e.id] >= w_bar]
        if not parents:
            return []
        varied = snap.entries_citing([p.id for p in parents])
        out: list[Entry] = []
        for p in parents:
            if varied.get(p.id):
                continue  # a parent is varied once; its variants must prove themselves first
            out.extend(self._mutate(snap, ctx, p, new[p.id]))
        return out

    def _mutate(self, snap: Snapshot, ctx: Context, parent: Entry, fit: float) -> list[Entry]:
        cfg = ctx.config.evolution
        delta = float(ctx.rng.uniform(-cfg.confidence_perturbation, cfg.confidence_perturbation))
        conf = min(1.0, max(0.0, parent.confidence + delta))
        made = [_variant(parent, ctx, fit, "confidence", f"(confidence {conf:.2f})", {"confidence": conf})]
        labels = _context_labels(snap, parent)
        if labels:
            keys = tuple(dict.fromkeys([*parent.keys, *labels]))
            made.append(_variant(parent, ctx, fit, "context", f"(also when {', '.join(labels)})", {}, keys))
        threshold = parent.data.get("threshold")
        if (
            isinstance(threshold, int | float)
            and not isinstance(threshold, bool)
            and math.isfinite(threshold)
        ):
            moved = float(threshold) * (1.0 + float(ctx.rng.uniform(-THRESHOLD_STEP, THRESHOLD_STEP)))
            made.append(
                _variant(parent, ctx, fit, "threshold", f"(threshold {moved:g})", {"threshold": moved})
            )
        return made


def _context_labels(snap: Snapshot, parent: Entry) -> list[str]:
    eps = snap.episodes(list(parent.sources[:CONTEXT_SOURCES]))
    labels = {
        f"{k}={v}"
        for ep in eps.values()
        for k, v in sorted(ep.context.items())
        if isinstance(v, str | int | bool) and not isinstance(v, float)
    }
    return sorted(labels - set(parent.keys))


def _variant(
    parent: Entry,
    ctx: Context,
    fit: float,
    mutation: str,
    suffix: str,
    extra: dict[str, Any],
    keys: tuple[str, ...] | None = None,
) -> Entry:
    text = f"{parent.text} {suffix}"
    data = {**extra, "mutation": mutation, "parent": parent.id, "parent_kind": parent.kind}
    sources = (parent.id,)
    return Entry(
        id=entry_id("variant", text, sources, data),
        kind="variant",
        text=text,
        sources=sources,
        provenance=Provenance.DREAM,
        cycle_id=ctx.cycle_id,
        confidence=ctx.config.lifecycle.hypothesis_confidence,
        keys=parent.keys if keys is None else keys,
        data=data,
        created_at=ctx.now,
        fitness=fit,
        generation=parent.generation + 1,
    )


def _skip(why: str) -> Outcome:
    return Outcome(Writes(notes=[Note("evolution.memetic", {"skipped": why})]), did={"entries": 0})
