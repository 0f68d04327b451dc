"""LLM tiers: tokens per cycle and per operation, requests, cache hit rate, the price of a cycle,
the wall-time overhead of the tier machinery, and the fallback observed for each failure.

One LoCoMo dev conversation is recorded session by session with a dream after each session (as
the LoCoMo harness does), in one run under three conditions: T0 (no LLM), T1 and T2 against a
loopback OpenAI-compatible server with zero latency (tests/llm/llm_server.py, the same one the
tests start). The server counts tokens itself with a tokenizer available offline (the WordPiece
tokenizer bundled with MiniLM; a GPT tokenizer counts differently, so prices are estimates).
Its answers are the scripted ones of tests/llm/answers.py: the prompt tokens are those of the
real prompts, the completion tokens those of short scripted answers (a real model writes more).

Then the T1 run is replayed into a fresh store sharing the first one's response cache: a
repeated run over the same experience must send no request (hit rate 1.0).

    python bench/llm_cost.py --conversations ../shared/data/locomo/locomo10_dev.json \
        --out bench/results/llm_cost.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "llm"))

from answers import answer  # noqa: E402
from llm_server import LLMServer  # noqa: E402

import oneiro  # noqa: E402
from oneiro.bench.data import load_locomo_conversations  # noqa: E402
from oneiro.bench.locomo import episodes  # noqa: E402
from oneiro.dream.budget import CycleBudget  # noqa: E402
from oneiro.memory import Memory  # noqa: E402
from oneiro.model import Tier  # noqa: E402
from oneiro.store.query import EntryQuery  # noqa: E402

#: An example price, USD per million tokens (input, output): OpenAI's list price for
#: gpt-4o-mini (July 2024). Any other price scales the figures linearly.
PRICE_IN_PER_M, PRICE_OUT_PER_M = 0.15, 0.60
#: A cycle's token budget: large enough that no LLM step of one session is cut short.
CYCLE_TOKENS = 1_000_000
#: A cycle's wall-clock budget: large enough that no phase stops early.
CYCLE_SECONDS = 1e6
KEY_ENV = "ONEIRO_BENCH_LLM_KEY"


def wordpiece() -> Callable[[str], int]:
    """Token counts from the tokenizer bundled with MiniLM (offline; no download)."""
    from tokenizers import Tokenizer

    from oneiro.backends.minilm import bundled_model_path

    tok = Tokenizer.from_file(str(Path(bundled_model_path()) / "tokenizer.json"))
    tok.no_padding()
    tok.no_truncation()
    return lambda text: len(tok.encode(text, add_special_tokens=False).ids)


def tiers(url: str, **extra: Any) -> dict[str, Any]:
    table = {"base_url": url, "model": "loopback", "api_key_env": KEY_ENV, "backoff_s": 0.0, **extra}
    return {"T1": table, "T2": table}


def open_memory(home: Path, url: str | None, embedder: str, **extra: Any) -> Memory:
    overrides: dict[str, Any] = {"embedder": {"name": embedder}}
    if url is not None:
        overrides["tiers"] = tiers(url, **extra)
    home.mkdir(parents=True, exist_ok=True)
    return oneiro.open(home, overrides=overrides)


def live(memory: Memory, sessions: list[list[dict[str, Any]]], tier: Tier) -> dict[str, Any]:
    """Record each session and dream after it; the per-cycle figures from the journal."""
    cycles: list[dict[str, Any]] = []
    for records in sessions:
        memory.record_many(records)
        start = time.perf_counter()
        report = memory.dream(
            reason="bench", budget=CycleBudget(CYCLE_SECONDS, CYCLE_TOKENS if tier != Tier.T0 else 0, tier)
        )
        seconds = time.perf_counter() - start
        calls = memory.journal(report.cycle_id, kind="llm_call")
        per_op: dict[str, int] = {}
        for c in calls:
            per_op[c.payload["op"]] = per_op.get(c.payload["op"], 0) + int(c.payload["tokens"])
        cycles.append(
            {
                "status": report.status,
                "seconds": seconds,
                "episodes": len(records),
                "tokens": sum(per_op.values()),
                "per_op": per_op,
                "cached": sum(1 for c in calls if c.payload["cached"]),
                "calls": len(calls),
                "fallbacks": [
                    f.payload["reason"] for f in memory.journal(report.cycle_id, kind="llm_fallback")
                ],
            }
        )
    stats = memory.llm.stats()
    return {
        "cycles": cycles,
        "request_seconds": sum(st.seconds for st in stats.values()),
        "backend_requests": sum(st.requests for st in stats.values()),
    }


def summary(run: dict[str, Any], server: LLMServer | None, before: dict[str, int]) -> dict[str, Any]:
    cycles = run["cycles"]
    tokens = [c["tokens"] for c in cycles]
    per_op: dict[str, int] = {}
    for c in cycles:
        for op, n in c["per_op"].items():
            per_op[op] = per_op.get(op, 0) + n
    calls = sum(c["calls"] for c in cycles)
    out: dict[str, Any] = {
        "cycles": len(cycles),
        "statuses": sorted({c["status"] for c in cycles}),
        "cycle_seconds_median": statistics.median(c["seconds"] for c in cycles),
        "cycle_seconds_total": sum(c["seconds"] for c in cycles),
        "tokens_total": sum(tokens),
        "tokens_per_cycle_median": statistics.median(tokens),
        "tokens_per_cycle_max": max(tokens),
        "tokens_per_op_total": per_op,
        "llm_calls": calls,
        "cache_hits": sum(c["cached"] for c in cycles),
        "cache_hit_rate": (sum(c["cached"] for c in cycles) / calls) if calls else None,
        "fallbacks": sorted({r for c in cycles for r in c["fallbacks"]}),
        "request_seconds": run["request_seconds"],
        "seconds_per_request": run["request_seconds"] / run["backend_requests"]
        if run["backend_requests"]
        else None,
        "cycle_seconds": [c["seconds"] for c in cycles],
    }
    if server is not None:
        prompt = server.tokens["prompt"] - before["prompt"]
        completion = server.tokens["completion"] - before["completion"]
        out["server"] = {
            "requests": len(server.requests) - before["requests"],
            "prompt_tokens": prompt,
            "completion_tokens": completion,
        }
        usd = (prompt * PRICE_IN_PER_M + completion * PRICE_OUT_PER_M) / 1e6
        out["usd_total"] = usd
        out["usd_per_cycle_mean"] = usd / len(cycles)
    return out


#: Requests timed one by one for the per-request overhead (after one that builds the client).
TIMED_REQUESTS = 50


def request_overhead(server: LLMServer) -> dict[str, float]:
    """Wall time of one validated ``ask`` against the zero-latency server: the first (which
    builds the SDK's HTTP client) and the median of the next :data:`TIMED_REQUESTS`."""
    from oneiro.config import TierConfig
    from oneiro.dream.budget import PhaseBudget
    from oneiro.llm.openai_backend import OpenAIBackend
    from oneiro.llm.prompts import Reflection, reflection_messages

    backend = OpenAIBackend(TierConfig(base_url=server.url, model="loopback", api_key_env=KEY_ENV), None)
    budget = PhaseBudget(CYCLE_SECONDS, CYCLE_TOKENS * 100)
    times = []
    for i in range(TIMED_REQUESTS + 1):
        messages = reflection_messages([(str(n), f"turn {i} {n} of a session") for n in range(20)])
        start = time.perf_counter()
        backend.ask(messages, Reflection, budget)
        times.append(time.perf_counter() - start)
    return {"first_request_ms": times[0] * 1e3, "request_ms_median": statistics.median(times[1:]) * 1e3}


def counted(server: LLMServer) -> dict[str, int]:
    return {"requests": len(server.requests), **server.tokens}


def failures(sessions: list[list[dict[str, Any]]], embedder: str, tmp: Path) -> dict[str, Any]:
    """One T1 cycle over the first session per failure of the endpoint: the cycle's status and
    the fallback reasons the journal gives."""
    import os

    scenarios: dict[str, Any] = {
        "429_always": ([("status", 429)] * 1000, {}),
        "500_always": ([("status", 500)] * 1000, {}),
        "invalid_json": ([("text", "{not json")] * 1000, {}),
        "truncated": ([("truncated", '{"ratings": [')] * 1000, {}),
        "slow": ([("slow", 1.0)] * 1000, {"timeout_s": 0.2, "max_retries": 0}),
        "unreachable": (None, {}),
        "hallucinated_ids": ([], {}),
        "key_missing": ([], {}),
        "budget_exhausted": ([], {}),
    }
    out: dict[str, Any] = {}
    for name, (script, extra) in scenarios.items():
        server = LLMServer(script or [], default=answer if script == [] else None)
        url = "http://127.0.0.1:9/v1" if script is None else server.url
        if name == "key_missing":
            os.environ.pop(KEY_ENV, None)
        retries = extra.get("max_retries", 1)
        options = {k: v for k, v in extra.items() if k != "max_retries"}
        memory = open_memory(tmp / f"fail-{name}", url, embedder, max_retries=retries, **options)
        try:
            real = {ep.id for ep in memory.record_many(sessions[0])}
            tokens = 1 if name == "budget_exhausted" else CYCLE_TOKENS
            report = memory.dream(reason="bench", budget=CycleBudget(CYCLE_SECONDS, tokens, Tier.T2))
            notes = memory.journal(report.cycle_id, kind="llm_fallback")
            made = memory.store.entries_matching(EntryQuery(provenance=("llm",)))
            out[name] = {
                "status": report.status,
                "fallback_reasons": sorted({n.payload["reason"] for n in notes}),
                "llm_entries": len(made),
                "entries_citing_unknown_ids": sum(1 for e in made if set(e.sources) - real),
                "requests": len(server.requests),
            }
        finally:
            memory.close()
            server.close()
            os.environ[KEY_ENV] = "sk-bench"
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--conversations", type=Path, default=Path("../shared/data/locomo/locomo10_dev.json"))
    parser.add_argument("--index", type=int, default=0, help="which dev conversation")
    parser.add_argument("--sessions", type=int, default=None, help="only the first N sessions")
    parser.add_argument("--embedder", default="hashing")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/llm_cost.json")
    args = parser.parse_args()

    import os

    os.environ[KEY_ENV] = "sk-bench"
    import openai  # noqa: F401  (imported once before timing: an agent's process imports it once)

    conv = load_locomo_conversations(args.conversations)[args.index]
    sessions = episodes(conv)[: args.sessions]
    server = LLMServer([], default=answer, count=wordpiece())
    results: dict[str, Any] = {
        "conversation": conv.sample_id,
        "sessions": len(sessions),
        "turns": sum(len(s) for s in sessions),
        "embedder": args.embedder,
        "tokenizer": "WordPiece (all-MiniLM-L6-v2's tokenizer.json), counted by the loopback server",
        "price_usd_per_m": {
            "input": PRICE_IN_PER_M,
            "output": PRICE_OUT_PER_M,
            "named": "gpt-4o-mini list price",
        },
        "server_latency_s": 0.0,
    }
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for tier in (Tier.T0, Tier.T1, Tier.T2):
            before = counted(server)
            memory = open_memory(root / tier.value, None if tier == Tier.T0 else server.url, args.embedder)
            try:
                run = live(memory, sessions, tier)
            finally:
                memory.close()
            results[tier.value] = summary(run, None if tier == Tier.T0 else server, before)
            print(tier.value, json.dumps(results[tier.value]["cycle_seconds_median"]), flush=True)
        # The T1 run again, into a fresh store beside the first (same cache folder).
        before = counted(server)
        replay = root / "T1-replay"
        replay.mkdir()
        (replay / "llm-cache").symlink_to(root / "T1" / "llm-cache")
        memory = open_memory(replay, server.url, args.embedder)
        try:
            run = live(memory, sessions, Tier.T1)
        finally:
            memory.close()
        results["T1_repeated"] = summary(run, server, before)
        results["failures"] = failures(sessions, args.embedder, root)
    saved = server.default
    server.default = lambda body: ("json", {"questions": ["q"], "insights": []})
    results["request_overhead"] = request_overhead(server)
    server.default = saved
    server.close()
    t0, t1 = results["T0"], results["T1"]
    paired = [b - a for a, b in zip(t0["cycle_seconds"], t1["cycle_seconds"], strict=True)]
    results["overhead"] = {
        "t1_over_t0_cycle_seconds_median": t1["cycle_seconds_median"] / t0["cycle_seconds_median"],
        "t1_minus_t0_cycle_seconds_median": statistics.median(paired),
        "t1_request_seconds_share": t1["request_seconds"] / t1["cycle_seconds_total"],
        "t1_seconds_per_request": t1["seconds_per_request"],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in results.items() if k != "failures"}, indent=1)[:4000])
    print(json.dumps(results["failures"], indent=1))


if __name__ == "__main__":
    main()
