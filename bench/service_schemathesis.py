"""schemathesis against the service's published OpenAPI schema: generated requests (valid and
invalid: wrong types, missing fields, odd strings) at every operation, writes with the token, on
a store that holds the demo day, a dream and a pending revision. Counts the cases tried and the
failures of each check; the figure that matters is ``not_a_server_error``: no 5xx for any input.

The event stream (``/v1/events``, which never ends) is left out; everything else is in.

    nice python bench/service_schemathesis.py --out bench/results/service_schemathesis.json
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import oneiro
from oneiro import demo
from oneiro.dream.writes import RevisionProposal
from oneiro.service.app import create_app
from oneiro.service.live import LiveServer

TOKEN = "bench-token"
#: Checks run on every response (schemathesis's names): no 5xx, and responses as documented.
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
EXCLUDED = "/v1/events"
#: Examples per operation and phase (schemathesis's --max-examples).
EXAMPLES = 50


def seeded(path: Path) -> oneiro.Memory:
    memory = oneiro.open(path, embedder="hashing")
    memory.record_many(demo.episodes())
    memory.dream()
    memory.playbook.propose(RevisionProposal("add", "Ops", "Reconcile before close", "seen twice"))
    return memory


def run(url: str, examples: int, report: Path, seed: int) -> tuple[int, str]:
    command = [
        sys.executable, "-m", "schemathesis.cli", "run", f"{url}/openapi.json",
        "--checks", CHECKS, "--exclude-path", EXCLUDED, "-H", f"Authorization: Bearer {TOKEN}",
        "--max-examples", str(examples), "--seed", str(seed), "--no-color",
        "--report", "ndjson", "--report-ndjson-path", str(report),
    ]  # fmt: skip
    # Run where its cache of crashes goes with the temporary store, not into the work tree.
    out = subprocess.run(command, capture_output=True, text=True, timeout=3600, cwd=report.parent)
    return out.returncode, out.stdout + out.stderr


def summarise(report: Path, output: str) -> dict[str, Any]:
    """Cases and failures as schemathesis's summary states them; responses by status from its
    ndjson event log (every interaction it recorded)."""
    statuses: dict[str, int] = {}
    for line in report.read_text(encoding="utf-8").splitlines():
        body = json.loads(line).get("ScenarioFinished")
        if not body:
            continue
        for interaction in body.get("recorder", {}).get("interactions", {}).values():
            code = str((interaction.get("response") or {}).get("status_code", "none"))
            statuses[code] = statuses.get(code, 0) + 1
    generated = re.search(r"(\d+) generated", output)
    failures = {m[0]: int(m[1]) for m in re.findall(r"❌ (ST\d+ [^:]+): (\d+)", output)}
    return {
        "cases": int(generated[1]) if generated else None,
        "failures_by_check": failures,
        "server_errors": failures.get("ST101 Server error", 0),
        "responses_by_status": dict(sorted(statuses.items())),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--examples", type=int, default=EXAMPLES)
    ap.add_argument("--seed", type=int, default=20250106)
    ap.add_argument("--out", type=Path, default=Path("bench/results/service_schemathesis.json"))
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        memory = seeded(Path(tmp) / "store.db")
        try:
            with LiveServer(create_app(memory, token=TOKEN)) as live:
                start = time.perf_counter()
                code, output = run(live.url, args.examples, Path(tmp) / "events.ndjson", args.seed)
                seconds = time.perf_counter() - start
                summary = summarise(Path(tmp) / "events.ndjson", output)
                alive = live.thread.is_alive()
        finally:
            memory.close()
    result = {
        "schemathesis_exit_code": code,
        "max_examples": args.examples,
        "seed": args.seed,
        "checks": CHECKS.split(","),
        "excluded": [EXCLUDED],
        "seconds": round(seconds, 1),
        "server_alive_after": alive,
        **summary,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(
        json.dumps(
            {k: result[k] for k in ("cases", "server_errors", "failures_by_check", "responses_by_status")}
        )
    )
    if code != 0:
        print(output[-6000:])
    return result


if __name__ == "__main__":
    main()
