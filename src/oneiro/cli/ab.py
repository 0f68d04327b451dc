"""``oneiro ab``: the falsifiability harness (dream twin vs no-dream twin vs anchors)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from oneiro.ab.agent import DREAM_READS
from oneiro.ab.harness import DEFAULT_DREAM_EVERY, DEFAULT_SEEDS, DEFAULT_STEPS, ABConfig, run_ab
from oneiro.ab.report import git_commit, print_result, write_json
from oneiro.cli.common import console


def register(app: typer.Typer) -> None:
    @app.command()
    def ab(
        seeds: Annotated[int, typer.Option("--seeds", help="Seeds (twin pairs) to run.")] = DEFAULT_SEEDS,
        steps: Annotated[int, typer.Option("--steps", help="Steps per run.")] = DEFAULT_STEPS,
        dream_every: Annotated[
            int, typer.Option("--dream-every", help="The dream twin dreams every N steps.")
        ] = DEFAULT_DREAM_EVERY,
        embedder: Annotated[str, typer.Option("--embedder", help="hashing or minilm.")] = "hashing",
        out: Annotated[Path | None, typer.Option("--out", help="Write the JSON result here.")] = None,
        reads: Annotated[
            str, typer.Option("--reads", help="Entry kinds the dream twin acts on: correction,summary.")
        ] = ",".join(DREAM_READS),
    ) -> None:
        """Does dreaming help? Dream twin vs no-dream twin vs SW-UCB and discounted Thompson sampling
        on a regime-switching task, with bootstrap CIs over seeds."""
        config = ABConfig(
            seeds=seeds,
            steps=steps,
            dream_every=dream_every,
            embedder=embedder,
            reads=tuple(r.strip() for r in reads.split(",") if r.strip()),
        )
        start = time.perf_counter()
        result = run_ab(config)
        result["seconds"] = round(time.perf_counter() - start, 2)
        result["git_commit"] = git_commit()
        print_result(console, result)
        if out is not None:
            write_json(result, out)
            console.print(f"wrote {out}")
