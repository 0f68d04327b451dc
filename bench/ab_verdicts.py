"""Which pre-registered predictions held: reads the ab and ablation JSON and writes the results
section of ``bench/preregistered.md`` (between its markers), one row per prediction, none dropped.

The decision rules are the pre-registration's: a predicted effect holds when its (Holm-adjusted,
where the prediction belongs to a family) p < 0.05 with the predicted sign; a predicted null
holds when p >= 0.05 or the point estimate is within 5% of the reference. A prediction whose
benchmark was not run is listed as not run.

Run after ``bench/ab.py`` and ``bench/ablations.py``: ``python bench/ab_verdicts.py``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "results"
PREREG = ROOT / "preregistered.md"
START = "<!-- verdicts:start (bench/ab_verdicts.py writes this section) -->"
END = "<!-- verdicts:end -->"
ALPHA = 0.05
NULL_MARGIN = 0.05


def load(name: str) -> dict[str, Any] | None:
    path = RESULTS / name
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def ci(x: dict[str, float], fmt: str = ".2f") -> str:
    return f"{x['mean']:{fmt}} [{x['low']:{fmt}}, {x['high']:{fmt}}]"


def ratio_row(d: dict[str, Any] | None, pair: str, p_key: str = "p") -> tuple[str, float, float] | None:
    if d is None or pair not in d["comparison"]["pairs"]:
        return None
    r = d["comparison"]["pairs"][pair]["regret_ratio"]
    p = r["p"]
    if p_key == "holm" and "primary_family" in d:
        p = d["primary_family"]["holm_p"]
    return f"{ci(r)}, p {p:.2g}", r["mean"], p


def effect_verdict(got: tuple[str, float, float] | None, lo: float, hi: float) -> tuple[str, str]:
    """An effect predicted as a regret ratio within [lo, hi] (below 1: dreaming or the left side helps)."""
    if got is None:
        return "-", "not run"
    text, mean, p = got
    held = p < ALPHA and mean < 1.0
    size = "within" if lo <= mean <= hi else "outside"
    return text, f"{'held' if held else 'failed'} (size {size} the predicted {lo}-{hi})"


def null_verdict(got: tuple[str, float, float] | None) -> tuple[str, str]:
    if got is None:
        return "-", "not run"
    text, mean, p = got
    if p >= ALPHA or abs(mean - 1.0) <= NULL_MARGIN:
        return text, "held (no detectable effect)"
    return text, f"failed: dreaming {'helps' if mean < 1 else 'hurts'} (ratio {mean:.2f})"


def metric_nulls(d: dict[str, Any] | None) -> tuple[str, str]:
    if d is None:
        return "-", "not run"
    pair = d["comparison"]["pairs"].get("dream-awake vs awake", {})
    parts, failed = [], []
    awake = d["conditions"]["awake"]["summary"]
    for m in ("adaptation", "drawdown", "sharpe"):
        if m not in pair:
            continue
        e = pair[m]
        ref = abs(awake[m]["mean"]) or 1.0
        parts.append(f"{m} {ci(e)} p {e['p']:.2g}")
        if e["p"] < ALPHA and abs(e["mean"]) / ref > NULL_MARGIN:
            failed.append(m)
    return "; ".join(parts), "held" if not failed else f"failed on {', '.join(failed)}"


def ablation_rows(ab: dict[str, Any] | None, task: str) -> list[tuple[str, str, str, str]]:
    label = f"ab:{task}"
    if ab is None or label not in ab["benchmarks"]:
        return [("P8-P12" if task == "regime" else "P13", task, "-", "not run")]
    effects = {(e["unit"], e["ablation"]): e for e in ab["benchmarks"][label]["effects"]}
    per_seed = ab["benchmarks"][label]["conditions"]
    rows = []
    spec = [
        ("P8", "nrem", "leave-one-out", "null or negative"),
        ("P9", "rem", "leave-one-out", "null"),
        ("P9", "evolution", "leave-one-out", "null"),
        ("P10", "integration", "leave-one-out", "null"),
        ("P11", "nrem", "add-one-in", "null or negative"),
        ("P12", "rem", "add-one-in", "exact null"),
        ("P12", "evolution", "add-one-in", "exact null"),
        ("P12", "integration", "add-one-in", "exact null"),
    ]
    for pid, unit, kind, predicted in spec:
        e = effects.get((unit, kind))
        pid = pid if task == "regime" else f"P13 ({pid})"
        if e is None:
            rows.append((pid, f"{task} {kind} {unit}", "-", "not run"))
            continue
        text = f"{ci(e, '.1f')}, Holm p {e['holm_p']:.2g}"
        sig = e["holm_p"] < ALPHA
        if predicted == "exact null":
            same = per_seed[f"{kind}:{unit}"]["per_seed"]["regret"] == per_seed["awake"]["per_seed"]["regret"]
            verdict = (
                "held (identical to awake on every seed)"
                if same
                else (
                    "failed: not identical to awake"
                    + (f", and it {'helps' if e['mean'] > 0 else 'hurts'}" if sig else "")
                )
            )
        elif predicted == "null or negative":
            verdict = "failed: the unit helps" if sig and e["mean"] > 0 else "held"
        else:
            verdict = f"failed: the unit {'helps' if e['mean'] > 0 else 'hurts'}" if sig else "held"
        if not sig and (e["low"] > 0 or e["high"] < 0):
            verdict += (
                f" by the rule, but the 95% CI excludes 0: the unit {'helps' if e['mean'] > 0 else 'hurts'} "
                "by the point estimate (5 seeds cannot reach p < 0.05)"
            )
        rows.append((pid, f"{task} {kind} {unit}", text, verdict))
    return rows


def render() -> str:
    regime, contextual, abl = load("ab.json"), load("ab_contextual.json"), load("ablations.json")
    rows: list[tuple[str, str, str, str]] = []
    t, v = effect_verdict(ratio_row(regime, "dream vs no-dream"), 0.4, 0.6)
    rows.append(("P1", "regime: dream / no-dream regret", t, v))
    t, v = null_verdict(ratio_row(regime, "dream-awake vs awake", "holm"))
    rows.append(("P2", "regime: dream-awake / awake regret (Holm)", t, v))
    t, v = effect_verdict(ratio_row(regime, "dream-awake vs sw-ucb"), 0.5, 0.7)
    rows.append(("P3", "regime: dream-awake / sw-ucb regret", t, v))
    t, v = effect_verdict(ratio_row(regime, "awake vs no-dream"), 0.3, 0.6)
    rows.append(("P4", "regime: awake / no-dream regret", t, v))
    t, v = null_verdict(ratio_row(contextual, "dream-awake vs awake", "holm"))
    rows.append(("P5", "contextual: dream-awake / awake regret (Holm)", t, v))
    t, v = effect_verdict(ratio_row(contextual, "dream-awake vs sw-ucb"), 0.0, 1.0)
    rows.append(("P6", "contextual: dream-awake / sw-ucb regret", t, v))
    for name, d in (("regime", regime), ("contextual", contextual)):
        t, v = metric_nulls(d)
        rows.append(("P7", f"{name}: adaptation, drawdown, Sharpe differences", t, v))
    rows += ablation_rows(abl, "regime")
    rows += ablation_rows(abl, "contextual")
    lme = (abl or {}).get("benchmarks", {}).get("longmemeval")
    rows.append(("P14", "LoCoMo subset: dream vs raw and LOO", "-", "not run"))
    if lme is None:
        rows.append(("P15", "LongMemEval subset: dream vs raw and LOO", "-", "not run"))
    else:
        for e in lme["effects"]:
            verdict = "held" if e["holm_p"] >= ALPHA or abs(e["mean"]) <= 0.01 else "failed"
            rows.append(
                (
                    "P15",
                    f"LongMemEval {len(lme['questions'])} q: {e['unit']}",
                    f"{ci(e, '.3f')}, Holm p {e['holm_p']:.2g}",
                    verdict,
                )
            )
    lines = ["| # | comparison | measured (mean [95% CI], p) | verdict |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    goals = []
    for name, d in (("regime", regime), ("contextual", contextual)):
        g = (d or {}).get("comparison", {}).get("strong_goal")
        if g:
            goals.append(
                f"{name}: goal {'met' if g['met'] else 'not met'} "
                f"(ratio_met {g['ratio_met']}, sw_ucb_met {g.get('sw_ucb_met')})"
            )
    return "\n".join([*lines, "", *goals])


def main() -> None:
    text = PREREG.read_text(encoding="utf-8")
    if START not in text:
        text = text.rstrip("\n") + f"\n\n{START}\n{END}\n"
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    PREREG.write_text(f"{head}{START}\n{render()}\n{END}{tail}", encoding="utf-8")
    print(render())


if __name__ == "__main__":
    main()
