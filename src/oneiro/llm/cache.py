"""Caches of validated LLM answers keyed by the prompt's hash, so a repeated dry run costs no
tokens. :class:`ResponseCache` keeps one file per answer under the store's state directory,
written atomically (temporary file then rename), so a crash leaves no half-written entry; a cache
folder that cannot be read or written (a sandboxed cycle, a full disk) is a miss, never an error:
the cache saves tokens, it is not part of what a cycle writes;
:class:`MemoryCache` does the same for an in-memory store, for the life of its memory."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Protocol

#: The cache's folder inside a state directory.
CACHE_DIRNAME = "llm-cache"


class Cache(Protocol):
    def get(self, key: str) -> str | None: ...
    def put(self, key: str, value: str) -> None: ...


def _checked(key: str) -> str:
    if not key.isalnum():
        raise ValueError(f"cache key must be a hex digest, got {key!r}")
    return key


class ResponseCache:
    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def _path(self, key: str) -> Path:
        return self.directory / _checked(key)[:2] / f"{key}.json"

    def get(self, key: str) -> str | None:
        try:
            return self._path(key).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None

    def put(self, key: str, value: str) -> None:
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        except OSError:
            return
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(value)
            os.replace(tmp, path)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


class MemoryCache:
    def __init__(self) -> None:
        self._answers: dict[str, str] = {}

    def get(self, key: str) -> str | None:
        return self._answers.get(_checked(key))

    def put(self, key: str, value: str) -> None:
        self._answers[_checked(key)] = value


def cache_for(store_path: str) -> Cache:
    """The cache beside a store: a folder next to its file (the state directory), or in memory
    for an in-memory store or one named by a URL."""
    if store_path == ":memory:" or "://" in store_path:
        return MemoryCache()
    return ResponseCache(Path(store_path).parent / CACHE_DIRNAME)
