"""Temporal normalisation: relative time expressions resolved against the episode's own date.

"last Saturday" said on 8 May 2023 means 6 May 2023; stored as such, a later question about May
2023 can find it. Detection is a small set of patterns (what people actually say); resolution is
dateparser with the episode's time as its relative base. Expressions dateparser does not know are
first rewritten to ones it does (``REWRITES``), and the rewrite is recorded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import MAXYEAR, MINYEAR, date, datetime
from functools import lru_cache

import dateparser

from oneiro.dream.ops.extractive import calendar_time

_NUM = r"(?:\d+|a|an|one|two|three|four|five|six|seven|eight|nine|ten|a few|a couple of|couple of|few)"
_UNIT = r"(?:day|week|month|year|weekend)s?"
_DAY = r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
_REL = r"(?:last|this|next|past)"
PATTERN = re.compile(
    rf"\b(?:yesterday|today|tonight|tomorrow|last night|the day before yesterday"
    rf"|{_NUM} {_UNIT} ago"
    rf"|{_REL} (?:{_UNIT}|{_DAY}|summer|winter|spring|fall|autumn)"
    rf"|(?:on )?{_DAY})\b",
    re.IGNORECASE,
)
#: Phrases dateparser does not resolve, mapped to ones it does (the quantity people usually mean).
REWRITES: dict[str, str] = {
    "a few": "3",
    "few": "3",
    "a couple of": "2",
    "couple of": "2",
    "last weekend": "last saturday",
    "this weekend": "saturday",
    "past week": "last week",
    "past month": "last month",
    "past year": "last year",
    "the day before yesterday": "2 days ago",
}
SEASONS = {"summer": 7, "winter": 1, "spring": 4, "fall": 10, "autumn": 10}
_SETTINGS_PAST = {"PREFER_DATES_FROM": "past", "RETURN_AS_TIMEZONE_AWARE": False}


@dataclass(frozen=True)
class DateMention:
    """A relative expression in a text and the calendar date it refers to."""

    expression: str
    date: str  # ISO date, YYYY-MM-DD
    granularity: str  # day, week, month, year, season

    @property
    def words(self) -> list[str]:
        """Forms a question might use: the ISO date, '7 May 2023', 'May 2023', '2023', the weekday."""
        dt = datetime.fromisoformat(self.date)
        forms = [self.date, f"{dt.day} {dt:%B %Y}", f"{dt:%B %Y}", str(dt.year)]
        if self.granularity == "day":
            forms.append(f"{dt:%A}")
        return forms


def _rewrite(expr: str) -> str:
    low = expr.lower().removeprefix("on ")
    for src, dst in REWRITES.items():
        if low == src or low.startswith(src + " "):
            low = dst + low[len(src) :]
    return low


def _granularity(expr: str) -> str:
    low = expr.lower()
    for unit in ("week", "month", "year"):
        if unit in low:
            return unit
    if any(s in low for s in SEASONS):
        return "season"
    return "day"


def _iso(year: int, month: int, day: int) -> str | None:
    """The ISO date, or None when it lies outside the calendar (year 0, year 10000)."""
    if not MINYEAR <= year <= MAXYEAR:
        return None
    return date(year, month, day).isoformat()


@lru_cache(maxsize=4096)
def _resolve(expr: str, base_iso: str) -> str | None:
    """The date ``expr`` means, said at ``base_iso``; None when it does not resolve, including
    when it would fall off the calendar ("tomorrow" said on 31 December 9999)."""
    base = datetime.fromisoformat(base_iso)
    low = expr.lower()
    for season, month in SEASONS.items():
        if season in low:
            year = (
                base.year - 1 if low.startswith("last") else base.year + (1 if low.startswith("next") else 0)
            )
            return _iso(year, month, 1)
    settings = {**_SETTINGS_PAST, "RELATIVE_BASE": base}
    if low.startswith("next") or low in {"tomorrow", "tonight", "today"}:
        settings["PREFER_DATES_FROM"] = "future"
    try:
        parsed = dateparser.parse(_rewrite(expr), languages=["en"], settings=settings)
    except (OverflowError, ValueError):  # date arithmetic past year 1 or 9999
        return None
    return None if parsed is None else _iso(parsed.year, parsed.month, parsed.day)


def normalise(text: str, ts: float) -> list[DateMention]:
    """Every relative expression in ``text`` that resolves against ``ts`` (seconds, UTC); none
    when ``ts`` is no calendar instant (nothing to resolve against)."""
    base = calendar_time(ts)
    if base is None:
        return []
    base_iso = base.isoformat(timespec="minutes")
    out: list[DateMention] = []
    seen: set[str] = set()
    for match in PATTERN.finditer(text):
        expr = match.group(0)
        key = expr.lower()
        if key in seen:
            continue
        seen.add(key)
        date = _resolve(expr, base_iso)
        if date is not None:
            out.append(DateMention(expr, date, _granularity(expr)))
    return out
