"""``oneiro serve`` (the HTTP service and dashboard) and ``oneiro mcp`` (the MCP server on stdio).

Both need the ``service`` extra (``pip install 'oneiro[service]'``); without it they say so."""

from __future__ import annotations

from typing import Annotated

import typer

from oneiro.cli.common import EmbedderOption, HomeOption, err_console, open_memory
from oneiro.errors import BackendError

#: Port of ``oneiro serve`` by default (unassigned by IANA in the user range).
DEFAULT_PORT = 8765
LOOPBACK = "127.0.0.1"


def _need_extra() -> None:
    try:
        import fastapi  # noqa: F401
        import mcp  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise BackendError(
            f"the service needs the 'service' extra ({exc.name} is missing): pip install 'oneiro[service]'"
        ) from None


def register(app: typer.Typer) -> None:
    @app.command()
    def serve(
        host: Annotated[str, typer.Option(help="Address to listen on (loopback by default).")] = LOOPBACK,
        port: Annotated[int, typer.Option(help="Port to listen on.")] = DEFAULT_PORT,
        home: HomeOption = None,
        embedder: EmbedderOption = None,
    ) -> None:
        """Serve the HTTP API, the live dashboard (at /) and MCP (at /mcp) over one store."""
        _need_extra()
        import uvicorn

        from oneiro.service.app import create_app
        from oneiro.service.auth import is_loopback
        from oneiro.service.token import TOKEN_ENV, ensure_token_file, resolve_token

        with open_memory(home, embedder) as memory:
            state_dir = memory.config.state_dir
            if resolve_token(state_dir) is None:
                try:
                    ensure_token_file(state_dir)
                except OSError as exc:  # a read-only state directory: serve reads, refuse writes
                    err_console.print(
                        f"[yellow]warning:[/yellow] no token ({exc.strerror}): writes are refused"
                    )
            token = resolve_token(state_dir)
            where = f"${TOKEN_ENV}" if token and _from_env() else str(state_dir / "token")
            if not is_loopback(host):
                err_console.print(
                    f"[yellow]warning:[/yellow] listening on {host}, not loopback: anyone who can reach "
                    "it can read this memory (writes still need the token)"
                )
            fragment = f"#token={token}" if token else ""
            err_console.print(f"dashboard: http://{_url_host(host)}:{port}/{fragment}")
            err_console.print(f"writes need 'Authorization: Bearer <token>' (the token is in {where})")
            uvicorn.run(create_app(memory, token=token, host=host), host=host, port=port, log_level="warning")

    @app.command("mcp")
    def mcp_command(home: HomeOption = None, embedder: EmbedderOption = None) -> None:
        """Serve the MCP server over stdio (for an MCP host: Claude Code, Cursor, ...)."""
        _need_extra()
        from oneiro.service.mcp import build

        with open_memory(home, embedder) as memory:
            build(memory).run("stdio")


def _from_env() -> bool:
    import os

    from oneiro.service.token import TOKEN_ENV

    return os.environ.get(TOKEN_ENV) is not None


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
