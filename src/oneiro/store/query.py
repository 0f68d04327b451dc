"""Typed questions a caller may ask the store, instead of SQL text.

An :class:`EntryQuery` says which entries are wanted in domain terms (kinds, statuses, the cycle
that wrote them, what their ``data`` holds); each store translates it into its own query language
(:func:`oneiro.store.entries.select` for SQLite). Every field left at its default does not
filter; the fields given are all required (AND). Results come in insertion order.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from oneiro.errors import InvalidInput
from oneiro.model import EntryStatus, Provenance

#: Every provenance but awake: what a dream, a shadow or a model derived.
DERIVED: tuple[Provenance, ...] = tuple(p for p in Provenance if p is not Provenance.AWAKE)
#: A path into an entry's ``data``: dot-separated keys of letters, digits and '_'.
_PATH_PART = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


def _path(path: str) -> str:
    parts = path.split(".")
    if not path or any(not p or not set(p) <= _PATH_PART for p in parts):
        raise InvalidInput(
            f"data path {path!r} must be dot-separated names (letters, digits, '_')", field="data"
        )
    return path


def text_key(text: str) -> str:
    """An entry text's comparison key: case-folded, whitespace runs collapsed, ends stripped (two
    texts that say the same thing but for case and spacing share it)."""
    return " ".join(text.casefold().split())


def _strings(values: Iterable[str] | None) -> tuple[str, ...] | None:
    return None if values is None else tuple(str(v) for v in values)


@dataclass(frozen=True)
class EntryQuery:
    """Which entries to return.

    - ``ids``, ``kinds``, ``statuses``, ``provenance``: the entry's value is one of these;
    - ``cycle``: written by this cycle; ``not_cycle``: awake-made or written by any other cycle;
    - ``min_confidence``: confidence at least this;
    - ``data_has``: ``(path, value)`` pairs the entry's ``data`` holds exactly (``"test.context"``
      reads ``data["test"]["context"]``); ``data_keys``: paths present (not null);
      ``data_lacks``: paths absent or null;
    - ``text``: the entry's text is exactly this; ``text_keys``: the entry's :func:`text_key` is
      one of these (so a duplicate check reads only the candidates, not every entry of a kind);
    - ``returned``: only awake-made entries and those of returned cycles;
    - ``min_uses``: recalled at least this many times (what memetic selection acts on);
    - ``limit``: at most this many (the oldest first).
    """

    kinds: tuple[str, ...] | None = None
    ids: tuple[str, ...] | None = None
    statuses: tuple[str, ...] | None = None
    provenance: tuple[str, ...] | None = None
    cycle: str | None = None
    not_cycle: str | None = None
    min_confidence: float | None = None
    data_has: tuple[tuple[str, Any], ...] = ()
    data_keys: tuple[str, ...] = ()
    data_lacks: tuple[str, ...] = ()
    text: str | None = None
    text_keys: tuple[str, ...] | None = None
    returned: bool = False
    limit: int | None = None
    min_uses: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "kinds", _strings(self.kinds))
        object.__setattr__(self, "ids", _strings(self.ids))
        object.__setattr__(self, "statuses", _strings(self.statuses))
        object.__setattr__(self, "provenance", _strings(self.provenance))
        object.__setattr__(self, "text_keys", _strings(self.text_keys))
        object.__setattr__(self, "data_has", tuple((_path(p), v) for p, v in self.data_has))
        object.__setattr__(self, "data_keys", tuple(_path(p) for p in self.data_keys))
        object.__setattr__(self, "data_lacks", tuple(_path(p) for p in self.data_lacks))
        if self.limit is not None and (isinstance(self.limit, bool) or self.limit < 0):
            raise InvalidInput(f"limit must be a count of entries, got {self.limit!r}", field="limit")
        for path, value in self.data_has:
            if not isinstance(value, str | int | float | bool):
                raise InvalidInput(
                    f"data_has value for {path!r} must be text or a number, got {type(value).__name__}",
                    field="data_has",
                )


#: Hypotheses a person reviews: entries carrying a ``data.test``.
def hypotheses(statuses: Iterable[EntryStatus | str]) -> EntryQuery:
    return EntryQuery(statuses=tuple(str(s) for s in statuses), data_keys=("test",))
