"""The bearer token that guards every write of the HTTP service (stdlib only: ``oneiro init``
makes the token file without the ``service`` extra installed).

The token is ``$ONEIRO_TOKEN`` when set, otherwise the contents of ``token`` in the state
directory, which ``oneiro init`` (or the first ``oneiro serve``) creates readable by its owner
only. Reads need no token: the service listens on loopback by default, and what it shows is what
``oneiro status`` shows any local user who can read the store.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from oneiro.errors import ConfigError

TOKEN_ENV = "ONEIRO_TOKEN"
TOKEN_FILENAME = "token"
#: Random bytes in a new token: 32 bytes = 256 bits, the size ``secrets`` recommends for tokens
#: that must resist guessing (Python docs, "How many bytes should tokens use?").
TOKEN_BYTES = 32
#: Owner read/write only: the token is a password.
TOKEN_MODE = 0o600


def token_path(state_dir: Path) -> Path:
    return state_dir / TOKEN_FILENAME


def ensure_token_file(state_dir: Path) -> Path:
    """The state directory's token file, created with a new random token if missing (never
    overwritten: a client holding the old token keeps working)."""
    path = token_path(state_dir)
    if path.exists():
        return path
    state_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, TOKEN_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(secrets.token_urlsafe(TOKEN_BYTES) + "\n")
    return path


def resolve_token(state_dir: Path | None) -> str | None:
    """``$ONEIRO_TOKEN``, else the state directory's token file, else None (writes then refused).
    An empty token is refused: it would let any request write."""
    env = os.environ.get(TOKEN_ENV)
    if env is not None:
        if not env.strip():
            raise ConfigError(f"${TOKEN_ENV} is set but empty; unset it or give a token")
        return env.strip()
    if state_dir is None:
        return None
    path = token_path(state_dir)
    if not path.is_file():
        return None
    value = path.read_text(encoding="utf-8").strip()
    if not value:
        raise ConfigError(f"{path} is empty; delete it and run `oneiro init` to make a new token")
    return value
