"""Dream cycle cost: wall time and peak memory against store size and against new episodes.

A cycle's cost must grow with new experience, not with the size of the store. Each measurement
runs in a fresh child process (so peak RSS is that measurement's own): the child builds a store of
``size`` consolidated episodes (recorded and dreamed over in chunks, as an agent's nights would),
records ``new`` new episodes, and times one cycle over them. Synthetic text from bench/textgen.py
with the hashing embedder (the same code paths as MiniLM, without hours of embedding); one LoCoMo
conversation with MiniLM gives the cost on real conversation with the real model.

    python bench/cycle_cost.py --sizes 0,10000 --new 100,1000,10000 --out bench/results/cycle_cost.json

``--cache DIR`` keeps each built store in DIR and measures on a copy of it, so that two trees (a
before and an after) are measured on the very same stores and a large store is built once.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

#: Base episodes are recorded and dreamed over in chunks of this many (a night's worth).
BASE_CHUNK = 5_000
#: The wall-clock budget of the build's and the measured cycle's dreams: large enough that no
#: cycle stops early, so the base store is wholly consolidated and the measured cycle takes
#: exactly its new episodes.
UNLIMITED_SECONDS = 1e9
#: New episodes of the warm-up cycle run before the measured one, so that what a fresh process
#: does once (load the whole index, compile the date parser's patterns) is not counted as the
#: measured cycle's cost: an agent's process dreams night after night.
WARM_NEW = 20
#: A build cycle that ran out of budget anyway is followed by at most this many more.
MAX_BUILD_ROUNDS = 10
SEED = 20250107
LOCOMO = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "locomo" / "locomo10_dev.json"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def unlimited() -> Any:
    from oneiro.dream.budget import CycleBudget

    return CycleBudget(wall_seconds=UNLIMITED_SECONDS)


def backlog_of(memory: Any) -> int:
    """How many awake episodes no returned cycle has consolidated."""
    from oneiro.dream import backlog

    return int(backlog.signals(memory.store)[0])


def warm_up(memory: Any, gen: Any) -> None:
    """One small cycle, then the backlog checked empty again."""
    memory.record_many([e.record() for e in gen.episodes(WARM_NEW)])
    memory.dream(reason="warm-up", budget=unlimited())
    left = backlog_of(memory)
    if left != 0:
        raise RuntimeError(f"the warm-up cycle left {left} unconsolidated episodes")


def consolidate(memory: Any) -> None:
    """Dream until the backlog is empty (each dream with an unlimited budget)."""
    for _ in range(MAX_BUILD_ROUNDS):
        memory.dream(reason="base", budget=unlimited())
        if backlog_of(memory) == 0:
            return
    raise RuntimeError(f"the base store still has {backlog_of(memory)} unconsolidated episodes")


def build_store(path: Path, size: int, gen: Any) -> float:
    """Record ``size`` episodes into a new store at ``path``, dreaming after each chunk until
    everything is consolidated; seconds."""
    import oneiro

    memory = oneiro.open(path, embedder="hashing")
    started = time.perf_counter()
    for start in range(0, size, BASE_CHUNK):
        memory.record_many([e.record() for e in gen.episodes(min(BASE_CHUNK, size - start))])
        consolidate(memory)
        print(f"built {start + BASE_CHUNK} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    memory.close()
    return time.perf_counter() - started


def cached_store(cache: Path | None, size: int, tmp: Path, gen: Any) -> float:
    """A store of ``size`` consolidated episodes at ``tmp/store.db`` (a copy of the cached one when
    ``cache`` holds it); the seconds its build took (0 for a copy). The generator is advanced past
    the base episodes either way, so the new episodes are the same."""
    target = tmp / "store.db"
    if cache is None:
        return build_store(target, size, gen)
    cached = cache / f"store-{size}.db"
    if not cached.exists():
        cache.mkdir(parents=True, exist_ok=True)
        build_store(tmp / "build.db", size, gen)
        shutil.copyfile(tmp / "build.db", cached)
    else:
        for start in range(0, size, BASE_CHUNK):
            list(gen.episodes(min(BASE_CHUNK, size - start)))
    shutil.copyfile(cached, target)
    return 0.0


def profiled(run: Any, out: Path | None) -> Any:
    """``run()``, under cProfile when ``out`` names a file (its top entries by own time go there)."""
    if out is None:
        return run()
    import cProfile
    import io
    import pstats

    profile = cProfile.Profile()
    result = profile.runcall(run)
    text = io.StringIO()
    stats = pstats.Stats(profile, stream=text)
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats(40)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text.getvalue(), encoding="utf-8")
    return result


def measure_synthetic(
    size: int, new: int, cache: Path | None = None, profile: Path | None = None
) -> dict[str, Any]:
    import oneiro
    from textgen import TextGen

    gen = TextGen(SEED)
    with tempfile.TemporaryDirectory() as tmp:
        build_s = cached_store(cache, size, Path(tmp), gen)
        memory = oneiro.open(Path(tmp) / "store.db", embedder="hashing")
        backlog = backlog_of(memory)
        if backlog != 0:
            raise RuntimeError(f"the base store has {backlog} unconsolidated episodes")
        rss_before = peak_rss_mb()
        warm_up(memory, gen)
        memory.record_many([e.record() for e in gen.episodes(new)])
        started, cpu_started = time.perf_counter(), time.process_time()
        report = profiled(lambda: memory.dream(reason="measured", budget=unlimited()), profile)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        if report.new_episodes != new or report.left_episodes != 0:
            raise RuntimeError(f"the cycle took {report.new_episodes} of {new} new episodes")
        out = {
            "store_episodes": size,
            "new_episodes": report.new_episodes,
            "cycle_seconds": round(seconds, 3),
            # CPU time of the process (all its threads): on a machine other jobs share, wall time
            # measures them too; this measures the cycle.
            "cycle_cpu_seconds": round(cpu, 3),
            "per_new_episode_ms": round(1000 * seconds / max(1, new), 3),
            "phase_seconds": {p.phase: round(p.seconds, 3) for p in report.phases},
            "entries_written": report.entries_written(),
            "build_seconds": round(build_s, 1),
            "peak_rss_mb": round(peak_rss_mb(), 1),
            "peak_rss_mb_before_cycle": round(rss_before, 1),
        }
        memory.close()
        return out


#: The fixed clock of a proposals run, so that two runs (two trees) stamp the same times.
PROPOSALS_NOW = 1_800_000_000.0


def proposals(size: int, new: int, cache: Path) -> dict[str, Any]:
    """What one cycle over ``new`` new episodes proposes on a copy of the cached ``size`` store:
    every entry of the store afterwards (what the cycle wrote and what it changed), minus the
    cycle's own random id. Two trees that propose the same give the same answer."""
    import oneiro
    from oneiro.store.query import EntryQuery
    from textgen import TextGen

    gen = TextGen(SEED)
    with tempfile.TemporaryDirectory() as tmp:
        cached_store(cache, size, Path(tmp), gen)
        memory = oneiro.open(Path(tmp) / "store.db", embedder="hashing", clock=lambda: PROPOSALS_NOW)
        memory.record_many([e.record() for e in gen.episodes(new)])
        report = memory.dream(reason="measured", budget=unlimited())
        rows = []
        for entry in memory.store.entries_matching(EntryQuery()):
            row = dataclasses.asdict(entry)
            if row.get("cycle_id") == report.cycle_id:
                row["cycle_id"] = "measured"
            rows.append(row)
        memory.close()
    return {"new_episodes": report.new_episodes, "entries": rows}


