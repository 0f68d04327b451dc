"""One door to open a store: a URL (``sqlite:///path/agent.db``, ``sqlite://:memory:``), a bare
path, or ``":memory:"``. Store implementations register their scheme here, so the callers never
branch on which store they hold.

``sqlite:///abs/path.db`` is an absolute path, ``sqlite://rel/path.db`` a relative one (the
SQLAlchemy convention users already know). A URL whose scheme nobody registered is refused with
the schemes that are available; a ``file://`` or any other URL is not guessed at.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from oneiro.errors import InvalidInput
from oneiro.store.protocol import Store

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


@dataclass(frozen=True)
class StoreOptions:
    """What every store accepts when it opens; a store ignores what it has no use for."""

    synchronous: str = "NORMAL"
    busy_timeout_ms: int = 60_000
    read_only: bool = False


Opener = Callable[[str, StoreOptions], Store]
_OPENERS: dict[str, Opener] = {}


def register_scheme(scheme: str, opener: Opener) -> None:
    """Let a store open from URLs of ``scheme`` (``postgresql``, say)."""
    key = scheme.lower()
    if key in _OPENERS:
        raise ValueError(f"a store is already registered for {scheme}://")
    _OPENERS[key] = opener


def schemes() -> list[str]:
    return sorted(_OPENERS)


def is_url(target: str) -> bool:
    return bool(_URL.match(target))


def sqlite_path(url: str) -> str:
    """The file (or ``:memory:``) a ``sqlite://`` URL names."""
    parts = urlsplit(url)
    if parts.query or parts.fragment:
        raise InvalidInput(f"{url}: a sqlite URL takes no query or fragment", field="store")
    path = unquote(parts.netloc + parts.path)
    if not path:
        raise InvalidInput(f"{url}: name a file, e.g. sqlite:///var/lib/agent.db", field="store")
    return path


def open_url(url: str, options: StoreOptions | None = None) -> Store:
    """Open the store ``url`` names through the opener registered for its scheme."""
    scheme = url.split("://", 1)[0].lower()
    opener = _OPENERS.get(scheme)
    if opener is None:
        raise InvalidInput(
            f"no store for {scheme}:// URLs; available: {', '.join(s + '://' for s in schemes())}",
            field="store",
        )
    return opener(url, options or StoreOptions())


def _open_sqlite(url: str, options: StoreOptions) -> Store:
    from oneiro.store.sqlite import SQLiteStore

    path = sqlite_path(url)
    if path != ":memory:" and not Path(path).parent.is_dir():
        raise InvalidInput(f"{url}: directory {Path(path).parent} does not exist", field="store")
    return SQLiteStore(path, synchronous=options.synchronous, busy_timeout_ms=options.busy_timeout_ms)


register_scheme("sqlite", _open_sqlite)
