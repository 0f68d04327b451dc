"""pgvector's HNSW search in the PostgreSQL store: recall@10 and latency against ``ef_search``.

One store of N synthetic episodes (hashing embedder, 384-d, built through ``Memory.record_many``);
for each ``ef_search`` the same queries go through ``PostgresStore.nearest`` and are scored
against the exact cosine top-10 over the same vectors, counting ties (an item as similar as the
exact 10th is a right answer). Hashed vectors of templated text sit almost equidistant from one
another, the hard case for a graph index; sentence-model vectors cluster far more.

Run: ``nice python bench/postgres_hnsw.py --episodes 10000``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import oneiro
from oneiro.store.postgres import vectors as pgvectors
from postgres_scale import INGEST_BATCH, SEED, TIE, server_url
from speed import machine_facts, percentiles
from textgen import TextGen

K = 10
EF_SEARCH = (40, 100, 400, 1000)


def run(n: int, n_queries: int, url: str | None, workdir: Path) -> dict[str, Any]:
    gen = TextGen(SEED)
    records = [e.record() for e in gen.episodes(n)]
    queries = [gen.question() for _ in range(n_queries)]
    base = server_url(url, workdir)
    target = f"{base}{'&' if '?' in base else '?'}agent=hnsw{uuid.uuid4().hex[:8]}"
    rows = []
    with oneiro.open(target, embedder="hashing") as memory:
        began = time.perf_counter()
        for i in range(0, n, INGEST_BATCH):
            memory.record_many(records[i : i + INGEST_BATCH])
        ingest_s = time.perf_counter() - began
        stored = memory.store.load_vectors(memory.embedder.name)
        position = {item: i for i, item in enumerate(stored.ids)}
        qvecs = memory.embedder.embed(queries)
        saved = pgvectors.HNSW_EF_SEARCH
        try:
            for ef in EF_SEARCH:
                pgvectors.HNSW_EF_SEARCH = ef
                found, seconds = [], []
                for v in qvecs:
                    sims = stored.matrix @ v
                    kth = float(np.sort(sims)[-K])
                    start = time.perf_counter()
                    got = memory.store.nearest(memory.embedder.name, v, K)  # type: ignore[attr-defined]
                    seconds.append(time.perf_counter() - start)
                    found.append(sum(sims[position[item]] >= kth - TIE for item, _t, _s in got) / K)
                rows.append(
                    {
                        "ef_search": ef,
                        "recall_at_10": round(float(np.mean(found)), 4),
                        "ms": percentiles(seconds),
                    }
                )
        finally:
            pgvectors.HNSW_EF_SEARCH = saved
    return {
        "episodes": n,
        "queries": n_queries,
        "ingest_episodes_per_s": round(n / ingest_s, 1),
        "hnsw": {"m": pgvectors.HNSW_M, "ef_construction": pgvectors.HNSW_EF_CONSTRUCTION},
        "sweep": rows,
    }


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--episodes", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--url", default=None)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "postgres_hnsw.json"))
    args = parser.parse_args(argv)
    result: dict[str, Any] = {"machine": machine_facts(), "embedder": "hashing-384", "k": K}
    with tempfile.TemporaryDirectory(prefix="oneiro-hnsw-") as tmp:
        result.update(run(args.episodes, args.queries, args.url, Path(tmp)))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result["sweep"], indent=1))
    return result


if __name__ == "__main__":
    main()
