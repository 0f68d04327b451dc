"""Bearer-token checks: every route that writes depends on :func:`require_token`; ``/mcp``
(whose tools write) is checked as a whole by :class:`GuardPrefix`.

The comparison is constant-time (``secrets.compare_digest``) so a wrong token's timing tells
nothing about the right one. With no token configured every write is refused, never allowed.
"""

from __future__ import annotations

import ipaddress
import secrets
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.types import ASGIApp, Receive, Scope, Send

from oneiro.service.errors import EdgeError, edge_response
from oneiro.service.token import TOKEN_ENV

bearer = HTTPBearer(
    auto_error=False, description=f"The token of ${TOKEN_ENV} or the state directory's `token`"
)
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="oneiro"'}


def check(expected: str | None, header: str | None) -> None:
    """Raise EdgeError(unauthorized) unless ``header`` is ``Bearer <expected>``."""
    if expected is None:
        raise EdgeError(
            "unauthorized",
            f"this server has no token, so it refuses every write; set ${TOKEN_ENV} or run `oneiro init`",
            CHALLENGE,
        )
    scheme, _, given = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not given:
        raise EdgeError("unauthorized", "a write needs 'Authorization: Bearer <token>'", CHALLENGE)
    if not secrets.compare_digest(given.strip().encode(), expected.encode()):
        raise EdgeError("unauthorized", "wrong token", CHALLENGE)


def require_token(
    request: Request, _: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> None:
    """The dependency of every writing route (declared with the bearer scheme for OpenAPI)."""
    check(request.app.state.service.token, request.headers.get("authorization"))


Writer = Depends(require_token)


class GuardPrefix:
    """ASGI middleware: every request under ``prefix`` (the MCP transport, whose tools write)
    needs the bearer token, answered with the usual JSON 401 otherwise."""

    def __init__(self, app: ASGIApp, prefix: str, token: Callable[[], str | None]) -> None:
        self.app = app
        self.prefix = prefix
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and (path == self.prefix or path.startswith(self.prefix + "/")):
            header = dict(scope.get("headers") or []).get(b"authorization", b"").decode("latin-1")
            try:
                check(self.token(), header)
            except EdgeError as exc:
                await edge_response(exc.code, str(exc), exc.headers)(scope, receive, send)
                return
        await self.app(scope, receive, send)


#: Host names a loopback server answers to. A page on another site that re-points its own name at
#: 127.0.0.1 (DNS rebinding) sends its own name as Host, and is refused: reads need no token, so
#: this check is what keeps them to local clients.
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]", "::1"})


def is_loopback(host: str) -> bool:
    """Whether a bind address is a loopback one (``localhost`` included)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class LoopbackHosts:
    """ASGI middleware: on a loopback server, refuse a request whose Host is not a loopback name."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            host = dict(scope.get("headers") or []).get(b"host", b"").decode("latin-1").lower()
            name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
            if name not in LOOPBACK_HOSTS:
                message = f"host {host!r} is not a loopback name; this server answers on loopback only"
                await edge_response("forbidden_host", message)(scope, receive, send)
                return
        await self.app(scope, receive, send)
