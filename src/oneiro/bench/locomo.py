"""LoCoMo turn-level evidence recall (BENCHMARKS.md §1).

Each conversation becomes one store; every turn one episode with its speaker (actor), its session
(``session``), its session's date plus its position in seconds (``ts``, so turn order survives),
its ``dia_id`` in ``data``, and the photo caption folded into the text. Conditions:

- ``raw``: recall over the recorded turns, no dream.
- ``dream``: the same turns recorded session by session in date order, with ``Memory.dream()``
  after each session (the agent sleeps between sessions).
- ``bm25``: Okapi BM25 over turns formatted ``(<date>) <speaker> said, "<text>"``.
- ``observation`` (optional, a labelled reference, not oneiro): BM25 over the dataset's
  gpt-3.5-turbo observations, expanded to the turns they cite.
- ``dense``: cosine similarity over the same formatted turns' vectors (the same embedder, no
  fusion): with the bare turn text, plain MiniLM loses a third of its recall, because most
  questions name a speaker.

All stores are built (and dreamed) before a single question is read.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import oneiro
from oneiro.backends import Embedder, make_embedder
from oneiro.bench import conditions as cond
from oneiro.bench.anchors import BM25Anchor, DenseAnchor
from oneiro.bench.conditions import BenchClock, CachedEmbedder, MemoryRetriever, Retrieved, Retriever
from oneiro.bench.data import (
    Conversation,
    Observation,
    QAItem,
    load_locomo_conversations,
    load_locomo_observations,
    load_locomo_questions,
)
from oneiro.bench.metrics import first_appearance, recall_at_k
from oneiro.bench.report import provenance, table
from oneiro.config import Config
from oneiro.errors import BenchDataError

#: Cut-offs reported by the LoCoMo retrieval protocol (BENCHMARKS.md §1).
K_VALUES = (5, 10, 25)
#: Session ranking cut-offs: sessions ranked by first appearance in a turn ranking.
SESSION_K_VALUES = (5, 10)
#: Depth of the turn ranking sessions are read from: deep enough to reach ten distinct sessions
#: in nearly every query (conversations have 19-32 sessions of ~20 turns).
SESSION_DEPTH = 50
CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop", 5: "adversarial"}
ANCHOR_TEMPLATE = '({date}) {speaker} said, "{text}"'
_SESSION_OF = re.compile(r"D(\d+):")


@dataclass
class Built:
    """One conversation's conditions, ready to be asked."""

    retrievers: dict[str, Retriever[str]]
    session_of: dict[str, str]


def episodes(conv: Conversation) -> list[list[dict[str, Any]]]:
    """The records of each session, in date order; a turn's ts is its session's plus its index."""
    return [
        [
            {
                "text": turn.text,
                "ts": session.ts + i,
                "session": session.key,
                "actor": turn.speaker,
                "kind": "message",
                "data": {"dia_id": turn.dia_id, "conversation": conv.sample_id},
            }
            for i, turn in enumerate(session.turns)
        ]
        for session in conv.sessions
    ]


def build_memory(
    conv: Conversation, embedder: Embedder, config: Config, dreaming: bool, timings: dict[str, float]
) -> MemoryRetriever[str]:
    """Record the conversation session by session; dream after each one when ``dreaming``."""
    clock = BenchClock()
    memory = oneiro.open(":memory:", config=config, embedder=embedder, clock=clock)
    key_of: dict[str, str] = {}
    for records in episodes(conv):
        clock.now = records[-1]["ts"]
        start = time.perf_counter()
        for ep in memory.record_many(records):
            key_of[ep.id] = ep.data["dia_id"]
        timings["record_s"] = timings.get("record_s", 0.0) + time.perf_counter() - start
        if dreaming:
            start = time.perf_counter()
            cond.dream(memory, reason="benchmark: between sessions")
            timings["dream_s"] = timings.get("dream_s", 0.0) + time.perf_counter() - start
            timings["dreams"] = timings.get("dreams", 0.0) + 1
    cond.tally_entries(memory, timings)
    return MemoryRetriever(memory, key_of, clock, clock.now)


