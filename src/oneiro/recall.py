"""Hybrid recall: BM25 (FTS5) and dense (the vector index), fused by reciprocal rank, reweighted by
the Generative Agents score S = w_rel relevance + w_rec recency + w_imp importance (Park et al.,
2023), plus confidence for entries.

Entries compete with episodes but are returned only when visible (recallable status, at or above
the confidence floor, made awake or by a cycle that has returned). A caller that wants episodes
only can expand each entry to its sources with :func:`source_ranking`.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent import futures
from dataclasses import dataclass

import numpy as np

from oneiro.backends.embedder import Embedder
from oneiro.config import Config
from oneiro.index import Filter, NumpyIndex, VectorIndex
from oneiro.model import VIEW_KINDS, Entry, Episode, Hit
from oneiro.store.protocol import Store

#: Threads that run the dense side of recall (query embedding and matrix scan) beside BM25; more
#: than one so that concurrent callers do not queue behind one another.
DENSE_WORKERS = 4
#: Below this many indexed items both sides are so quick that handing one to a thread costs more
#: than it saves (bench/speed.py, 2-core machine: 1.6x slower at 10k items, 0.8x at 100k).
CONCURRENT_MIN_ITEMS = 50_000


class IndexCache:
    """Keeps an in-memory index in step with the store, cheaply: new vectors are appended, and a
    full reload happens only when vectors were deleted (a revert). Entry visibility (``hidden``)
    is refreshed when the store's entries version moved, and only when it is asked for: a dream
    searches episodes only, so its searches never pay for re-reading every entry's visibility
    after each of its writes."""

    def __init__(self, store: Store, model: str, floor: float) -> None:
        self.store = store
        self.model = model
        self.floor = floor
        self._lock = threading.Lock()
        self.index: VectorIndex = NumpyIndex()
        self._rowid = 0
        self._epoch = -1
        #: The entries version ``_hidden`` was computed at, and the newest one :meth:`sync` saw.
        self._entries_version = -1
        self._seen_version = -1
        self._entry_ids: list[str] = []
        self._hidden: set[str] = set()

    def sync(self) -> VectorIndex:
        with self._lock:
            rowid, epoch, entries_version = self.store.versions()
            if epoch != self._epoch:
                self.index, self._rowid, self._entry_ids = NumpyIndex(), 0, []
                self._epoch, self._entries_version = epoch, -1
            if rowid > self._rowid:
                rows = self.store.load_vectors(self.model, self._rowid)
                self.index.add(rows)
                self._entry_ids.extend(i for i, t in zip(rows.ids, rows.types, strict=True) if t == "entry")
                self._rowid = rowid
                if any(t == "entry" for t in rows.types):
                    self._entries_version = -1
            self._seen_version = entries_version
            return self.index

    @property
    def hidden(self) -> set[str]:
        """The indexed entries recall may not return, as of the entries version the latest
        :meth:`sync` saw."""
        with self._lock:
            if self._seen_version != self._entries_version:
                visible = self.store.visible_entries(self._entry_ids, self.floor)
                self._hidden = set(self._entry_ids) - visible
                self._entries_version = self._seen_version
            return self._hidden


@dataclass(frozen=True)
class Candidate:
    item_id: str
    fused: float
    lexical_rank: int | None
    dense_rank: int | None


def fuse(lexical: Sequence[str], dense: Sequence[str], rrf_k: int) -> list[Candidate]:
    """Reciprocal rank fusion (Cormack, Clarke and Büttcher, 2009), best first."""
    lex_rank = {item: r for r, item in enumerate(lexical, 1)}
    den_rank = {item: r for r, item in enumerate(dense, 1)}
    out = []
    for item in dict.fromkeys([*lexical, *dense]):
        lr, dr = lex_rank.get(item), den_rank.get(item)
        score = (1 / (rrf_k + lr) if lr else 0.0) + (1 / (rrf_k + dr) if dr else 0.0)
        out.append(Candidate(item, score, lr, dr))
    out.sort(key=lambda c: -c.fused)
    return out


class Recaller:
    """Answers ``recall()`` for one store, embedder and config."""

    def __init__(self, store: Store, embedder: Embedder, config: Config, cache: IndexCache) -> None:
        self.store = store
        self.embedder = embedder
        self.config = config
        self.cache = cache
        self._workers = futures.ThreadPoolExecutor(DENSE_WORKERS, thread_name_prefix="oneiro-dense")

    def recall(
        self, query: str, k: int = 10, flt: Filter | None = None, now: float | None = None
    ) -> list[Hit]:
        flt = flt or Filter()
        rc = self.config.recall
        index = self.cache.sync()
        hidden = self.cache.hidden
        n = max(50, k * rc.candidate_factor)
        mask = index.mask(flt, hidden)
        limit = n * (1 if flt.empty else 8)
        if len(index) < CONCURRENT_MIN_ITEMS:
            dense_ids, qvec = self._dense(query, n, mask, index)
            text_hits = self.store.search_text(query, limit)
        else:
            (dense_ids, qvec), text_hits = self._both(query, n, limit, mask, index)
        lexical_ids = self._lexical(text_hits, mask, hidden, index)[:n]
        fused = fuse(lexical_ids, dense_ids, rc.rrf_k)
        hits, relevance = self._rerank(fused, k, now if now is not None else time.time())
        return [rank_sources(h, qvec, index, relevance) for h in hits]

    def _both(
        self, query: str, n: int, limit: int, mask: np.ndarray | None, index: VectorIndex
    ) -> tuple[tuple[list[str], np.ndarray], list[tuple[str, str, float]]]:
        """The dense side (embed the query, scan the matrix) in a worker while this thread asks
        SQLite for BM25 matches on its own connection, inside whatever transaction it holds.
        numpy, torch and SQLite all release the GIL, so latency is the slower side, not the sum."""
        dense = self._workers.submit(self._dense, query, n, mask, index)
        try:
            text_hits = self.store.search_text(query, limit)
        except BaseException:
            futures.wait([dense])
            raise
        return dense.result(), text_hits

    def close(self) -> None:
        """Stop the dense workers (idle ones hold no resources, but a closed memory owns none)."""
        self._workers.shutdown(wait=True)

    def _dense(
        self, query: str, n: int, mask: np.ndarray | None, index: VectorIndex
    ) -> tuple[list[str], np.ndarray]:
        qvec = self.embedder.embed([query])[0]
        ids, _ = index.search(qvec, n, mask)
        return ids, qvec

    def _lexical(
        self,
        text_hits: Sequence[tuple[str, str, float]],
        mask: np.ndarray | None,
        hidden: set[str],
        index: VectorIndex,
    ) -> list[str]:
        out = []
        for item_id, _type, _score in text_hits:
            if item_id in hidden:
                continue
            pos = index.position(item_id)
            if pos is None or (mask is not None and (pos >= len(mask) or not mask[pos])):
                continue
            out.append(item_id)
        return out

    def _fold(self, fused: list[Candidate], items: dict[str, Episode | Entry]) -> list[Candidate]:
        """Move each view's fused score onto the episode it views (adding to it), best first."""
        score: dict[str, float] = {}
        lex: dict[str, int | None] = {}
        den: dict[str, int | None] = {}
        for c in fused:
            item = items.get(c.item_id)
            target = c.item_id
            if isinstance(item, Entry) and item.kind in VIEW_KINDS and len(item.sources) == 1:
                target = item.sources[0]
            score[target] = score.get(target, 0.0) + c.fused
            lex[target] = _best(lex.get(target), c.lexical_rank)
            den[target] = _best(den.get(target), c.dense_rank)
        absent = [i for i in score if i not in items]
        if absent:
            items.update(self.store.episodes(absent))
        out = [Candidate(i, s, lex[i], den[i]) for i, s in score.items()]
        out.sort(key=lambda c: -c.fused)
        return out

    def _rerank(
        self, fused: list[Candidate], k: int, now: float
    ) -> tuple[list[Hit], dict[str, float]]:
        """The top ``k`` hits by the weighted score, and every candidate's fused relevance (after
        folding views into their episodes), which orders an entry's sources."""
        rc = self.config.recall
        ids = [c.item_id for c in fused]
        items: dict[str, Episode | Entry] = {}
        items.update(self.store.episodes(ids))
        missing = [i for i in ids if i not in items]
        if missing:
            items.update(self.store.entries(missing))
        if rc.fold_views:
            fused = self._fold(fused, items)
        best = max((c.fused for c in fused), default=1.0) or 1.0
        half_life = rc.recency_half_life_hours * 3600.0
        hits = []
        for c in fused:
            item = items.get(c.item_id)
            if item is None:
                continue
            if isinstance(item, Entry):
                ts = item.valid_from or item.created_at
                importance, confidence = 0.5, item.confidence
            else:
                ts, importance, confidence = item.ts, item.importance / 10.0, 1.0
            relevance = c.fused / best
            recency = math.pow(0.5, max(0.0, now - ts) / half_life) if half_life > 0 else 0.0
            score = (
                rc.w_relevance * relevance
                + rc.w_recency * recency
                + rc.w_importance * importance
                + rc.w_confidence * confidence
            )
            hits.append(Hit(item, score, relevance, c.lexical_rank, c.dense_rank))
        hits.sort(key=lambda h: -h.score)
        return hits[:k], {c.item_id: c.fused for c in fused}


