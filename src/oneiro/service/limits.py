"""Request size limits, enforced before a handler sees the body.

A declared ``Content-Length`` over the limit is refused at once; a body without one (chunked) is
counted as it arrives and refused as soon as it passes the limit, so a client cannot make the
server buffer more than the limit either way. The refusal is the usual JSON error (413).
"""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from oneiro.dto import ErrorOut
from oneiro.service.errors import EDGE_CODES

#: Default body limit: 8 MiB holds a batch of ~400 episodes at the capture limit of 20 000
#: characters each, or many thousands of ordinary ones; larger imports belong to `oneiro record`.
MAX_BODY_BYTES = 8 * 1024 * 1024


class BodyLimit:
    """ASGI middleware refusing request bodies over ``limit`` bytes with 413."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await _refuse(send, self.limit)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    # Re-raised by FastAPI's body reader and answered by the error handlers.
                    raise HTTPException(413, f"request body over {self.limit} bytes")
            return message

        await self.app(scope, counted, send)


async def _refuse(send: Send, limit: int) -> None:
    body = ErrorOut(code="payload_too_large", message=f"request body over {limit} bytes")
    data = json.dumps(body.model_dump()).encode()
    await send(
        {
            "type": "http.response.start",
            "status": EDGE_CODES["payload_too_large"],
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": data})
