"""A real HTTP server on 127.0.0.1 that counts every request it receives.

Tests point effectful pipelines at it and assert on ``count()``: the world behind the gate is real,
the gate is not mocked. ``POST`` answers ``{"id": n, "path": ..., "body": ...}`` with ``n`` the
running number of POSTs; ``GET /engagement/<id>`` answers a deterministic engagement figure for that
id; anything else answers ``{"path": ...}``.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

#: Engagement served for post ``n``: a fixed, easily recomputed function of the id.
LIKES_PER_ID = 7
LIKES_MODULUS = 50


def engagement_for(post_id: int) -> dict[str, int]:
    return {"id": post_id, "likes": (post_id * LIKES_PER_ID) % LIKES_MODULUS, "shares": post_id % 3}


class CountingServer:
    """Start with ``with CountingServer() as server:``; ``server.url`` is its base URL."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._posts = 0
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def count(self, method: str | None = None) -> int:
        """Requests received so far (of one method, if given)."""
        with self._lock:
            return self._counts[method] if method else sum(self._counts.values())

    def __enter__(self) -> CountingServer:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def _answer(self, method: str, path: str, body: bytes) -> dict[str, Any]:
        with self._lock:
            self._counts[method] += 1
            if method == "POST":
                self._posts += 1
                return {"id": self._posts, "path": path, "body": json.loads(body or b"null")}
        if path.startswith("/engagement/"):
            return engagement_for(int(path.rsplit("/", 1)[1]))
        return {"path": path}

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _reply(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                payload = json.dumps(server._answer(method, self.path, self.rfile.read(length))).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self) -> None:
                self._reply("GET")

            def do_POST(self) -> None:
                self._reply("POST")

            def log_message(self, format: str, *args: Any) -> None:
                return None

        return Handler


def post_json(url: str, body: Any, timeout: float = 5.0) -> Any:
    """POST ``body`` as JSON and return the decoded JSON answer."""
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def get_json(url: str, timeout: float = 5.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read())
