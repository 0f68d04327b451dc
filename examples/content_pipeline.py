"""Re-score published content under a new scoring model without publishing anything twice.

The content pipeline of seed 001: draft a post (pure) -> publish it (effectful) -> read its
engagement back (effectful) -> score it (pure). Awake, it really publishes, and the gate records
every effectful call. Then the scoring model changes. Re-running the pipeline awake would post
every tweet again; in dream mode the same code runs, but ``publish`` and ``engagement`` are
answered by replay shadows from the recorded calls, so the new model scores the real outcomes and
the world sees nothing.

Run it (it starts a small social-network stand-in on 127.0.0.1 and a store in a temp folder)::

    python examples/content_pipeline.py
"""

from __future__ import annotations

import json
import tempfile
import threading
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from oneiro.gate import DispatchStatus, Gate
from oneiro.shadows import ReplayShadow
from oneiro.store import SQLiteStore

TOPICS = ("sleep and memory", "REM atonia", "replay in the hippocampus")
#: Seconds before an HTTP call to the network stand-in gives up.
HTTP_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Scored:
    topic: str
    post_id: int
    engagement: dict[str, int]
    score: float
    status: str


def score_v1(engagement: dict[str, int]) -> float:
    """The old model: likes are all that count."""
    return float(engagement["likes"])


def score_v2(engagement: dict[str, int]) -> float:
    """The new model: a share is worth three likes."""
    return float(engagement["likes"] + 3 * engagement["shares"])


def register(gate: Gate, base_url: str) -> None:
    """Register the pipeline's four steps on ``gate``, talking to the network at ``base_url``."""

    @gate.pipeline("draft", effect="pure")
    def draft(topic: str) -> str:
        return f"Thinking about {topic} today."

    @gate.pipeline("publish", effect="effectful", shadow=ReplayShadow())
    def publish(text: str) -> dict[str, Any]:
        body = json.dumps({"text": text}).encode()
        request = urllib.request.Request(f"{base_url}/posts", data=body, method="POST")
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as response:
            return dict(json.loads(response.read()))

    @gate.pipeline("engagement", effect="effectful", shadow=ReplayShadow())
    def engagement(post_id: int) -> dict[str, int]:
        with urllib.request.urlopen(f"{base_url}/engagement/{post_id}", timeout=HTTP_TIMEOUT_S) as response:
            data = json.loads(response.read())
        return {"likes": int(data["likes"]), "shares": int(data["shares"])}

    gate.register("score_v1", score_v1, effect="pure")
    gate.register("score_v2", score_v2, effect="pure")


def run(gate: Gate, topics: tuple[str, ...], scorer: str) -> list[Scored]:
    """The pipeline, step by step through the gate: the same code awake and dreaming."""
    out: list[Scored] = []
    for topic in topics:
        text = gate.dispatch("draft", topic).value
        published = gate.dispatch("publish", text)
        if published.status not in (DispatchStatus.OK, DispatchStatus.SIMULATED):
            out.append(Scored(topic, -1, {}, 0.0, f"publish {published.status}: {published.reason}"))
            continue
        post_id = int(published.value["id"])
        seen = gate.dispatch("engagement", post_id)
        if seen.status not in (DispatchStatus.OK, DispatchStatus.SIMULATED):
            out.append(Scored(topic, post_id, {}, 0.0, f"engagement {seen.status}: {seen.reason}"))
            continue
        score = gate.dispatch(scorer, seen.value).value
        out.append(Scored(topic, post_id, seen.value, score, published.status.value))
    return out


def rescore_in_dream(gate: Gate, topics: tuple[str, ...], cycle_id: str) -> list[Scored]:
    """Counterfactual re-scoring: the recorded outcomes under the new model, nothing sent."""
    with gate.dreaming(cycle_id):
        return run(gate, topics, "score_v2")


@contextmanager
def social_network() -> Iterator[str]:
    """A stand-in for the outside world on 127.0.0.1: posts get ids, ids get engagement."""
    posts: list[str] = []
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with lock:
                posts.append(json.loads(body)["text"])
                self._send({"id": len(posts)})

        def do_GET(self) -> None:
            post_id = int(self.path.rsplit("/", 1)[1])
            self._send({"id": post_id, "likes": 10 * post_id % 17, "shares": post_id % 3})

        def _send(self, value: Any) -> None:
            payload = json.dumps(value).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        print(f"the network saw {len(posts)} posts")


def main(emit: Callable[[str], None] = print) -> list[tuple[Scored, Scored]]:
    with tempfile.TemporaryDirectory() as tmp, social_network() as url:
        store = SQLiteStore(Path(tmp) / "content.db")
        try:
            gate = Gate(store, clock=lambda: 0.0)
            register(gate, url)
            awake = run(gate, TOPICS, "score_v1")
            dreamt = rescore_in_dream(gate, TOPICS, "rescore-1")
        finally:
            store.close()
    for old, new in zip(awake, dreamt, strict=True):
        emit(f"{old.topic!r}: post {old.post_id}, v1 {old.score:g} -> v2 {new.score:g} ({new.status})")
    return list(zip(awake, dreamt, strict=True))


if __name__ == "__main__":
    main()
