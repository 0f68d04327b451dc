"""Pictures of the benchmark results, drawn from bench/results/*.json into docs/*.png.

python bench/plots.py     (needs matplotlib: pip install 'oneiro[bench]')
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
DOCS = ROOT / "docs"
GROUPS = ["1 multi-hop", "2 temporal", "3 open-domain", "4 single-hop", "5 adversarial"]


def load(name: str) -> dict[str, Any]:
    return dict(json.loads((RESULTS / name).read_text(encoding="utf-8")))


def locomo() -> Path:
    d = load("locomo_dev.json")
    conds = [c for c in ("raw", "dream", "bm25", "dense") if c in d["conditions"]]
    labels = ["overall", *(g.split()[1] for g in GROUPS)]
    fig, ax = plt.subplots(figsize=(9, 4))
    width = 0.8 / len(conds)
    for i, cond in enumerate(conds):
        c = d["conditions"][cond]
        values = [c["overall"]["recall@10"], *(c["by_group"][g]["recall@10"] for g in GROUPS)]
        ax.bar([x + i * width for x in range(len(labels))], [100 * v for v in values], width, label=cond)
    ax.set_xticks([x + width * (len(conds) - 1) / 2 for x in range(len(labels))], labels)
    ax.set_ylabel("turn-level evidence recall@10 (%)")
    ax.set_title(f"LoCoMo dev ({d['items']} questions): dreaming vs no dream and the anchors")
    ax.legend()
    fig.tight_layout()
    out = DOCS / "locomo_recall10.png"
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def ab() -> Path:
    d = load("ab.json")
    conds = list(d["conditions"])
    means = [d["conditions"][c]["summary"]["regret"]["mean"] for c in conds]
    lows = [m - d["conditions"][c]["summary"]["regret"]["low"] for c, m in zip(conds, means, strict=True)]
    highs = [d["conditions"][c]["summary"]["regret"]["high"] - m for c, m in zip(conds, means, strict=True)]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.bar(conds, means, yerr=[lows, highs], capsize=6, color=["#999", "#3a7", "#58c", "#c85"][: len(conds)])
    ax.set_ylabel("cumulative regret (mean, 95% bootstrap CI)")
    ax.set_title(f"oneiro ab: {d['config']['seeds']} seeds x {d['config']['steps']} steps, regime switches")
    fig.tight_layout()
    out = DOCS / "ab_regret.png"
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def main() -> int:
    DOCS.mkdir(exist_ok=True)
    for draw in (locomo, ab):
        print(draw())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
