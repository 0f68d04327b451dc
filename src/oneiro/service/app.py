"""The FastAPI app of ``oneiro serve``: the routes, the event stream, the dashboard, ``/mcp``.

:func:`create_app` wires one :class:`~oneiro.Memory` to every edge. The routes are synchronous
(the library is), so FastAPI runs each in its worker threads; the store gives each thread its own
SQLite connection. Writes need the bearer token, bodies are capped, every error is JSON.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Annotated

from fastapi import FastAPI, Header, Query
from fastapi.responses import FileResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles

import oneiro
from oneiro.memory import Memory
from oneiro.service import errors, mcp, routes_dream, routes_memory, routes_playbook
from oneiro.service.auth import GuardPrefix, LoopbackHosts, is_loopback
from oneiro.service.dreams import DreamRunner, HypothesisWatch
from oneiro.service.limits import MAX_BODY_BYTES, BodyLimit
from oneiro.service.sse import KINDS, EventLog
from oneiro.service.state import Service, Svc

STATIC = Path(str(resources.files("oneiro.service") / "static"))
MCP_PATH = "/mcp"
#: Seconds a shutdown waits for a dream it woke to reach its next step boundary.
SHUTDOWN_WAKE_SECONDS = 30.0


def create_app(
    memory: Memory,
    *,
    token: str | None,
    max_body: int = MAX_BODY_BYTES,
    host: str = "127.0.0.1",
    with_mcp: bool = True,
) -> FastAPI:
    """The app over ``memory``. ``token`` None refuses every write; ``host`` is what the server
    binds, for the MCP transport's DNS-rebinding check (on loopback it accepts only loopback
    Host and Origin headers)."""
    watch = HypothesisWatch(memory)
    runner = DreamRunner(memory, watch)
    service = Service(memory, token, runner, watch, EventLog(memory.bus))
    mcp_server = mcp.build(memory, runner, watch) if with_mcp else None
    mcp_app = mcp_server.streamable_http_app(streamable_http_path=MCP_PATH, host=host) if mcp_server else None

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        service.events.attach(asyncio.get_running_loop())
        try:
            if mcp_server is not None:
                async with mcp_server.session_manager.run():
                    yield
            else:
                yield
        finally:
            if runner.wake():
                await asyncio.to_thread(runner.join, SHUTDOWN_WAKE_SECONDS)
            service.events.close()

    app = FastAPI(
        title="oneiro",
        version=oneiro.__version__,
        summary=oneiro.__doc__.strip().splitlines()[0] if oneiro.__doc__ else None,
        lifespan=lifespan,
    )
    app.state.service = service
    errors.install(app)
    app.add_middleware(BodyLimit, limit=max_body)
    app.add_middleware(GuardPrefix, prefix=MCP_PATH, token=lambda: service.token)
    if is_loopback(host):
        app.add_middleware(LoopbackHosts)
    app.include_router(routes_memory.router)
    app.include_router(routes_dream.router)
    app.include_router(routes_playbook.router)
    _events(app)
    _dashboard(app)
    if mcp_app is not None:
        app.router.routes.extend(mcp_app.routes)
    return app


def _events(app: FastAPI) -> None:
    @app.get(
        "/v1/events",
        tags=["events"],
        response_class=StreamingResponse,
        responses={200: {"content": {"text/event-stream": {}}, "description": "server-sent events"}},
    )
    async def events(
        svc: Svc,
        last_event_id: Annotated[str | None, Header(max_length=200)] = None,
        kinds: Annotated[list[str] | None, Query(description=", ".join(KINDS))] = None,
        after: Annotated[str | None, Query(max_length=200, description="as Last-Event-ID")] = None,
    ) -> StreamingResponse:
        """``mode_change``, ``dream_progress``, ``hypothesis``, ``playbook`` and ``dream_done``
        events as they happen. Resume with ``Last-Event-ID`` (or ``after``)."""
        wanted = frozenset(kinds or KINDS) & frozenset(KINDS)
        stream = svc.events.stream(last_event_id or after, wanted)
        return StreamingResponse(
            stream,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )


def _dashboard(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})


__all__ = ["Service", "create_app"]
