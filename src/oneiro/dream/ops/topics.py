"""Topic clustering and community detection, with extractive summaries.

Nodes are the new episodes and their nearest older episodes (so a topic can span sessions: what a
person said about one subject over months); edges join each new episode to its most similar
neighbours (cosine at or above ``nrem.topic_similarity``) and consecutive turns of a session. Louvain
community detection (networkx, seeded from the cycle's RNG) finds the topics. Each community with
at least one new episode becomes a ``topic`` entry: an extractive summary (its most central turns, in
time order), keywords and names as keys, the mean of its members' vectors as its vector, and its
members as sources, most central first. A topic that absorbs most of an older topic's members
supersedes it (never deletes it): the older entry keeps its text and sources, with ``superseded_by``
and ``valid_to`` set.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import networkx as nx
import numpy as np

from oneiro.dream.ops.extractive import extractive_entry, say
from oneiro.dream.ops.keys import entities, keywords
from oneiro.dream.phase import Carry, Context, Outcome, Snapshot
from oneiro.dream.writes import EntryUpdate, Writes
from oneiro.index import top_n_within
from oneiro.model import Entry, EntryStatus, Episode, Tier
from oneiro.store.query import EntryQuery

#: Older neighbours looked up per new episode.
NEIGHBOURS = 8
#: Weight of the edge between consecutive turns of a session (similarity edges weigh their cosine).
ADJACENT_WEIGHT = 0.35
#: Smallest community kept as a topic, and the most members a topic lists.
MIN_MEMBERS = 3
MAX_MEMBERS = 40
#: Turns quoted in a topic's summary, and keywords kept as its keys.
SUMMARY_TURNS = 4
TOPIC_KEYWORDS = 10
#: Share of an older topic's members a new topic must cover to supersede it.
SUPERSEDE_OVERLAP = 0.5
#: Louvain resolution (1.0 is modularity's default; higher gives smaller topics).
RESOLUTION = 1.0


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return v / n if n > 0 else v


class TopicCommunities:
    name = "topics"
    tier = Tier.T0

    def run(self, snap: Snapshot, ctx: Context, carry: Carry) -> Outcome:
        new = [e for e in snap.new_episodes if e.text.strip()]
        if len(new) < MIN_MEMBERS:
            return Outcome(did={"topics": 0}, left={})
        vectors = dict(snap.vectors([e.id for e in new]))
        graph = self._graph(snap, ctx, new, vectors)
        if ctx.budget.exhausted():
            return Outcome(left={"episodes": len(new)})
        seed = int(ctx.rng.integers(0, 2**31 - 1))
        communities = nx.community.louvain_communities(
            graph, weight="weight", resolution=RESOLUTION, seed=seed
        )
        new_ids = {e.id for e in new}
        episodes = {**{e.id: e for e in new}, **snap.episodes([n for n in graph if n not in new_ids])}
        writes = Writes()
        kept = [sorted(c) for c in communities if len(c) >= MIN_MEMBERS and c & new_ids]
        texts = [" ".join(episodes[m].text for m in members if m in episodes) for members in kept]
        kws = keywords(texts, TOPIC_KEYWORDS)
        for members, kw in zip(kept, kws, strict=True):
            self._topic(snap, ctx, graph, members, kw, episodes, vectors, writes)
        return Outcome(
            writes,
            did={"topics": len(kept), "nodes": graph.number_of_nodes(), "superseded": len(writes.updates)},
        )

    def _graph(
        self, snap: Snapshot, ctx: Context, new: Sequence[Episode], vectors: dict[str, np.ndarray]
    ) -> Any:
        tau = ctx.config.nrem.topic_similarity
        graph = nx.Graph()
        for ep in new:
            graph.add_node(ep.id)
        ids = [e.id for e in new if e.id in vectors]
        if ids:
            matrix = np.vstack([vectors[i] for i in ids])
            near, sims = top_n_within(matrix, NEIGHBOURS)
            for row, a in enumerate(ids):
                for col, sim in zip(near[row], sims[row], strict=True):
                    if sim >= tau:
                        graph.add_edge(a, ids[col], weight=float(sim))
            for a, found in zip(ids, snap.similar_many(matrix, NEIGHBOURS + 1), strict=True):
                for other, score in found:
                    if other != a and score >= tau and other not in vectors:
                        graph.add_edge(a, other, weight=float(score))
        by_session: dict[str, list[Episode]] = defaultdict(list)
        for ep in new:
            if ep.session:
                by_session[ep.session].append(ep)
        for turns in by_session.values():
            turns.sort(key=lambda e: e.ts)
            for prev, nxt in itertools.pairwise(turns):
                w = graph.get_edge_data(prev.id, nxt.id, {}).get("weight", 0.0)
                graph.add_edge(prev.id, nxt.id, weight=max(w, ADJACENT_WEIGHT))
        return graph

    def _topic(
        self,
        snap: Snapshot,
        ctx: Context,
        graph: Any,
        members: list[str],
        kw: list[str],
        episodes: dict[str, Episode],
        vectors: dict[str, np.ndarray],
        writes: Writes,
    ) -> None:
        present = [m for m in members if m in episodes]
        centrality = {m: float(graph.degree(m, weight="weight")) for m in present}
        ranked = sorted(present, key=lambda m: (-centrality[m], episodes[m].ts))[:MAX_MEMBERS]
        older = self._older_topics(snap, ranked)
        sources = list(dict.fromkeys([*ranked, *(s for t in older for s in t.sources)]))[:MAX_MEMBERS]
        summary_ids = sorted(ranked[:SUMMARY_TURNS], key=lambda m: episodes[m].ts)
        summary = " ".join(say(episodes[m]) for m in summary_ids)
        speakers = sorted({episodes[m].actor for m in present if episodes[m].actor})
        names = entities(" ".join(episodes[m].text for m in present), speakers)[:TOPIC_KEYWORDS]
        missing = [m for m in sources if m not in vectors]
        all_vectors = {**vectors, **snap.vectors(missing)} if missing else vectors
        stacked = [all_vectors[m] for m in sources if m in all_vectors]
        entry = extractive_entry(
            ctx,
            "topic",
            summary,
            sources,
            keys=[*speakers, *kw, *names],
            data={"keywords": kw, "members": len(sources)},
            valid_from=min(episodes[m].ts for m in present),
        )
        writes.entries.append(entry)
        if stacked:
            writes.vectors[entry.id] = _unit(np.mean(np.vstack(stacked), axis=0)).astype(np.float32)
        for old in older:
            writes.updates.append(
                EntryUpdate(
                    old.id,
                    {"status": EntryStatus.SUPERSEDED, "superseded_by": entry.id, "valid_to": ctx.now},
                    f"topic grew into {entry.id[:12]}",
                )
            )

    def _older_topics(self, snap: Snapshot, members: list[str]) -> list[Entry]:
        """Active topics from earlier cycles most of whose members this topic covers, in id order.
        Only the active topics among the entries citing the members are read (not the keys,
        contexts and superseded topics that cite them too, which pile up as the store grows)."""
        citing = snap.entries_citing(members)
        candidate_ids = sorted({e for m in members for e in citing.get(m, [])})
        query = EntryQuery(ids=tuple(candidate_ids), kinds=("topic",), statuses=(EntryStatus.ACTIVE,))
        found = sorted(snap.entries_matching(query), key=lambda t: t.id) if candidate_ids else []
        mine = set(members)
        return [
            t
            for t in found
            if t.cycle_id != snap.cycle_id
            and len(mine & set(t.sources)) >= SUPERSEDE_OVERLAP * len(t.sources)
        ]
