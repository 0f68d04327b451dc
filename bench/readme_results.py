"""Write the README's results section from the JSON under bench/results/.

Every figure in the section comes from a results file a benchmark program wrote; nothing is typed
by hand. Run after the benchmarks: ``python bench/readme_results.py`` (``--check`` exits 1 when
the README is out of date).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
README = ROOT / "README.md"
START = "<!-- results:start (bench/readme_results.py writes this section) -->"
END = "<!-- results:end -->"


def load(name: str) -> dict[str, Any] | None:
    path = RESULTS / name
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


def locomo(d: dict[str, Any]) -> list[str]:
    conds = d["conditions"]
    groups = ["1 multi-hop", "2 temporal", "3 open-domain", "4 single-hop", "5 adversarial"]
    rows = []
    for name, c in conds.items():
        o = c["overall"]
        by = c.get("by_group", {})
        rows.append(
            [
                name,
                pct(o.get("recall@5")),
                f"**{pct(o.get('recall@10'))}**",
                pct(o.get("recall@25")),
                *(pct(by.get(g, {}).get("recall@10")) for g in groups),
                pct(o.get("session_recall@10")),
                f"{c.get('latency_ms', {}).get('p50', 0):.1f}",
            ]
        )
    head = [
        "condition",
        "R@5",
        "R@10",
        "R@25",
        *(f"{g.split()[1]} R@10" for g in groups),
        "session R@10",
        "p50 ms",
    ]
    return [
        f"**LoCoMo** ({d['data'].get('path', 'dev file')}, {d.get('items')} questions, "
        f"{len(d.get('conversations') or [])} conversations; turn-level evidence recall, entries count only through their "
        "source turns):",
        "",
        *table(head, rows),
    ]


def longmemeval(d: dict[str, Any]) -> list[str]:
    rows = []
    for name, c in d["conditions"].items():
        s = c["session"]["overall"]
        t = (c.get("turn") or {}).get("overall") or {}
        rows.append(
            [
                name,
                f"{s['recall_any@5']:.3f}",
                f"**{s['recall_all@5']:.3f}**",
                f"{s['ndcg@5']:.3f}",
                f"{s['recall_all@10']:.3f}",
                f"{t['recall_all@5']:.3f}" if "recall_all@5" in t else "-",
            ]
        )
    return [
        f"**LongMemEval_S** ({d['questions']} evaluable dev questions, each its own store; embedder "
        f"{d['config']['embedder']['name']}; dream after each {d['protocol'].get('dream_every', 'session')}"
        f"{' of the haystack' if d['protocol'].get('dream_every', 'session') == 'session' else ''}; "
        "official retrieval protocol, sessions ranked by first appearance in the turn ranking):",
        "",
        *table(
            [
                "condition",
                "session recall_any@5",
                "session recall_all@5",
                "session NDCG@5",
                "session recall_all@10",
                "turn recall_all@5",
            ],
            rows,
        ),
    ]


def gate(d: dict[str, Any], props: dict[str, Any] | None) -> list[str]:
    f = d["figures"]
    out = [
        f"**Effect gate**: a pure dispatch costs {d['pure_dispatch_overhead_p50_us']:.2f} µs over a direct call "
        f"at p50 ({f['dispatch_pure']['p50_us']:.2f} µs vs {f['direct_call']['p50_us']:.3f} µs, same run)."
    ]
    if props:
        out[-1] += (
            f" Property test: {props.get('sequences')} generated dispatch sequences, "
            f"{props.get('requests')} requests reached the loopback server, "
            f"{props.get('dreaming_requests', 0)} of them from a dreaming context."
        )
    return out


def reliability(
    crash: dict[str, Any] | None, conc: dict[str, Any] | None, poison: dict[str, Any] | None
) -> list[str]:
    out = []
    if crash:
        kills = ", ".join(f"{k} {v}" for k, v in crash["kills_per_phase"].items())
        out.append(
            f"- kill -9 during cycles: {crash['runs']} runs (kills: {kills}); "
            f"failed runs {crash['failed_runs']} ({', '.join(f'{k}: {v}' for k, v in crash.get('failures', {}).items()) or 'none'})."
        )
    if conc:
        for c in conc["conditions"]:
            out.append(
                f"- awake writers during a cycle ({conc['threads']} threads + {conc['processes']} process"
                f"{', recalling too' if c['recall_too'] else ''}): {c['writes_acknowledged']} writes, "
                f"{c['writes_lost']} lost, {c['errors_reaching_caller']} errors reaching the caller."
            )
    if poison:
        s = poison["summary"]
        out.append(
            f"- poisoning: {s['tried']} attempts, {s['promoted_without_independent_awake_confirmation']} promoted "
            f"without independent awake confirmation (a naive validator would have validated "
            f"{s['anchor_naive_validator_would_validate']}); a benign control was validated "
            f"{s['control_benign_validated']} time(s)."
        )
    return ["**Reliability**:", "", *out] if out else []


def speed(d: dict[str, Any]) -> list[str]:
    ing = d["ingest"]
    m = ing.get("minilm", {})
    rows = [
        [
            f"{r['episodes']:,}",
            f"{r['hybrid_ms']['p50']:.1f} / {r['hybrid_ms']['p99']:.1f}",
            f"{r['vector_only_ms']['p50']:.1f}",
            f"{r.get('numpy_brute_ms', r.get('brute_ms', {})).get('p50', 0):.1f}",
            f"{r['bandwidth_floor_ms']:.1f}" if "bandwidth_floor_ms" in r else "-",
        ]
        for r in d["recall"]
    ]
    return [
        f"**Speed** (2 cores): ingest with MiniLM {m.get('oneiro_episodes_per_s')} episodes/s vs the raw model's "
        f"{m.get('raw_model_sentences_per_s')} sentences/s in the same run (ratio {m.get('ratio_vs_raw_model')}); "
        f"hashing embedder {ing.get('hashing', {}).get('episodes_per_s')} episodes/s.",
        "",
        *table(
            [
                "episodes",
                "hybrid recall p50 / p99 ms",
                "vector-only p50 ms",
                "numpy brute force p50 ms",
                "one-core numpy sum of the same bytes ms",
            ],
            rows,
        ),
    ]


def _ci(x: dict[str, float], fmt: str = ".1f") -> str:
    return f"{x['mean']:{fmt}} [{x['low']:{fmt}}, {x['high']:{fmt}}]"


AB_PAIRS = (
    "dream vs no-dream",
    "dream-awake vs awake",
    "dream-awake vs sw-ucb",
    "dream-awake vs d-ts",
    "awake vs no-dream",
)


def ab(d: dict[str, Any], label: str) -> list[str]:
    """One ab task: every condition with its CIs, then every paired comparison (nulls included)."""
    metrics = [
        m for m in ("regret", "adaptation", "drawdown", "sharpe") if m in d["conditions"]["sw-ucb"]["summary"]
    ]
    heads = {
        "regret": "cumulative regret",
        "adaptation": "steps to adapt",
        "drawdown": "worst drawdown",
        "sharpe": "Sharpe-like",
    }
    fmt = {"sharpe": ".2f"}
    rows = [
        [name, *(_ci(c["summary"][m], fmt.get(m, ".1f")) for m in metrics)]
        for name, c in d["conditions"].items()
    ]
    cfg = d["config"]
    seeds = d.get("seeds_run") or list(range(cfg["first_seed"], cfg["first_seed"] + cfg["seeds"]))
    tuning = d.get("tuning", {})
    env = d["environment"]
    out = [
        f"**Does dreaming help? {label}** (`oneiro ab --task {cfg['task']}`: seeds {seeds[0]}-{seeds[-1]}, "
        f"{cfg['steps']} steps, {len(env['arms'])} strategies, {len(env['switches'])} switches; dream every "
        f"{cfg['dream_every']} steps; strong awake estimator: discount {cfg['discount']}, {cfg['bins']} context "
        f"bin(s), tuned on seeds {tuning.get('seeds', ['?'])[0]}-{tuning.get('seeds', ['?'])[-1]} with dreaming "
        "off; mean [95% bootstrap CI]):",
        "",
        *table(["condition", *(heads[m] for m in metrics)], rows),
        "",
        *table(
            [
                "comparison",
                "regret ratio",
                "regret difference",
                "Wilcoxon p",
                "adapt difference",
                "Sharpe difference",
            ],
            [
                [
                    name,
                    _ci(pair["regret_ratio"], ".2f"),
                    _ci(pair["regret"]),
                    f"{pair['regret']['p']:.2g}",
                    _ci(pair["adaptation"]) if "adaptation" in pair else "-",
                    _ci(pair["sharpe"], ".2f") if "sharpe" in pair else "-",
                ]
                for name in AB_PAIRS
                if (pair := d["comparison"]["pairs"].get(name))
            ],
        ),
    ]
    strong = d["comparison"]["pairs"].get("dream-awake vs awake")
    if strong:
        r = strong["regret_ratio"]
        reading = (
            "dreaming raises the strong awake agent's regret"
            if r["low"] > 1
            else "dreaming lowers the strong awake agent's regret"
            if r["high"] < 1
            else "no detectable effect of dreaming on the strong awake agent"
        )
        out += ["", f"Read: {reading} (ratio {_ci(r, '.2f')})."]
    goal = d["comparison"].get("strong_goal")
    fam = d.get("primary_family")
    if goal:
        out += [
            "",
            f"Goal (dream-awake / awake <= {goal['ratio_target']} with the CI below 1, and dream-awake / sw-ucb "
            f"<= 1): **{'met' if goal['met'] else 'not met'}**"
            + (
                f"; primary test Holm-adjusted p {fam['holm_p']:.2g} over {len(fam['tests'])} tests."
                if fam
                else "."
            ),
        ]
    return out


def _ablation_verdict(e: dict[str, Any]) -> str:
    """The test's verdict, and, when the test cannot reach significance but the CI excludes 0,
    that too (a few paired seeds cannot give p < 0.05; the CI still carries information)."""
    direction = "helps" if e["mean"] > 0 else "hurts"
    if e["holm_p"] < 0.05:
        return f"the unit {direction}"
    if e["low"] > 0 or e["high"] < 0:
        return f"not significant; CI excludes 0 (the unit {direction})"
    if e["low"] == e["high"] == 0:
        return "no effect (identical on every seed or question)"
    return "no detectable effect"


def ablations(d: dict[str, Any]) -> list[str]:
    """Every ablation effect on every benchmark run, with its CI and Holm-adjusted p."""
    out = [
        "**Ablations** (`bench/ablations.py`; leave-one-out: the strong dream twin without the unit vs with "
        "everything; add-one-in: the awake agent plus that unit only vs dreaming off; effect > 0 means the unit "
        "helps; Holm-corrected per benchmark):",
        "",
    ]
    rows = []
    for bench, r in d["benchmarks"].items():
        seeds = r.get("seeds_run") or r.get("questions", [])
        where = f"{bench} ({len(seeds)} {'seeds' if 'seeds_run' in r else 'questions'})"
        for e in r["effects"]:
            rows.append(
                [
                    where,
                    e["unit"],
                    e.get("ablation", "-"),
                    _ci(e, ".3f" if bench == "longmemeval" else ".1f"),
                    f"{e['holm_p']:.2g}",
                    _ablation_verdict(e),
                ]
            )
    out += table(["benchmark", "unit", "ablation", "effect [95% CI]", "Holm p", "verdict"], rows)
    if d.get("not_run"):
        out += ["", "Not run: " + "; ".join(d["not_run"]) + "."]
    return out


SECTIONS: list[tuple[str, Callable[[], list[str]]]] = [
    ("locomo", lambda: locomo(d) if (d := load("locomo_dev.json")) else []),
    (
        "longmemeval",
        lambda: longmemeval(d) if (d := load("longmemeval_dev.json")) else [],
    ),
    ("ab", lambda: ab(d, "Regime task") if (d := load("ab.json")) else []),
    (
        "ab_contextual",
        lambda: ab(d, "Contextual partial-feedback task") if (d := load("ab_contextual.json")) else [],
    ),
    ("ablations", lambda: ablations(d) if (d := load("ablations.json")) else []),
    ("gate", lambda: gate(d, load("gate_properties.json")) if (d := load("gate_overhead.json")) else []),
    ("speed", lambda: speed(d) if (d := load("speed.json")) else []),
    (
        "reliability",
        lambda: reliability(load("crash.json"), load("concurrency.json"), load("poisoning.json")),
    ),
]


def render() -> str:
    parts: list[str] = []
    for _name, make in SECTIONS:
        try:
            lines = make()
        except (KeyError, TypeError) as exc:  # a results file in an older shape: say so, never guess
            lines = [f"_{_name}: results file not in the expected shape ({exc})_"]
        if lines:
            parts.append("\n".join(lines))
    return "\n\n".join(parts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 when the README is out of date")
    args = parser.parse_args()
    text = README.read_text(encoding="utf-8")
    if START not in text or END not in text:
        print(f"README has no results markers ({START} ... {END})", file=sys.stderr)
        return 2
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    new = f"{head}{START}\n{render()}\n{END}{tail}"
    if args.check:
        return 0 if new == text else 1
    README.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
