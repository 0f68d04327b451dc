"""A loopback OpenAI-compatible chat-completions server (not a real model): each request pops the
next scripted behaviour: ("json", obj) a valid answer, ("text", s) raw content, ("status", code),
("slow", seconds) then a valid default, ("truncated", s) finish_reason=length. With the script
empty, ``default(body)`` (when given) chooses the behaviour from the request itself, e.g. by the
name of the JSON schema it sends; otherwise the server answers 500. Usage is counted by the server
(``count``: text -> tokens; whitespace words when none is given)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Behaviour = tuple[str, Any]


class LLMServer:
    def __init__(
        self,
        script: list[Behaviour],
        default: Callable[[dict[str, Any]], Behaviour] | None = None,
        count: Callable[[str], int] | None = None,
    ) -> None:
        self.script, self.requests = list(script), []  # type: ignore[var-annotated]
        self.default = default
        self.count = count or (lambda text: len(text.split()))
        self.tokens = {"prompt": 0, "completion": 0}
        server = self

        class Handler(BaseHTTPRequestHandler):
            # Keep-alive, and each response sent in one write: headers and body written apart
            # meet the client's delayed ACK (about 40 ms a request on Linux), which would be
            # counted as the tier machinery's overhead.
            protocol_version = "HTTP/1.1"
            wbufsize = 1 << 16

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append(body)
                if server.script:
                    kind, arg = server.script.pop(0)
                elif server.default is not None:
                    kind, arg = server.default(body)
                else:
                    kind, arg = "status", 500
                if kind == "status":
                    self._send(arg, {"error": {"message": "scripted"}})
                    return
                if kind == "slow":
                    time.sleep(arg)
                    kind, arg = "text", "{}"
                content = json.dumps(arg) if kind == "json" else arg
                prompt = server.count("\n".join(str(m.get("content", "")) for m in body["messages"]))
                completion = server.count(content)
                server.tokens["prompt"] += prompt
                server.tokens["completion"] += completion
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
                        "usage": {
                            "prompt_tokens": prompt,
                            "completion_tokens": completion,
                            "total_tokens": prompt + completion,
                        },
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


def schema_name(body: dict[str, Any]) -> str:
    """The name of the JSON schema a request sends as ``response_format`` ("" for none)."""
    return str((body.get("response_format") or {}).get("json_schema", {}).get("name", ""))


def record_ids(body: dict[str, Any]) -> list[str]:
    """The ids a prompt lists as ``[id] text`` lines, in order."""
    import re

    text = "\n".join(str(m.get("content", "")) for m in body["messages"])
    return re.findall(r"^\[([^\]]+)\]", text, re.M)
