"""The ``oneiro`` command line: a thin layer over :class:`oneiro.Memory`.

Each group of commands lives in its own module and registers itself on ``app`` here.
"""

from __future__ import annotations

import sys

from rich.markup import escape

from oneiro.cli import ab as ab_commands
from oneiro.cli import awake, bench, demo, dream, plugins, serve, transfer
from oneiro.cli import migrate as migrate_commands
from oneiro.cli import model as model_commands
from oneiro.cli import playbook as playbook_commands
from oneiro.cli.common import app, err_console
from oneiro.config import env_flag
from oneiro.errors import OneiroError

awake.register(app)
demo.register(app)
dream.register(app)
bench.register(app)
playbook_commands.register(app)
ab_commands.register(app)
transfer.register(app)
plugins.register(app)
migrate_commands.register(app)
serve.register(app)
model_commands.register(app)


#: Exit status for input the user must fix (every OneiroError, click's usage errors).
EXIT_INPUT = 2
#: Exit status for a defect in oneiro itself.
EXIT_INTERNAL = 1
#: Exit status after Ctrl-C (128 + SIGINT), as shells report it.
EXIT_INTERRUPTED = 130
#: Set to 1 to see the traceback of an internal error instead of its one-line summary.
DEBUG_ENV = "ONEIRO_DEBUG"


def main() -> None:
    """Entry point: OneiroError becomes a one-line message and exit status 2; anything else is a
    defect, reported in one line that says so (exit status 1), with the traceback on request."""
    import click

    try:
        app(standalone_mode=False)
    except OneiroError as exc:
        _error(str(exc))
        sys.exit(EXIT_INPUT)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except (click.exceptions.Abort, KeyboardInterrupt):
        _error("interrupted")
        sys.exit(EXIT_INTERRUPTED)
    except Exception as exc:
        if env_flag(DEBUG_ENV):
            raise
        _error(
            f"internal error ({type(exc).__name__}: {exc}); this is a defect in oneiro, please "
            f"report it (set {DEBUG_ENV}=1 to see the traceback)"
        )
        sys.exit(EXIT_INTERNAL)


def _error(message: str) -> None:
    one_line = " ".join(message.split())
    err_console.print(f"[red]error:[/red] {escape(one_line)}", highlight=False)


__all__ = ["app", "main"]
