"""``oneiro bench``: memory quality on external data (LoCoMo, LongMemEval_S), beside its anchors."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from oneiro.bench.locomo import run_locomo
from oneiro.bench.longmemeval import run_longmemeval
from oneiro.bench.report import print_table, write_json
from oneiro.cli.common import console

DataOption = Annotated[Path, typer.Option("--data", help="The data file (.json or .json.gz).")]
OutOption = Annotated[Path | None, typer.Option("--out", help="Write the JSON result here.")]
ConditionsOption = Annotated[
    str,
    typer.Option(
        "--conditions",
        help="Comma-separated: raw, dream, bm25, dense (LoCoMo also: observation, a reference).",
    ),
]
EmbedderChoice = Annotated[str, typer.Option("--embedder", help="minilm or hashing.")]
CacheOption = Annotated[
    Path | None,
    typer.Option(
        "--embedding-cache",
        help="An .npz file of vectors by text (made if absent): a re-run embeds only new texts.",
    ),
]
TokenizerOption = Annotated[
    str | None,
    typer.Option(
        "--bm25-tokenizer", help="words or split (default: words for LoCoMo, split for LongMemEval)."
    ),
]


def _conditions(value: str) -> list[str]:
    return [c.strip() for c in value.split(",") if c.strip()]


def _finish(result: dict[str, Any], out: Path | None) -> None:
    if out is not None:
        write_json(result, out)
        console.print(f"wrote {out}")


def register(app: typer.Typer) -> None:
    bench = typer.Typer(help="Measure memory quality on external data, beside BM25 and dense anchors.")
    app.add_typer(bench, name="bench")

    @bench.command()
    def locomo(
        data: DataOption,
        out: OutOption = None,
        conditions: ConditionsOption = "raw,dream,bm25,dense",
        conversations: Annotated[
            int | None, typer.Option("--conversations", help="Only the first N conversations.")
        ] = None,
        embedder: EmbedderChoice = "minilm",
        bm25_tokenizer: TokenizerOption = None,
        embedding_cache: CacheOption = None,
    ) -> None:
        """LoCoMo turn-level evidence recall@5/10/25, overall and per category."""
        result = run_locomo(
            data,
            _conditions(conditions),
            embedder,
            conversations,
            tokenizer=bm25_tokenizer or "words",
            embedding_cache=embedding_cache,
        )
        print_table(
            console,
            f"LoCoMo: {result['items']} questions, {len(result['conversations'])} conversations",
            {n: t for n, t in result["conditions"].items()},
            ["recall@5", "recall@10", "recall@25", "session_recall@10", "session_rank_recall@10"],
        )
        _finish(result, out)

    @bench.command()
    def longmemeval(
        data: DataOption,
        out: OutOption = None,
        conditions: ConditionsOption = "raw,dream,bm25,dense",
        questions: Annotated[
            int | None, typer.Option("--questions", help="Only the first N non-abstention questions.")
        ] = None,
        embedder: EmbedderChoice = "minilm",
        bm25_tokenizer: TokenizerOption = None,
        dream_every: Annotated[
            str, typer.Option("--dream-every", help="session (after each haystack session) or haystack.")
        ] = "session",
        embedding_cache: CacheOption = None,
    ) -> None:
        """LongMemEval_S retrieval: recall_any/recall_all/NDCG@k at session and turn level."""
        result = run_longmemeval(
            data,
            _conditions(conditions),
            embedder,
            questions,
            tokenizer=bm25_tokenizer or "split",
            dream_every=dream_every,
            embedding_cache=embedding_cache,
        )
        cols = ["recall_any@5", "recall_all@5", "ndcg@5", "recall_all@10", "ndcg@10"]
        sessions = {n: t["session"] for n, t in result["conditions"].items()}
        print_table(console, f"LongMemEval, session level: {result['questions']} questions", sessions, cols)
        turns = {n: t["turn"] for n, t in result["conditions"].items() if t["turn"]}
        if turns:
            print_table(console, "LongMemEval, turn level", turns, cols)
        _finish(result, out)
