"""Leave-one-out and add-one-in ablations over every dream operation unit, on every benchmark
(bench/preregistered.md).

On the two ab tasks: the strong dream twin and the strong awake agent with the tuned estimator
read from ``bench/results/ab.json`` / ``ab_contextual.json`` (tuned there on seeds never reported;
tuned afresh when absent), on the seeds given (default 0-9), every unit left out and added in
(:mod:`oneiro.ab.ablation`). On LongMemEval dev, a bounded subset (``--lme-questions`` first
evaluable questions, hashing embedder, one dream after the haystack): ``raw``, ``dream`` and
``dream`` without each unit, per-question session recall_all@5, paired against ``dream``. The
units are read from the registration door, so an operation added later is ablated without
touching this file; ``--units`` names others (phases or operations; an unknown name is refused).

Run: ``nice python bench/ablations.py [--seeds 10] [--tasks regime,contextual]``, and for the
memory benchmark ``--tasks '' --merge --lme-questions 4 --lme-data FILE``
-> ``bench/results/ablations.json`` and a table on stdout.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from oneiro.ab.ablation import check_units, default_units, run_ablation
from oneiro.ab.harness import DEFAULT_STEPS, ABConfig
from oneiro.ab.report import git_commit, write_json
from oneiro.ab.stats import ALPHA, holm, paired
from oneiro.ab.tuning import tuned
from oneiro.errors import OneiroError

RESULTS = Path(__file__).resolve().parent / "results"
AB_RESULTS = {"regime": RESULTS / "ab.json", "contextual": RESULTS / "ab_contextual.json"}
LME_METRIC = "recall_all@5"
#: One dream after the whole haystack (not after every session): bounds the subset's run time.
LME_DREAM_EVERY = "haystack"


def strong_config(task: str, seeds: int, steps: int) -> tuple[ABConfig, str]:
    base = ABConfig(seeds=seeds, steps=steps, task=task)
    path = AB_RESULTS.get(task)
    if path is not None and path.exists():
        found = json.loads(path.read_text(encoding="utf-8"))
        chosen = found.get("tuning", {}).get("chosen")
        if chosen and found["config"]["steps"] == steps:
            return replace(base, **chosen), f"tuned in {path.name}"
    config, record = tuned(base)
    return config, f"tuned here on seeds {record['seeds'][0]}..{record['seeds'][-1]}"


def longmemeval(path: Path, units: list[str], questions: int) -> dict[str, Any]:
    """raw, dream and dream-without-each-unit on the first ``questions`` evaluable questions."""
    import oneiro
    from oneiro.backends import make_embedder
    from oneiro.bench.conditions import CachedEmbedder
    from oneiro.bench.data import load_lme_haystacks, load_lme_probes
    from oneiro.bench.longmemeval import build_memory, metric_row, ranked_sessions

    config = oneiro.load_config(overrides={"embedder": {"name": "hashing"}})
    embedder = CachedEmbedder(make_embedder(config.embedder))
    labels = {"raw": None, "dream": (), **{f"leave-one-out:{u}": (u,) for u in units}}
    hays = load_lme_haystacks(path, questions)
    built: dict[str, dict[str, Any]] = {}
    for hay in hays:
        built[hay.question_id] = {}
        for label, disabled in labels.items():
            cfg = replace(config, disabled_operations=disabled or ())
            every = None if disabled is None else LME_DREAM_EVERY
            built[hay.question_id][label] = (build_memory(hay, embedder, cfg, every, {}), hay)
    probes = [p for p in load_lme_probes(path, list(built)) if p.gold_sessions]
    per_q: dict[str, list[float]] = {label: [] for label in labels}
    for probe in probes:
        for label in labels:
            retriever, hay = built[probe.question_id][label]
            size = sum(len(s.turns) for s in hay.sessions)
            ranked = ranked_sessions(retriever, probe.question, size)
            per_q[label].append(metric_row(ranked, probe.gold_sessions)[LME_METRIC])
    effects = [{"unit": "all (dream vs raw)", **paired(per_q["dream"], per_q["raw"])}]
    effects += [
        {"unit": u, "ablation": "leave-one-out", **paired(per_q["dream"], per_q[f"leave-one-out:{u}"])}
        for u in units
    ]
    for effect, q in zip(effects, holm([e["p"] for e in effects]), strict=True):
        effect["holm_p"] = q
    return {
        "data": str(path),
        "questions": [p.question_id for p in probes],
        "embedder": "hashing",
        "dream_every": LME_DREAM_EVERY,
        "metric": f"session {LME_METRIC}",
        "per_question": per_q,
        "effects": effects,
        "effect_sign": "positive = the unit (or dreaming) raises recall (helps)",
    }


def print_table(name: str, effects: list[dict[str, Any]]) -> None:
    print(f"\n{name}")
    print("| unit | ablation | effect (regret or recall) [95% CI] | p | Holm p | verdict |")
    print("|---|---|---|---|---|---|")
    for e in effects:
        verdict = e.get("verdict") or ("no detectable effect" if e["holm_p"] >= ALPHA else "effect")
        print(
            f"| {e['unit']} | {e.get('ablation', '-')} | {e['mean']:+.2f} [{e['low']:+.2f}, {e['high']:+.2f}]"
            f" | {e['p']:.3g} | {e['holm_p']:.3g} | {verdict} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS)
    parser.add_argument("--tasks", default="regime,contextual")
    parser.add_argument("--units", default="", help="comma-separated phases or operations")
    parser.add_argument("--lme-questions", type=int, default=0, help="0 skips LongMemEval")
    parser.add_argument("--lme-data", type=Path, help="the LongMemEval_S dev file (json or json.gz)")
    parser.add_argument("--out", type=Path, default=RESULTS / "ablations.json")
    parser.add_argument("--merge", action="store_true", help="keep the other benchmarks already in --out")
    args = parser.parse_args()
    try:
        units = check_units([u for u in args.units.split(",") if u] or default_units())
    except OneiroError as exc:
        raise SystemExit(f"error: {exc}") from None
    out: dict[str, Any] = {"git_commit": git_commit(Path(__file__).resolve().parent), "benchmarks": {}}
    if args.merge and args.out.exists():
        kept = json.loads(args.out.read_text(encoding="utf-8"))
        out["benchmarks"] = kept.get("benchmarks", {})
    for task in [t for t in args.tasks.split(",") if t]:
        start = time.perf_counter()
        config, how = strong_config(task, args.seeds, args.steps)
        result = run_ablation(config, units)
        result["estimator"] = how
        result["seconds"] = round(time.perf_counter() - start, 1)
        out["benchmarks"][f"ab:{task}"] = result
        print_table(f"ab {task} task, seeds {result['seeds_run']}, regret", result["effects"])
        write_json(out, args.out)
    if args.lme_questions:
        if args.lme_data is None:
            raise SystemExit("error: --lme-questions needs --lme-data PATH")
        start = time.perf_counter()
        result = longmemeval(args.lme_data, units, args.lme_questions)
        result["seconds"] = round(time.perf_counter() - start, 1)
        out["benchmarks"]["longmemeval"] = result
        print_table(
            f"LongMemEval dev, {len(result['questions'])} questions, {result['metric']}", result["effects"]
        )
    out["not_run"] = [] if "longmemeval" in out["benchmarks"] else ["longmemeval"]
    out["not_run"].append("locomo (no time in this run; the runner takes a config, so it is one loop away)")
    write_json(out, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