def anchor_text(conv: Conversation) -> tuple[list[str], list[str]]:
    """Both anchors' documents, each turn in :data:`ANCHOR_TEMPLATE`: the format the published
    anchors were measured on (the speaker and date in the text matter to both)."""
    keys, texts = [], []
    for session in conv.sessions:
        for turn in session.turns:
            keys.append(turn.dia_id)
            texts.append(ANCHOR_TEMPLATE.format(date=session.date_text, speaker=turn.speaker, text=turn.text))
    return keys, texts


class ObservationRetriever:
    """The labelled ``observation`` reference: BM25 over LoCoMo's gpt-3.5-turbo observations (each
    prefixed with its session's date), each expanded to the turns it cites, duplicates dropped, cut
    at k. It shows what an external, LLM-made consolidation buys; it is not oneiro."""

    def __init__(self, observations: list[Observation], dates: dict[str, str], tokenizer: str) -> None:
        if not observations:
            raise BenchDataError("the observation condition needs the 'observation' field; it is empty")
        self.observations = observations
        self.texts = [f"({dates.get(o.session_key, '')}) {o.text}" for o in observations]
        self.anchor = BM25Anchor(list(range(len(observations))), self.texts, tokenizer=tokenizer)

    def rank(self, query: str, k: int) -> Retrieved[str]:
        start = time.perf_counter()
        turns: dict[str, None] = {}
        tokens = 0
        for i in self.anchor.order(query):
            if len(turns) >= k:
                break
            tokens += len(self.texts[i].split())
            for source in self.observations[i].sources:
                turns.setdefault(source, None)
        return Retrieved(list(turns)[:k], tokens, time.perf_counter() - start)


def build(
    conv: Conversation,
    conditions: Sequence[str],
    embedder: Embedder,
    config: Config,
    tokenizer: str,
    timings: dict[str, dict[str, float]],
    observations: list[Observation] | None = None,
) -> Built:
    retrievers: dict[str, Retriever[str]] = {}
    for name in conditions:
        t = timings.setdefault(name, {})
        start = time.perf_counter()
        if name in cond.MEMORY_CONDITIONS:
            retrievers[name] = build_memory(conv, embedder, config, name == cond.DREAM, t)
        elif name == cond.BM25:
            retrievers[name] = BM25Anchor(*anchor_text(conv), tokenizer=tokenizer)
        elif name == cond.OBSERVATION:
            dates = {s.key: s.date_text for s in conv.sessions}
            retrievers[name] = ObservationRetriever(observations or [], dates, tokenizer)
        else:
            retrievers[name] = DenseAnchor(*anchor_text(conv), embedder)
        t["build_s"] = t.get("build_s", 0.0) + time.perf_counter() - start
    session_of = {turn.dia_id: s.key for s in conv.sessions for turn in s.turns}
    return Built(retrievers, session_of)


def evidence_session(dia_id: str) -> str:
    """The session a (normalised) evidence id belongs to; an unparseable id is its own session."""
    match = _SESSION_OF.match(dia_id)
    return f"session_{match.group(1)}" if match else dia_id


def score_item(
    item: QAItem, retriever: Retriever[str], session_of: dict[str, str]
) -> tuple[dict[str, float], float]:
    """All metrics of one QA item under one condition, and its k = 10 query time."""
    row: dict[str, float] = {}
    seconds = 0.0
    gold_sessions = {evidence_session(e) for e in item.evidence}
    for k in K_VALUES:
        got = retriever.rank(item.question, k)
        seconds = got.seconds if k == 10 else seconds
        row[f"recall@{k}"] = recall_at_k(got.keys, item.evidence, k)
        sessions = {session_of.get(key, key) for key in got.keys}
        row[f"session_recall@{k}"] = recall_at_k(list(sessions), gold_sessions, len(sessions))
        row[f"tokens@{k}"] = float(got.context_tokens)
    deep = retriever.rank(item.question, SESSION_DEPTH)
    ranked_sessions = first_appearance(deep.keys, lambda key: session_of.get(key, key))
    for k in SESSION_K_VALUES:
        row[f"session_rank_recall@{k}"] = recall_at_k(ranked_sessions, gold_sessions, k)
    return row, seconds


