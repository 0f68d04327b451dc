"""The HTTP service's cost, in one run: recall p50/p99 through HTTP (``oneiro serve`` in its own
process on 127.0.0.1, one keep-alive client) against the in-process ``Memory.recall`` on the same
store file with the same queries, interleaved query by query so both see the same machine; then
requests/s held by 32 concurrent clients for a bounded time while a dream runs (started over HTTP
before the clients, another started whenever one returns, the last one woken when the time is up),
with every error counted and every acknowledged write looked up afterwards (a lost write is one
the server said it stored and the store does not have).

The store is built with the hashing embedder (the same 384-d float32 matrix and code paths as
MiniLM, whose vectors for 100k episodes would take ~15 min to compute here; a real recall adds the
query embedding). Load clients are threads with their own keep-alive connection; the mix is 3
recalls to 1 single-episode record.

    nice python bench/service_http.py --episodes 100000 --out bench/results/service_http.json
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import numpy as np

import oneiro

sys.path.insert(0, str(Path(__file__).resolve().parent))
from textgen import TextGen

SEED = 20250106
K = 10
TOKEN = "bench-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CLIENTS = 32
#: Seconds the load runs (bounded, so the figure does not depend on how long a dream takes).
LOAD_SECONDS = 30.0
#: Out of every this many load requests, one is a record (the rest are recalls).
RECORD_EVERY = 4
INGEST_BATCH = 5000


def percentiles(samples: list[float]) -> dict[str, float]:
    arr = np.asarray(samples) * 1e3
    return {"p50": round(float(np.median(arr)), 3), "p99": round(float(np.percentile(arr, 99)), 3)}


def build(home: Path, n: int) -> float:
    home.mkdir(parents=True, exist_ok=True)
    (home / "oneiro.toml").write_text('[embedder]\nname = "hashing"\n', encoding="utf-8")
    records = [e.record() for e in TextGen(SEED).episodes(n)]
    start = time.perf_counter()
    with oneiro.open(home) as memory:
        for i in range(0, n, INGEST_BATCH):
            memory.record_many(records[i : i + INGEST_BATCH])
    return time.perf_counter() - start


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(home: Path, port: int) -> subprocess.Popen[bytes]:
    """``oneiro serve`` on the store, in its own process; returns once it answers."""
    src = Path(__file__).resolve().parents[1] / "src"
    env = {**os.environ, "ONEIRO_TOKEN": TOKEN, "ONEIRO_HOME": str(home), "PYTHONPATH": str(src)}
    code = "from oneiro.cli import main; main()"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "serve", "--port", str(port)], env=env, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/v1/status", timeout=5).raise_for_status()
            return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("oneiro serve did not start")


def recall_latency(memory: oneiro.Memory, url: str, queries: list[str]) -> dict[str, Any]:
    body = lambda q: {"query": q, "limit": K}  # noqa: E731
    inproc: list[float] = []
    http: list[float] = []
    with httpx.Client(base_url=url, timeout=60) as c:
        c.post("/v1/memories/search", json=body(queries[0])).raise_for_status()
        memory.recall(queries[0], K)
        for q in queries:
            t = time.perf_counter()
            memory.recall(q, K)
            inproc.append(time.perf_counter() - t)
            t = time.perf_counter()
            r = c.post("/v1/memories/search", json=body(q))
            http.append(time.perf_counter() - t)
            assert r.status_code == 200 and len(r.json()) == K, r.text
    a, b = percentiles(inproc), percentiles(http)
    return {
        "queries": len(queries),
        "k": K,
        "in_process_ms": a,
        "http_ms": b,
        "http_overhead_p50_ms": round(b["p50"] - a["p50"], 3),
        "http_vs_in_process_p50": round(b["p50"] / a["p50"], 3),
    }


def client_loop(url: str, tag: int, stop: threading.Event, queries: list[str]) -> dict[str, Any]:
    acked: list[str] = []
    errors: Counter[str] = Counter()
    done = 0
    n = 0
    with httpx.Client(base_url=url, timeout=60, headers=AUTH) as c:
        while not stop.is_set():
            n += 1
            try:
                if n % RECORD_EVERY == 0:
                    r = c.post(
                        "/v1/memories", json={"text": f"load client {tag} note {n}", "session": f"load{tag}"}
                    )
                    if r.status_code == 201:
                        acked.append(r.json()["episodes"][0]["id"])
                else:
                    r = c.post("/v1/memories/search", json={"query": queries[n % len(queries)], "limit": K})
                if r.status_code >= 400:
                    errors[f"{r.status_code} {r.json().get('code')}"] += 1
                else:
                    done += 1
            except httpx.HTTPError as exc:
                errors[type(exc).__name__] += 1
    return {"ok": done, "acked": acked, "errors": errors}


def load(memory: oneiro.Memory, url: str, queries: list[str], seconds: float) -> dict[str, Any]:
    stop = threading.Event()
    results: list[dict[str, Any]] = []
    lock = threading.Lock()

    def run(tag: int) -> None:
        out = client_loop(url, tag, stop, queries)
        with lock:
            results.append(out)

    dreams: list[dict[str, Any]] = []
    running_s = 0.0

    def dreamer() -> None:
        """Keep a dream running until ``stop``, then wake it and wait for it to return."""
        nonlocal running_s
        with httpx.Client(base_url=url, timeout=60, headers=AUTH) as c:
            while not stop.is_set():
                c.post("/v1/dreams", json={"reason": "bench"}).raise_for_status()
                t = time.perf_counter()
                while True:
                    state = c.get("/v1/dreams/current").json()
                    if not state["running"]:
                        break
                    if stop.is_set():
                        c.post("/v1/dreams/wake")
                    time.sleep(0.1)
                running_s += time.perf_counter() - t
                last = state.get("last") or {}
                dreams.append(
                    {"status": last.get("status"), "new": last.get("new_episodes"), "error": state["error"]}
                )

    threads = [threading.Thread(target=run, args=(i,)) for i in range(CLIENTS)]
    dream_thread = threading.Thread(target=dreamer)
    dream_thread.start()
    time.sleep(0.5)  # the first dream is under way before the clients start
    start = time.perf_counter()
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    dream_thread.join()
    acked = [i for r in results for i in r["acked"]]
    stored = {e.id for e in memory.episodes(acked)}
    errors: Counter[str] = Counter()
    for r in results:
        errors.update(r["errors"])
    ok = sum(r["ok"] for r in results)
    return {
        "clients": CLIENTS,
        "seconds": round(elapsed, 2),
        "requests_ok": ok,
        "requests_per_s": round(ok / elapsed, 1),
        "errors": dict(errors),
        "writes_acknowledged": len(acked),
        "writes_lost": len(set(acked) - stored),
        "dreams": dreams,
        "dream_running_s": round(running_s, 2),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--episodes", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--seconds", type=float, default=LOAD_SECONDS)
    ap.add_argument("--out", type=Path, default=Path("bench/results/service_http.json"))
    args = ap.parse_args(argv)
    gen = TextGen(SEED + 3)
    queries = [gen.question() for _ in range(args.queries)]
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        ingest_s = build(home, args.episodes)
        port = free_port()
        server = serve(home, port)
        url = f"http://127.0.0.1:{port}"
        try:
            with oneiro.open(home) as memory:
                latency = recall_latency(memory, url, queries)
                loaded = load(memory, url, queries, args.seconds)
        finally:
            server.terminate()
            server.wait(60)
    result = {
        "episodes": args.episodes,
        "embedder": "hashing-384",
        "ingest_s": round(ingest_s, 1),
        "recall": latency,
        "load_during_dreams": loaded,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    r, ld = latency, loaded
    print(
        f"recall at {args.episodes} episodes, k={K}: in-process p50 {r['in_process_ms']['p50']} ms "
        f"p99 {r['in_process_ms']['p99']} ms; HTTP p50 {r['http_ms']['p50']} ms p99 {r['http_ms']['p99']} ms"
    )
    print(
        f"{CLIENTS} clients for {ld['seconds']} s during {len(ld['dreams'])} dream(s): "
        f"{ld['requests_per_s']} req/s, errors {ld['errors'] or 0}, "
        f"lost writes {ld['writes_lost']} of {ld['writes_acknowledged']}"
    )
    return result


if __name__ == "__main__":
    main()
