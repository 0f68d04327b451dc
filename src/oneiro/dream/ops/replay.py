"""NREM prioritized replay: which new episodes a dream replays, by Mattar-Daw utility.

Mattar & Daw (2018, "Prioritized memory access explains planning and hippocampal replay") show
that a memory should be replayed in order of ``utility = gain x need``: *gain* is how much replaying
it would change what the agent believes, *need* how often the agent expects to be in that state
again. oneiro estimates both from what an episode carries, for two kinds of episode:

Decision episodes (a finite ``prediction`` and ``outcome``):

* gain = ``|residual| / max |residual|`` over this cycle's decisions: the prediction error a
  replay could correct, the TD error of the paper's gain term, scaled to [0, 1];
* need = the share of this cycle's decisions made in the same context (:func:`decision_key`): the
  empirical occupancy of that context among recent decisions.

Conversational episodes (everything else with text; no outcome to be wrong about):

* gain = a weighted mean of surprise signals: stored importance (0-10, from capture), novelty (one
  minus the cosine to the most similar earlier episode) and membership of the waking residue
  (ONSET's largest residuals, failures and charged moments);
* need = ``(1 + m) / (1 + NEED_NEIGHBOURS)`` where ``m`` counts recent similar episodes (cosine at or
  above ``nrem.topic_similarity``, within ``RECENT_SECONDS``) among the nearest neighbours: the
  density of similar recent contexts, Laplace-smoothed so that a one-off still has some need.

Then the profoundness filter (seed 002): drop utilities at or below zero or under
``nrem.utility_threshold``, and take at most ``nrem.replay_top_k`` by maximal marginal relevance
over the episodes' vectors, so that the replay is not ten copies of one topic. Incremental: it
scores ``snap.new_episodes`` only. Output: ``carry["replay"]``, a list of
``{"id", "kind", "utility", "gain", "need"}`` in selection order, and a Note with the top ones.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from oneiro.dream.phase import Budget, Carry, Context, Outcome, ReplayPick, Snapshot
from oneiro.dream.writes import Note, Writes
from oneiro.model import Episode, Tier
from oneiro.validation import context_key

#: MMR trade-off between utility and novelty with respect to what is already chosen; 0.7 leans to
#: utility, in the range Carbonell & Goldstein (1998) recommend for relevance-first diversification.
MMR_LAMBDA = 0.7
#: Neighbours looked at when estimating the density of similar recent contexts.
NEED_NEIGHBOURS = 8
#: "Recent", for need: similar episodes older than this do not say the context recurs now.
RECENT_SECONDS = 30 * 86_400.0
#: Importance is stored on a 0-10 scale (capture).
IMPORTANCE_SCALE = 10.0
#: Weights of the conversational gain's surprise signals (sum to 1): importance already blends
#: novelty, residual, arousal and feedback at capture, so it weighs most.
W_IMPORTANCE = 0.5
W_NOVELTY = 0.3
W_RESIDUE = 0.2
#: Selections listed in the journal note.
NOTE_TOP = 10


# -- decision episodes, shared by the replay variants ------------------------------------------
def is_decision(ep: Episode) -> bool:
    """A decision episode with a finite prediction and outcome (so a finite residual)."""
    r = ep.residual
    return r is not None and math.isfinite(r)


def action_of(ep: Episode) -> str | None:
    """The action a decision took: ``data["action"]`` (a string), else ``context["action"]``."""
    for value in (ep.data.get("action"), ep.context.get("action")):
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def decision_key(ep: Episode) -> str | None:
    """The context a decision is grouped by: the key awake validation matches on
    (:func:`oneiro.validation.context_key`: ``context["key"]``, ``data["context_key"]``,
    ``data["context"]``), else the decision's action, so that decisions recorded without any
    context still group by what was done. None when there is neither."""
    return context_key(ep)


# -- selection ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Scored:
    id: str
    kind: str
    utility: float
    gain: float
    need: float

    def as_dict(self) -> ReplayPick:
        return ReplayPick(
            id=self.id,
            kind=self.kind,
            utility=round(self.utility, 6),
            gain=round(self.gain, 6),
            need=round(self.need, 6),
        )


def residue_ids(carry: Carry) -> set[str]:
    residue = carry.residue
    if residue is None:
        return set()
    return {*residue.get("residuals", []), *residue.get("failures", []), *residue.get("charged", [])}


def decision_scores(decisions: Sequence[Episode]) -> list[Scored]:
    """Gain from |residual|, need from the frequency of the decision's context key."""
    if not decisions:
        return []
    largest = max(abs(d.residual or 0.0) for d in decisions)
    keys = Counter(decision_key(d) for d in decisions)
    out = []
    for d in decisions:
        gain = abs(d.residual or 0.0) / largest if largest > 0 else 0.0
        key = decision_key(d)
        need = (keys[key] if key is not None else 1) / len(decisions)
        out.append(Scored(d.id, "decision", gain * need, gain, need))
    return out


