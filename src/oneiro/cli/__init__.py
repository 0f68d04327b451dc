"""The ``oneiro`` command line: a thin layer over :class:`oneiro.Memory`.

Each group of commands lives in its own module and registers itself on ``app`` here.
"""

from __future__ import annotations

import sys

from rich.console import Console
from rich.markup import escape

from oneiro.cli import ab as ab_commands
from oneiro.cli import awake, bench, demo, dream, transfer
from oneiro.cli import playbook as playbook_commands
from oneiro.cli.common import app
from oneiro.errors import OneiroError

awake.register(app)
demo.register(app)
dream.register(app)
bench.register(app)
playbook_commands.register(app)
ab_commands.register(app)
transfer.register(app)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def main() -> None:
    """Entry point: OneiroError becomes a one-line message and exit status 2."""
    try:
        app(standalone_mode=False)
    except OneiroError as exc:
        err_console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
        sys.exit(2)
    except Exception as exc:  # click's own usage errors arrive here in non-standalone mode
        import click

        if isinstance(exc, click.exceptions.Exit):
            sys.exit(exc.exit_code)
        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if isinstance(exc, click.exceptions.Abort):
            sys.exit(1)
        raise


__all__ = ["app", "main"]
