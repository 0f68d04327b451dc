"""One door to open a store: a URL (``sqlite:///path/agent.db``, ``sqlite://:memory:``), a bare
path, or ``":memory:"``. Store implementations register their scheme here, so the callers never
branch on which store they hold.

A ``sqlite`` URL names a file the way a ``file`` URL does: ``sqlite:///abs/path.db`` is the
absolute path ``/abs/path.db`` (SQLAlchemy's four slashes, ``sqlite:////abs/path.db``, name the
same file), ``sqlite://rel/path.db`` the relative path ``rel/path.db``, and ``sqlite://:memory:``
(or ``sqlite:///:memory:``) an in-memory store. A URL names a store file, never a state directory,
and its directory must exist: a URL to a missing directory is refused with nothing created (a bare
path keeps the rules of :func:`oneiro.config.locate`, which create it). A URL whose scheme nobody
registered is refused with the schemes that are available; a ``file://`` or any other URL is not
guessed at.

:func:`open_store` opens a URL and a bare store path alike, with the same :class:`StoreOptions`,
so ``oneiro.open("sqlite:///a/agent.db")`` and ``oneiro.open("/a/agent.db")`` open the same store
the same way.
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
MEMORY = ":memory:"


@dataclass(frozen=True)
class StoreOptions:
    """What every store accepts when it opens; a store ignores what it has no use for.

    ``synchronous`` and ``busy_timeout_ms`` are the ``[store]`` settings; ``read_only`` True opens
    the store for reading only, None (the default) does so only when this process may not write it.
    """

    synchronous: str = "NORMAL"
    busy_timeout_ms: int = 60_000
    read_only: bool | None = None


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
    return MEMORY if path == "/" + MEMORY else path


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


def open_store(target: str, options: StoreOptions | None = None) -> Store:
    """Open ``target``: a URL through its scheme's opener, anything else as a SQLite store file
    (or ``":memory:"``) with the same options, so both spellings of one store open alike."""
    if is_url(target):
        return open_url(target, options)
    return _sqlite(target, options or StoreOptions())


def _sqlite(path: str, options: StoreOptions) -> Store:
    from oneiro.store.sqlite import SQLiteStore

    return SQLiteStore(
        path,
        synchronous=options.synchronous,
        busy_timeout_ms=options.busy_timeout_ms,
        read_only=options.read_only,
    )


def _open_sqlite(url: str, options: StoreOptions) -> Store:
    path = sqlite_path(url)
    if path != MEMORY and not Path(path).parent.is_dir():
        raise InvalidInput(f"{url}: directory {Path(path).parent} does not exist", field="store")
    return _sqlite(path, options)


def _open_postgres(url: str, options: StoreOptions) -> Store:
    try:
        from oneiro.store.postgres import PostgresStore
    except ImportError as exc:
        raise InvalidInput(
            f"{url.split('://', 1)[0]}:// stores need the postgres extra: pip install 'oneiro[postgres]' "
            f"({exc})",
            field="store",
        ) from exc
    return PostgresStore(url, read_only=options.read_only)


register_scheme("sqlite", _open_sqlite)
register_scheme("postgresql", _open_postgres)
register_scheme("postgres", _open_postgres)
