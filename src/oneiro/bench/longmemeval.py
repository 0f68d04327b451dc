"""LongMemEval_S, official retrieval protocol (BENCHMARKS.md §1; Wu et al., ICLR 2025).

Each question is its own store: its haystack sessions, every turn (user and assistant) one episode
with its session id (``session``), its role (``actor``), the session's date plus its position in
seconds (``ts``) and its index in ``data``. Abstention questions (``_abs``) are skipped, and so are
questions with no user turn marked ``has_answer`` (the official session keys hold user turns only,
so those questions have no gold session: on the 40 dev questions this leaves 32).

Metrics: recall_any@k, recall_all@k and NDCG@k for k = 1, 3, 5, 10, at session level (a retrieved
turn counts for its session; sessions ranked by first appearance, the turn ranking deepened until
it reaches ten sessions) and at turn level (turns marked ``has_answer``), per question type.

Conditions: ``raw``; ``dream`` (a dream after each haystack session, or once after the whole
haystack: ``dream_every``); ``bm25`` (Okapi BM25 over the official session keys, the user turns
joined by spaces, official ``split`` tokenizer: session level only); ``dense`` (cosine over the turns,
the same embedder). All stores are built and dreamed before any question is read.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import oneiro
from oneiro.backends import Embedder, make_embedder
from oneiro.bench import conditions as cond
from oneiro.bench.anchors import BM25Anchor, DenseAnchor
from oneiro.bench.conditions import BenchClock, CachedEmbedder, MemoryRetriever, Retriever
from oneiro.bench.data import Haystack, Probe, load_lme_haystacks, load_lme_probes
from oneiro.bench.locomo import check_conditions
from oneiro.bench.metrics import first_appearance, ndcg_at_k, recall_all, recall_any
from oneiro.bench.report import provenance, table
from oneiro.config import Config
from oneiro.errors import BenchDataError

#: Cut-offs of the official retrieval report (k = 30, 50 are omitted: a haystack has ~50 sessions).
K_VALUES = (1, 3, 5, 10)
#: First depth of the turn ranking that sessions are read from; doubled until it spans max(K) sessions.
SESSION_DEPTH = 50
DREAM_EVERY = ("session", "haystack")

TurnKey = tuple[str, int]


@dataclass
class Built:
    """One question's conditions: turn-level retrievers and the session-level BM25."""

    turns: dict[str, Retriever[TurnKey]]
    sessions: dict[str, Retriever[str]]
    size: int


def records(hay: Haystack) -> list[list[dict[str, Any]]]:
    return [
        [
            {
                "text": turn.content,
                "ts": session.ts + i,
                "session": session.session_id,
                "actor": turn.role,
                "kind": "message",
                "data": {"turn": turn.index},
            }
            for i, turn in enumerate(session.turns)
        ]
        for session in sorted(hay.sessions, key=lambda s: s.ts)
    ]


def build_memory(
    hay: Haystack, embedder: Embedder, config: Config, dream_every: str | None, timings: dict[str, float]
) -> MemoryRetriever[TurnKey]:
    """Record the haystack in date order; dream per session, once at the end, or never (None)."""
    clock = BenchClock()
    memory = oneiro.open(":memory:", config=config, embedder=embedder, clock=clock)
    key_of: dict[str, TurnKey] = {}
    batches = records(hay)
    for n, batch in enumerate(batches, 1):
        clock.now = batch[-1]["ts"]
        start = time.perf_counter()
        for ep in memory.record_many(batch):
            key_of[ep.id] = (ep.session, int(ep.data["turn"]))
        timings["record_s"] = timings.get("record_s", 0.0) + time.perf_counter() - start
        if dream_every == "session" or (dream_every == "haystack" and n == len(batches)):
            start = time.perf_counter()
            cond.dream(memory, reason="benchmark: between sessions")
            timings["dream_s"] = timings.get("dream_s", 0.0) + time.perf_counter() - start
            timings["dreams"] = timings.get("dreams", 0.0) + 1
    cond.tally_entries(memory, timings)
    return MemoryRetriever(memory, key_of, clock, clock.now)


def session_key(hay: Haystack) -> tuple[list[str], list[str]]:
    """The official session documents: the session's user turns joined by single spaces."""
    ids = [s.session_id for s in hay.sessions]
    texts = [" ".join(t.content for t in s.turns if t.role == "user") for s in hay.sessions]
    return ids, texts


def build(
    hay: Haystack,
    conditions: Sequence[str],
    embedder: Embedder,
    config: Config,
    tokenizer: str,
    dream_every: str,
    timings: dict[str, dict[str, float]],
) -> Built:
    turns: dict[str, Retriever[TurnKey]] = {}
    sessions: dict[str, Retriever[str]] = {}
    for name in conditions:
        t = timings.setdefault(name, {})
        start = time.perf_counter()
        if name in cond.MEMORY_CONDITIONS:
            turns[name] = build_memory(hay, embedder, config, dream_every if name == cond.DREAM else None, t)
        elif name == cond.BM25:
            sessions[name] = BM25Anchor(*session_key(hay), tokenizer=tokenizer)
        else:
            keys = [(s.session_id, turn.index) for s in hay.sessions for turn in s.turns]
            turns[name] = DenseAnchor(
                keys, [turn.content for s in hay.sessions for turn in s.turns], embedder
            )
        t["build_s"] = t.get("build_s", 0.0) + time.perf_counter() - start
    return Built(turns, sessions, sum(len(s.turns) for s in hay.sessions))


