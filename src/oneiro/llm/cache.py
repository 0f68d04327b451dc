"""A file cache of validated LLM answers keyed by the prompt's hash, under the store's state
directory, so a repeated dry run costs no tokens. One file per answer, written atomically
(temporary file then rename), so a crash leaves no half-written entry."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


class ResponseCache:
    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def _path(self, key: str) -> Path:
        if not key.isalnum():
            raise ValueError(f"cache key must be a hex digest, got {key!r}")
        return self.directory / key[:2] / f"{key}.json"

    def get(self, key: str) -> str | None:
        try:
            return self._path(key).read_text(encoding="utf-8")
        except FileNotFoundError:
            return None

    def put(self, key: str, value: str) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(value)
        os.replace(tmp, path)