def _best(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else min(a, b)


def rank_sources(
    hit: Hit, qvec: np.ndarray, index: VectorIndex, relevance: Mapping[str, float] | None = None
) -> Hit:
    """An entry resting on several episodes lists them most relevant to the query first, so a
    caller that expands it (see :func:`source_ranking`) reads the pertinent ones first.

    Sources this recall scored as candidates themselves come first, in the order of that score
    (the same lexical + dense fusion every episode is ranked by, so an entry never puts a weaker
    turn ahead of one the query found on its own); the others follow by cosine to the query, and
    sources the index does not hold keep their place at the end."""
    sources = hit.sources
    if not hit.is_entry or len(sources) < 2:
        return hit
    relevance = relevance or {}
    scored = [
        (s not in relevance, -relevance.get(s, 0.0), -float(index.vector(s) @ qvec), i, s)
        for i, s in enumerate(sources)
        if index.position(s) is not None
    ]
    rest = [s for s in sources if index.position(s) is None]
    ranked = tuple(t[-1] for t in sorted(scored)) + tuple(rest)
    return dataclasses.replace(hit, ranked_sources=ranked)


def source_ranking(hits: Sequence[Hit], k: int) -> list[str]:
    """Episode ids in rank order: each hit contributes its sources (an episode itself), duplicates
    dropped, cut at ``k``. This is how an entry counts: only through what it rests on."""
    out: dict[str, None] = {}
    for hit in hits:
        for source in hit.sources:
            out.setdefault(source, None)
            if len(out) >= k:
                return list(out)
    return list(out)
