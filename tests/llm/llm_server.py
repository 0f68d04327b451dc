"""A loopback OpenAI-compatible chat-completions server (not a real model): each request pops the
next scripted behaviour: ("json", obj) a valid answer, ("text", s) raw content, ("status", code),
("slow", seconds) then a valid default, ("truncated", s) finish_reason=length."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class LLMServer:
    def __init__(self, script: list[tuple[str, Any]]) -> None:
        self.script, self.requests = list(script), []  # type: ignore[var-annotated]
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append(body)
                kind, arg = server.script.pop(0) if server.script else ("status", 500)
                if kind == "status":
                    self._send(arg, {"error": {"message": "scripted"}})
                    return
                if kind == "slow":
                    time.sleep(arg)
                    kind, arg = "text", "{}"
                content = json.dumps(arg) if kind == "json" else arg
                self._send(
                    200,
                    {
                        "id": "x",
                        "object": "chat.completion",
                        "created": 0,
                        "model": body["model"],
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": content},
                                "finish_reason": "length" if kind == "truncated" else "stop",
                            }
                        ],
                        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
                    },
                )

            def _send(self, code: int, obj: Any) -> None:
                data = json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
