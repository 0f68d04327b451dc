"""``oneiro ab``: the falsifiability harness (dream twins vs awake agents vs anchors), and its
ablations over the dream's operations (``--ablate``)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from oneiro.ab.agent import DREAM_READS
from oneiro.ab.harness import (
    DEFAULT_DREAM_EVERY,
    DEFAULT_SEEDS,
    DEFAULT_STEPS,
    TASKS,
    ABConfig,
    run_ab,
)
from oneiro.ab.report import git_commit, print_result, write_json
from oneiro.cli.common import console


def _names(value: str) -> tuple[str, ...]:
    return tuple(r.strip() for r in value.split(",") if r.strip())


def register(app: typer.Typer) -> None:
    @app.command()
    def ab(
        seeds: Annotated[int, typer.Option("--seeds", help="Seeds (twin pairs) to run.")] = DEFAULT_SEEDS,
        steps: Annotated[int, typer.Option("--steps", help="Steps per run.")] = DEFAULT_STEPS,
        dream_every: Annotated[
            int, typer.Option("--dream-every", help="The dream twins dream every N steps.")
        ] = DEFAULT_DREAM_EVERY,
        embedder: Annotated[str, typer.Option("--embedder", help="hashing or minilm.")] = "hashing",
        out: Annotated[Path | None, typer.Option("--out", help="Write the JSON result here.")] = None,
        reads: Annotated[
            str,
            typer.Option(
                "--reads", help="Entry kinds the dream twins act on: correction,summary,strategy_mix."
            ),
        ] = ",".join(DREAM_READS),
        task: Annotated[str, typer.Option("--task", help=f"Task: {', '.join(TASKS)}.")] = "regime",
        tune: Annotated[
            bool,
            typer.Option(
                "--tune/--no-tune",
                help="Tune the strong awake agent's discount (and context bins) on seeds 1000-1009 first.",
            ),
        ] = True,
        discount: Annotated[
            float, typer.Option("--discount", help="The strong pair's discount, with --no-tune.")
        ] = 1.0,
        bins: Annotated[
            int, typer.Option("--bins", help="The strong pair's context bins, with --no-tune.")
        ] = 1,
        ablate: Annotated[
            str | None,
            typer.Option(
                "--ablate",
                help="Run leave-one-out and add-one-in ablations instead: 'all' (every dream phase) "
                "or comma-separated phases or operations.",
            ),
        ] = None,
    ) -> None:
        """Does dreaming help? Naive and strong dream twins vs their awake twins vs SW-UCB and
        discounted Thompson sampling, with bootstrap CIs over seeds."""
        config = ABConfig(
            seeds=seeds,
            steps=steps,
            dream_every=dream_every,
            embedder=embedder,
            reads=_names(reads),
            task=task,
            discount=discount,
            bins=bins,
        )
        start = time.perf_counter()
        record = None
        if tune:
            from oneiro.ab.tuning import tuned

            config, record = tuned(config)
            console.print(f"tuned the awake estimator on seeds {record['seeds'][0]}..: {record['chosen']}")
        if ablate is not None:
            from oneiro.ab.ablation import run_ablation

            result = run_ablation(config, None if ablate == "all" else list(_names(ablate)))
            for e in result["effects"]:
                console.print(
                    f"{e['ablation']} {e['unit']}: regret effect {e['mean']:+.2f} "
                    f"[{e['low']:+.2f}, {e['high']:+.2f}], Holm p {e['holm_p']:.3g}: {e['verdict']}"
                )
        else:
            result = run_ab(config)
            print_result(console, result)
        if record is not None:
            result["tuning"] = record
        result["seconds"] = round(time.perf_counter() - start, 2)
        result["git_commit"] = git_commit()
        if out is not None:
            write_json(result, out)
            console.print(f"wrote {out}")
