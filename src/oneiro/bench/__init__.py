"""Memory quality on external data (BENCHMARKS.md §1): LoCoMo and LongMemEval_S, oneiro beside
its BM25 and dense anchors, measured in one run.

``run_locomo`` and ``run_longmemeval`` return a JSON-ready result document; the CLI
(``oneiro bench``) writes it and prints a short table.
"""

from oneiro.bench.locomo import run_locomo

__all__ = ["run_locomo"]