def run_locomo(
    path: Path,
    conditions: Sequence[str] = (cond.RAW, cond.BM25, cond.DENSE),
    embedder: Embedder | str = "minilm",
    limit: int | None = None,
    *,
    tokenizer: str = "words",
    config: Config | None = None,
    embedding_cache: Path | None = None,
) -> dict[str, Any]:
    """Run the LoCoMo protocol on ``path``; returns the result document (see bench/README.md)."""
    conditions = check_conditions(conditions)
    cond.require_dream(conditions)
    config = config or oneiro.load_config(overrides=_embedder_override(embedder))
    shared = CachedEmbedder(
        embedder if isinstance(embedder, Embedder) else make_embedder(config.embedder), embedding_cache
    )
    convs = load_locomo_conversations(path, limit)
    prov = provenance(path, config)
    ids = [c.sample_id for c in convs]
    obs = load_locomo_observations(path, ids) if cond.OBSERVATION in conditions else {}
    timings: dict[str, dict[str, float]] = {}
    built: dict[str, Built] = {}
    with shared.saving():
        for c in convs:
            observed = obs.get(c.sample_id)
            built[c.sample_id] = build(c, conditions, shared, config, tokenizer, timings, observed)
            shared.checkpoint()
    # Only now, with every store built and dreamed, are the questions read.
    items = load_locomo_questions(path, list(built))
    start = time.perf_counter()
    shared.embed([i.question for i in items])
    query_embed_s = time.perf_counter() - start
    shared.save()
    tables = {name: _condition_table(name, items, built) for name in conditions}
    return {
        "benchmark": "locomo",
        **prov,
        "protocol": protocol_notes(tokenizer, shared.name),
        "conversations": [c.sample_id for c in convs],
        "items": len(items),
        "skipped_empty_turns": sum(c.skipped_turns for c in convs),
        "malformed_evidence": [list(i.evidence_raw) for i in items if i.evidence_raw and _malformed(i)],
        "conditions": tables,
        "build": {**timings, "query_embedding_batch": {"seconds": query_embed_s, "queries": len(items)}},
    }


def _condition_table(name: str, items: list[QAItem], built: dict[str, Built]) -> dict[str, Any]:
    rows, seconds = [], []
    for item in items:
        b = built[item.sample_id]
        row, sec = score_item(item, b.retrievers[name], b.session_of)
        rows.append(row)
        seconds.append(sec)
    groups = [f"{i.category} {CATEGORIES.get(i.category, 'unknown')}" for i in items]
    return table(rows, groups, seconds)


def _malformed(item: QAItem) -> bool:
    return any(not re.fullmatch(r"D\d+:\d+", e) for e in item.evidence_raw)


def check_conditions(conditions: Sequence[str], allowed: Sequence[str] = cond.ALL_CONDITIONS) -> list[str]:
    names = [c.strip() for c in conditions if c.strip()]
    unknown = [c for c in names if c not in allowed]
    if unknown or not names:
        raise BenchDataError(f"unknown condition(s) {unknown or names}; choose from {', '.join(allowed)}")
    return list(dict.fromkeys(names))


def _embedder_override(embedder: Embedder | str) -> dict[str, Any] | None:
    return {"embedder": {"name": embedder}} if isinstance(embedder, str) else None


def protocol_notes(tokenizer: str, embedder: str) -> dict[str, Any]:
    return {
        "k": list(K_VALUES),
        "unit": "turn (dia_id); entries count only through their source turns",
        "photo": "caption appended to the turn text as ' [shares a photo: <blip_caption>]'",
        "episode_time": "session date (dateparser, UTC) + turn index in seconds",
        "session_recall@k": "fraction of evidence sessions holding one of the top-k turns",
        "session_rank_recall@k": f"evidence sessions among the top-k sessions, sessions ranked by first "
        f"appearance in the top-{SESSION_DEPTH} turns",
        "tokens": "whitespace-separated words of the retrieved context (hit texts)",
        "latency": "k=10 query, query vector precomputed in one batch (embedding time excluded)",
        "anchor_format": ANCHOR_TEMPLATE,
        "bm25": {
            "package": "rank-bm25",
            "variant": "BM25Okapi",
            "tokenizer": tokenizer,
            "format": ANCHOR_TEMPLATE,
        },
        "embedder": embedder,
        "evidence": "normalised with a regex (D<s>:<t>); unparseable ids kept as misses",
        "no_evidence": "an item without evidence counts 1",
    }