def metric_row(ranked: Sequence[Any], gold: frozenset[Any]) -> dict[str, float]:
    row: dict[str, float] = {}
    for k in K_VALUES:
        row[f"recall_any@{k}"] = recall_any(ranked, gold, k)
        row[f"recall_all@{k}"] = recall_all(ranked, gold, k)
        row[f"ndcg@{k}"] = ndcg_at_k(ranked, gold, k)
    return row


def ranked_sessions(retriever: Retriever[TurnKey], query: str, size: int) -> list[str]:
    """Sessions by first appearance in a turn ranking deep enough to span max(K) sessions."""
    depth = SESSION_DEPTH
    while True:
        keys = retriever.rank(query, min(depth, size)).keys
        out = first_appearance(keys, lambda key: key[0])
        if len(out) >= max(K_VALUES) or depth >= size:
            return out
        depth *= 2


@dataclass
class Scored:
    session: list[dict[str, float]]
    turn: list[dict[str, float]]
    seconds: list[float]


def score(name: str, probes: list[Probe], built: dict[str, Built]) -> Scored:
    out = Scored([], [], [])
    for probe in probes:
        b = built[probe.question_id]
        if name in b.sessions:
            got = b.sessions[name].rank(probe.question, max(K_VALUES))
            out.session.append(metric_row(got.keys, probe.gold_sessions))
            out.seconds.append(got.seconds)
            continue
        retriever = b.turns[name]
        got_turns = retriever.rank(probe.question, max(K_VALUES))
        out.turn.append(metric_row(got_turns.keys, probe.gold_turns))
        out.seconds.append(got_turns.seconds)
        out.session.append(
            metric_row(ranked_sessions(retriever, probe.question, b.size), probe.gold_sessions)
        )
    return out


def run_longmemeval(
    path: Path,
    conditions: Sequence[str] = (cond.RAW, cond.BM25, cond.DENSE),
    embedder: Embedder | str = "minilm",
    limit: int | None = None,
    *,
    tokenizer: str = "split",
    dream_every: str = "session",
    config: Config | None = None,
    embedding_cache: Path | None = None,
) -> dict[str, Any]:
    """Run the LongMemEval retrieval protocol on ``path``; returns the result document."""
    conditions = check_conditions(conditions, (cond.RAW, cond.DREAM, cond.BM25, cond.DENSE))
    if dream_every not in DREAM_EVERY:
        raise BenchDataError(f"dream_every must be one of {', '.join(DREAM_EVERY)}, got {dream_every!r}")
    cond.require_dream(conditions)
    overrides = {"embedder": {"name": embedder}} if isinstance(embedder, str) else None
    config = config or oneiro.load_config(overrides=overrides)
    shared = CachedEmbedder(
        embedder if isinstance(embedder, Embedder) else make_embedder(config.embedder), embedding_cache
    )
    hays = load_lme_haystacks(path, limit)
    prov = provenance(path, config)
    timings: dict[str, dict[str, float]] = {}
    built: dict[str, Built] = {}
    with shared.saving():
        for h in hays:
            built[h.question_id] = build(h, conditions, shared, config, tokenizer, dream_every, timings)
            shared.checkpoint()
    # Only now, with every store built and dreamed, are the questions read.
    every = load_lme_probes(path, list(built))
    probes = [p for p in every if p.gold_sessions]
    start = time.perf_counter()
    shared.embed([p.question for p in probes])
    query_embed_s = time.perf_counter() - start
    shared.save()
    types = [p.question_type for p in probes]
    tables: dict[str, Any] = {}
    for name in conditions:
        s = score(name, probes, built)
        tables[name] = {
            "session": table(s.session, types, s.seconds),
            "turn": table(s.turn, types, s.seconds) if s.turn else None,
        }
    return {
        "benchmark": "longmemeval",
        **prov,
        "protocol": protocol_notes(tokenizer, shared.name, dream_every),
        "questions": len(probes),
        "skipped_no_user_evidence": [p.question_id for p in every if not p.gold_sessions],
        "skipped_empty_turns": sum(h.skipped_turns for h in hays),
        "conditions": tables,
        "build": {**timings, "query_embedding_batch": {"seconds": query_embed_s, "queries": len(probes)}},
    }


def protocol_notes(tokenizer: str, embedder: str, dream_every: str) -> dict[str, Any]:
    return {
        "k": list(K_VALUES),
        "skipped": "abstention questions (_abs) and questions without a user turn marked has_answer",
        "session_gold": "sessions with a user turn marked has_answer (official session keys)",
        "turn_gold": "turns marked has_answer (user or assistant)",
        "session_ranking": "sessions by first appearance in the turn ranking (oneiro, dense); "
        "BM25 ranks session keys directly",
        "store": "every turn (user and assistant) one episode; empty turns skipped",
        "dream_every": dream_every,
        "bm25": {
            "package": "rank-bm25",
            "variant": "BM25Okapi",
            "tokenizer": tokenizer,
            "unit": "session key",
        },
        "embedder": embedder,
        "latency": "top-10 turn (or session) query, query vector precomputed in one batch",
    }