class PrioritizedReplay:
    """Selects what NREM replays; the replay variants read ``carry["replay"]``."""

    name = "replay"
    tier = Tier.T0

    def run(self, snap: Snapshot, ctx: Context, carry: Carry) -> Outcome:
        decisions = [e for e in snap.new_episodes if is_decision(e)]
        chats = [e for e in snap.new_episodes if not is_decision(e) and e.text.strip()]
        if not decisions and not chats:
            note = Note("replay_selection", {"selected": [], "skipped": "no new episodes to replay"})
            return Outcome(Writes(notes=[note]), carry=Carry(replay=[]), did={"selected": 0})
        vectors = snap.vectors([e.id for e in (*decisions, *chats)])
        scored = decision_scores(decisions) + self._conversation(snap, ctx, chats, vectors, carry)
        threshold = ctx.config.nrem.utility_threshold
        eligible = [s for s in scored if s.utility > 0 and s.utility >= threshold]
        chosen, left = mmr(eligible, vectors, ctx.config.nrem.replay_top_k, ctx.budget)
        selection = [s.as_dict() for s in chosen]
        payload = {
            "selected": selection[:NOTE_TOP],
            "count": len(selection),
            "scored": len(scored),
            "below_threshold": len(scored) - len(eligible),
        }
        return Outcome(
            Writes(notes=[Note("replay_selection", payload)]),
            carry=Carry(replay=selection),
            did={"scored": len(scored), "selected": len(selection)},
            left={"candidates": left} if left else {},
        )

    def _conversation(
        self,
        snap: Snapshot,
        ctx: Context,
        chats: Sequence[Episode],
        vectors: Mapping[str, np.ndarray],
        carry: Carry,
    ) -> list[Scored]:
        if not chats:
            return []
        residue = residue_ids(carry)
        rated = carry.importance or {}
        tau = ctx.config.nrem.topic_similarity
        batch = [e for e in chats if e.id in vectors]
        found_all = (
            snap.similar_many(np.vstack([vectors[e.id] for e in batch]), NEED_NEIGHBOURS + 1) if batch else []
        )
        hits = {e.id: found for e, found in zip(batch, found_all, strict=True)}
        in_batch = {e.id: e for e in chats}
        outside = {o for found in hits.values() for o, _ in found if o not in in_batch}
        known = {**in_batch, **snap.episodes(sorted(outside))} if outside else in_batch
        sims = _pairwise(batch, vectors)
        out = []
        for ep in chats:
            neighbours = self._neighbours(ep, batch, sims, hits.get(ep.id, []))
            earlier = [s for o, s in neighbours if o in known and known[o].ts < ep.ts]
            novelty = 1.0 - max(earlier, default=0.0) if ep.id in vectors else 1.0
            recent = sum(
                1 for o, s in neighbours if s >= tau and o in known and known[o].ts >= ep.ts - RECENT_SECONDS
            )
            need = (1 + min(recent, NEED_NEIGHBOURS)) / (1 + NEED_NEIGHBOURS)
            gain = (
                W_IMPORTANCE * min(max(rated.get(ep.id, ep.importance) / IMPORTANCE_SCALE, 0.0), 1.0)
                + W_NOVELTY * min(max(novelty, 0.0), 1.0)
                + W_RESIDUE * (1.0 if ep.id in residue else 0.0)
            )
            out.append(Scored(ep.id, "conversation", gain * need, gain, need))
        return out

    @staticmethod
    def _neighbours(
        ep: Episode,
        batch: Sequence[Episode],
        sims: np.ndarray,
        stored: Sequence[tuple[str, float]],
    ) -> list[tuple[str, float]]:
        """The episode's nearest others: within this cycle's batch and in the stored index."""
        found = dict((o, float(s)) for o, s in stored if o != ep.id)
        ids = [e.id for e in batch]
        if ep.id in ids:
            row = sims[ids.index(ep.id)]
            for col in np.argsort(-row)[:NEED_NEIGHBOURS]:
                if ids[col] != ep.id:
                    found[ids[col]] = max(found.get(ids[col], -1.0), float(row[col]))
        return sorted(found.items(), key=lambda kv: -kv[1])[:NEED_NEIGHBOURS]


def _pairwise(batch: Sequence[Episode], vectors: Mapping[str, np.ndarray]) -> np.ndarray:
    if not batch:
        return np.zeros((0, 0), dtype=np.float32)
    matrix = np.vstack([_unit(vectors[e.id]) for e in batch])
    sims: np.ndarray = matrix @ matrix.T
    np.fill_diagonal(sims, -1.0)
    return sims


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return np.asarray(v / n if n > 0 else v, dtype=np.float32)


def mmr(
    candidates: Sequence[Scored], vectors: Mapping[str, np.ndarray], k: int, budget: Budget
) -> tuple[list[Scored], int]:
    """Greedy maximal marginal relevance: each pick maximises ``MMR_LAMBDA * utility / max utility
    - (1 - MMR_LAMBDA) * max cosine to the picks so far``. Candidates without a vector compete on
    utility alone. Returns the picks and how many candidates the budget left unexamined."""
    if not candidates or k <= 0:
        return [], 0
    top = max(c.utility for c in candidates)
    relevance = np.array([c.utility / top for c in candidates])
    dim = next((len(v) for v in vectors.values()), 0)
    matrix = np.vstack(
        [_unit(vectors[c.id]) if c.id in vectors else np.zeros(dim, np.float32) for c in candidates]
    )
    closest = np.zeros(len(candidates))
    open_ = np.ones(len(candidates), dtype=bool)
    chosen: list[Scored] = []
    while len(chosen) < min(k, len(candidates)):
        if budget.exhausted():
            return chosen, int(open_.sum())
        score = np.where(open_, MMR_LAMBDA * relevance - (1 - MMR_LAMBDA) * closest, -np.inf)
        pick = int(np.argmax(score))
        chosen.append(candidates[pick])
        open_[pick] = False
        if dim:
            closest = np.maximum(closest, matrix @ matrix[pick])
    return chosen, 0