def measure_locomo(path: Path) -> dict[str, Any]:
    import oneiro
    from oneiro.bench.data import load_locomo_conversations
    from oneiro.bench.locomo import episodes

    conversation = load_locomo_conversations(path, limit=1)[0]
    records = [r for session in episodes(conversation) for r in session]
    with tempfile.TemporaryDirectory() as tmp:
        memory = oneiro.open(Path(tmp) / "store.db", embedder="minilm")
        started = time.perf_counter()
        memory.record_many(records)
        record_s = time.perf_counter() - started
        started = time.perf_counter()
        report = memory.dream(reason="measured")
        seconds = time.perf_counter() - started
        memory.close()
    return {
        "conversation": conversation.sample_id,
        "turns": len(records),
        "record_seconds": round(record_s, 2),
        "cycle_seconds": round(seconds, 2),
        "phase_seconds": {p.phase: round(p.seconds, 3) for p in report.phases},
        "entries_written": report.entries_written(),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


def child(args: list[str]) -> dict[str, Any]:
    done = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1:] or ["failed"]}
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="0,10000", help="consolidated store sizes")
    parser.add_argument("--new", default="100,1000,10000", help="new episodes per measured cycle")
    parser.add_argument("--locomo", default=str(LOCOMO), help="LoCoMo file ('' to skip)")
    parser.add_argument("--out", type=Path, default=Path("bench/results/cycle_cost.json"))
    parser.add_argument("--cache", type=Path, help="keep built stores here and measure on copies")
    parser.add_argument("--profile", type=Path, help="write a cProfile of each measured cycle here")
    parser.add_argument(
        "--proposals", help="SIZE,NEW: print what one cycle proposes on the cached store (needs --cache)"
    )
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--one-locomo", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.proposals:
        size, new = (int(x) for x in args.proposals.split(","))
        print(json.dumps(proposals(size, new, args.cache), sort_keys=True, default=str))
        return 0
    if args.one:
        size, new = (int(x) for x in args.one.split(","))
        profile = args.profile / f"profile-{size}-{new}.txt" if args.profile else None
        print(json.dumps(measure_synthetic(size, new, args.cache, profile)))
        return 0
    if args.one_locomo:
        print(json.dumps(measure_locomo(args.one_locomo)))
        return 0
    grid = []
    for size in (int(s) for s in args.sizes.split(",")):
        for new in (int(n) for n in args.new.split(",")):
            extra = ["--cache", str(args.cache)] if args.cache else []
            extra += ["--profile", str(args.profile)] if args.profile else []
            result = child(["--one", f"{size},{new}", *extra])
            print(json.dumps(result), flush=True)
            grid.append(result)
    locomo = Path(args.locomo) if args.locomo else None  # Path("") would be "."
    real = child(["--one-locomo", str(locomo)]) if locomo is not None and locomo.exists() else None
    out = {
        "benchmark": "cycle_cost",
        "embedder": "hashing-384 for the grid; all-MiniLM-L6-v2 for LoCoMo",
        "grid": grid,
        "locomo": real,
        "git_commit": subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True
        ).stdout.strip(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(real))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
