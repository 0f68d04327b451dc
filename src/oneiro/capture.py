"""Awake capture: validate what the agent records, address it by content, score its importance.

Validation is total and happens before anything is embedded or written, so a bad item anywhere in
a batch leaves the store untouched. Importance (T0) follows Park et al. (2023) in spirit and scale
(0-10, so the reflection threshold of 150 keeps its meaning) but is computed, not asked of an LLM:
a kind weight times a noisy-OR of the signals present (novelty, |residual|, arousal, explicit
feedback), so a signal can raise importance and never lower it.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from oneiro.config import CaptureConfig
from oneiro.errors import InvalidInput
from oneiro.model import Affect, Episode, Provenance, canonical_json, episode_id
from oneiro.store.vectors import Matrix

FIELDS = frozenset(
    [
        "text",
        "ts",
        "session",
        "actor",
        "kind",
        "data",
        "context",
        "affect",
        "prediction",
        "outcome",
        "feedback",
        "refs",
        "provenance",
        "dispatch",
    ]
)
#: Importance is on Park et al.'s 0-10 scale.
IMPORTANCE_SCALE = 10.0
#: Novelty is measured against the most recent items only: bounded cost per record at any store
#: size, and "new relative to what the agent has lately seen" is the signal that matters.
NOVELTY_WINDOW = 10_000


#: The time range a recorded ``ts`` must fall in: from the Unix epoch (1970-01-01T00:00:00Z) up to,
#: not including, 2200-01-01T00:00:00Z. Outside it a timestamp is almost always a unit mistake
#: (milliseconds or microseconds since the epoch) or a corrupt field, and since episodes are
#: immutable one such value would stay under every later dream.
TS_MIN = 0.0
TS_MAX = 7_258_118_400.0
#: The largest magnitude of ``prediction`` and ``outcome``. Past 2**53 (about 9e15) a float no
#: longer holds every integer, and under this bound a residual, its square and sums of many squares
#: stay finite in every dream operation.
MAX_MAGNITUDE = 1e15
#: How deep ``data`` and ``context`` may nest. Real payloads nest a few levels; the bound keeps JSON
#: encoding and every later reader of the value far from Python's recursion limit.
MAX_JSON_DEPTH = 32
#: How many episode ids ``refs`` may list, and how long each may be.
MAX_REFS = 1_000
MAX_REF_CHARS = 200
#: Longest ``session``, ``actor`` and ``kind``.
MAX_LABEL_CHARS = 1000
#: How much of a key is quoted when an error names a nested path.
PATH_KEY_CHARS = 40


def _number(value: Any, name: str, line: int | None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(f"must be a number, got {type(value).__name__}", field=name, line=line)
    try:
        number = float(value)
    except OverflowError:
        raise InvalidInput("is too large to be a number (over 1.8e308)", field=name, line=line) from None
    if not math.isfinite(number):
        raise InvalidInput("must be a finite number (NaN and infinity are refused)", field=name, line=line)
    return number


def _bounded(value: Any, name: str, line: int | None, limit: float) -> float:
    number = _number(value, name, line)
    if abs(number) > limit:
        raise InvalidInput(f"must lie in [-{limit:g}, {limit:g}], got {number:g}", field=name, line=line)
    return number


def _string(value: Any, name: str, line: int | None, limit: int) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"must be a string, got {type(value).__name__}", field=name, line=line)
    if not _is_utf8(value):
        raise InvalidInput("is not valid UTF-8", field=name, line=line)
    if len(value) > limit:
        raise InvalidInput(f"is {len(value)} characters; the limit is {limit}", field=name, line=line)
    return value


def _is_utf8(value: str) -> bool:
    """False for a string holding lone surrogates, which no UTF-8 store or JSON reader can keep."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def parse_ts(value: Any, name: str = "ts", line: int | None = None) -> float:
    """Seconds since the epoch from a number, an ISO 8601 string or a datetime (naive = UTC)."""
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidInput(f"is not an ISO 8601 time: {value!r}", field=name, line=line) from None
    else:
        return _number(value, name, line)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    try:
        return dt.timestamp()
    except (OverflowError, ValueError, OSError):
        raise InvalidInput(
            f"is outside the range of representable times: {value!r}", field=name, line=line
        ) from None


def record_ts(value: Any, name: str = "ts", line: int | None = None) -> float:
    """A recorded episode's time: :func:`parse_ts` within [TS_MIN, TS_MAX).

    A number over ``TS_MAX`` by a factor near 1,000 or 1,000,000 is named as milliseconds or
    microseconds, the usual cause."""
    ts = parse_ts(value, name, line)
    if TS_MIN <= ts < TS_MAX:
        return ts
    hint = ""
    for unit, factor in (("milliseconds", 1e3), ("microseconds", 1e6), ("nanoseconds", 1e9)):
        if TS_MIN <= ts / factor < TS_MAX:
            hint = f" (it looks like {unit} since the epoch: divide by {factor:.0e})"
            break
    raise InvalidInput(
        f"{ts:g} is outside the accepted range 1970-01-01 .. 2200-01-01 UTC "
        f"(seconds since the epoch in [{TS_MIN:.0f}, {TS_MAX:.0f})){hint}",
        field=name,
        line=line,
    )


def _check_json(value: Any, name: str, line: int | None, limit: int) -> None:
    """Refuse anything in ``value`` that JSON cannot carry faithfully, naming its path.

    Walks iteratively (no recursion however deep the input) and stops after ``limit`` values, since
    each value costs at least one byte of the ``limit``-byte encoding: a cyclic or enormous
    structure is refused without being encoded. Accepted: dicts with string keys, lists and tuples,
    strings without lone surrogates, booleans, None, finite floats, and integers a float can hold.
    """
    stack: list[tuple[Any, str, int]] = [(value, name, 0)]
    seen = 1
    while stack:
        node, where, depth = stack.pop()
        if isinstance(node, dict | list | tuple):
            if depth >= MAX_JSON_DEPTH:
                raise InvalidInput(
                    f"nests deeper than {MAX_JSON_DEPTH} levels at {where}", field=name, line=line
                )
            seen += len(node)
            if seen > limit:
                raise InvalidInput(f"holds more than {limit} values (its byte limit)", field=name, line=line)
            stack.extend(_children(node, where, name, line, depth + 1))
        else:
            _check_leaf(node, where, name, line)


def _children(node: Any, where: str, name: str, line: int | None, depth: int) -> list[tuple[Any, str, int]]:
    if not isinstance(node, dict):
        return [(item, f"{where}[{i}]", depth) for i, item in enumerate(node)]
    out = []
    for key, item in node.items():
        if not isinstance(key, str):
            raise InvalidInput(
                f"has a key {key!r} ({type(key).__name__}) at {where}; keys must be strings",
                field=name,
                line=line,
            )
        if not _is_utf8(key):
            raise InvalidInput(f"has a key at {where} that is not valid UTF-8", field=name, line=line)
        out.append((item, f"{where}.{key[:PATH_KEY_CHARS]}", depth))
    return out


def _check_leaf(node: Any, where: str, name: str, line: int | None) -> None:
    if node is None or isinstance(node, bool):
        return
    if isinstance(node, str):
        if not _is_utf8(node):
            raise InvalidInput(f"holds a string at {where} that is not valid UTF-8", field=name, line=line)
        return
    if isinstance(node, int | float):
        try:
            finite = math.isfinite(float(node))
        except OverflowError:
            finite = False
        if not finite:
            shown = repr(node) if isinstance(node, float) else "an integer too large for a float"
            raise InvalidInput(
                f"holds {shown} at {where}: only finite numbers (at most 1.8e308) are kept",
                field=name,
                line=line,
            )
        return
    raise InvalidInput(
        f"holds a {type(node).__name__} at {where}, which is not JSON (use strings, numbers, "
        "booleans, null, lists and objects)",
        field=name,
        line=line,
    )


def _json_dict(value: Any, name: str, line: int | None, limit: int) -> dict[str, Any]:
    """The JSON object ``value`` normalised to what the store will give back (lists for tuples),
    so the returned episode, its id and the stored row all agree."""
    if not isinstance(value, dict):
        raise InvalidInput(f"must be an object, got {type(value).__name__}", field=name, line=line)
    _check_json(value, name, line, limit)
    encoded = canonical_json(value)
    if len(encoded.encode("utf-8")) > limit:
        raise InvalidInput(f"is over the {limit}-byte limit", field=name, line=line)
    normalised: dict[str, Any] = json.loads(encoded)
    return normalised


def _affect(value: Any, line: int | None) -> Affect:
    if isinstance(value, Mapping):
        unknown = set(value) - {"pleasure", "arousal", "dominance", "p", "a", "d"}
        if unknown:
            raise InvalidInput(f"unknown affect keys {_names(unknown)}", field="affect", line=line)
        parts = [value.get(k, value.get(k[0], 0.0)) for k in ("pleasure", "arousal", "dominance")]
    elif isinstance(value, list | tuple) and len(value) == 3:
        parts = list(value)
    else:
        raise InvalidInput("must be {pleasure, arousal, dominance} or a list of 3", field="affect", line=line)
    nums = [_number(p, "affect", line) for p in parts]
    if any(abs(n) > 1 for n in nums):
        raise InvalidInput("values must lie in [-1, 1]", field="affect", line=line)
    return Affect(*nums)


def validate(raw: Any, config: CaptureConfig, now: float, line: int | None = None) -> Episode:
    """Turn one raw record (a mapping) into an episode with importance 0; raise InvalidInput."""
    if isinstance(raw, Episode):
        raw = {k: getattr(raw, k) for k in FIELDS if getattr(raw, k, None) is not None}
        if isinstance(raw.get("affect"), Affect):
            raw["affect"] = dataclasses.asdict(raw["affect"])
    if not isinstance(raw, Mapping):
        raise InvalidInput(f"a record must be an object, got {type(raw).__name__}", line=line)
    unknown = _names(set(raw) - FIELDS)
    if unknown:
        raise InvalidInput(
            f"unknown field(s) {unknown}; known: {sorted(FIELDS)}", field=unknown[0], line=line
        )
    if "text" not in raw:
        raise InvalidInput("is required", field="text", line=line)
    text = _string(raw["text"], "text", line, config.max_text_chars)
    if not text.strip():
        raise InvalidInput("must not be empty", field="text", line=line)
    strings = {
        k: _string(raw.get(k, d), k, line, MAX_LABEL_CHARS)
        for k, d in (("session", ""), ("actor", ""), ("kind", "message"))
    }
    if not strings["kind"]:
        raise InvalidInput("must not be empty", field="kind", line=line)
    ts = record_ts(raw["ts"], "ts", line) if raw.get("ts") is not None else now
    opt = {
        k: (_bounded(raw[k], k, line, limit) if raw.get(k) is not None else None)
        for k, limit in (("prediction", MAX_MAGNITUDE), ("outcome", MAX_MAGNITUDE), ("feedback", 1.0))
    }
    data = _json_dict(raw.get("data", {}), "data", line, config.max_data_bytes)
    context = _json_dict(raw.get("context", {}), "context", line, config.max_data_bytes)
    affect = _affect(raw["affect"], line) if raw.get("affect") is not None else None
    refs = _refs(raw.get("refs", ()), line)
    provenance = raw.get("provenance", "awake")
    if not isinstance(provenance, str) or provenance not in ("awake", "shadow"):
        raise InvalidInput("must be 'awake' or 'shadow'", field="provenance", line=line)
    dispatch = raw.get("dispatch")
    if dispatch is not None and (
        isinstance(dispatch, bool) or not isinstance(dispatch, int) or not 1 <= dispatch < 2**63
    ):
        raise InvalidInput("must be the positive seq of a recorded dispatch", field="dispatch", line=line)
    fields: dict[str, Any] = dict(
        dispatch=dispatch,
        ts=ts,
        text=text,
        data=data,
        context=context,
        affect=affect,
        refs=refs,
        provenance=Provenance(provenance),
        **strings,
        **opt,
    )
    eid = episode_id(**{**fields, "provenance": provenance})
    return Episode(id=eid, **fields)


def _names(keys: set[Any]) -> list[str]:
    """Keys as sorted strings: a mapping may mix key types, which cannot be sorted as they are."""
    return sorted(k if isinstance(k, str) else repr(k) for k in keys)


def _refs(value: Any, line: int | None) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(r, str) for r in value):
        raise InvalidInput("must be a list of episode ids", field="refs", line=line)
    if len(value) > MAX_REFS:
        raise InvalidInput(f"lists {len(value)} ids; the limit is {MAX_REFS}", field="refs", line=line)
    return tuple(_string(r, "refs", line, MAX_REF_CHARS) for r in value)


@dataclass(frozen=True)
class Signals:
    novelty: float
    residual: float | None
    arousal: float | None
    feedback: float | None


def embedding_text(ep: Episode) -> str:
    """What is embedded for an episode: its text, prefixed with who said it. Questions name people
    ("what did Maya say about the bucket?"); a bare first-person turn does not, and costs dense
    recall dearly (about 15 points of turn recall@10 on LoCoMo with MiniLM)."""
    return f"{ep.actor}: {ep.text}" if ep.actor else ep.text


def novelty(batch: Matrix, recent: Matrix, neighbours: int) -> list[float]:
    """1 - mean cosine similarity to the nearest ``neighbours`` earlier items (recent store items,
    then earlier items of the same batch). The first item a store ever sees has novelty 1."""
    out: list[float] = []
    chunk = 512
    prior = recent
    for start in range(0, batch.shape[0], chunk):
        part = batch[start : start + chunk]
        inner = part @ part.T
        against = part @ prior.T if prior.shape[0] else np.zeros((part.shape[0], 0), np.float32)
        for i in range(part.shape[0]):
            sims = np.concatenate([against[i], inner[i, :i]])
            if sims.size == 0:
                out.append(1.0)
                continue
            k = min(neighbours, sims.size)
            top = np.partition(sims, sims.size - k)[sims.size - k :]
            out.append(float(np.clip(1.0 - top.mean(), 0.0, 1.0)))
        prior = np.vstack([prior, part]) if prior.shape[0] else part
        if prior.shape[0] > NOVELTY_WINDOW:
            prior = prior[-NOVELTY_WINDOW:]
    return out


def importance(ep: Episode, novelty_value: float, config: CaptureConfig) -> float:
    """Importance on a 0-10 scale: a kind weight times a noisy-OR of the signals present.

    Each signal ``s`` in [0, 1] with weight ``w`` leaves a share ``(1 - s) ** (w / w_max)`` of the
    episode unremarkable; importance is one minus the product of those shares. So any strong
    signal alone (novelty, surprise, arousal, feedback) makes an episode memorable, and a signal
    that is present can only raise importance, never lower it: recording a residual, an affect or
    feedback never makes an episode count for less than the same episode without it. With the
    default weights a plain message scores ``10 x kind weight x novelty``.
    """
    parts: list[tuple[float, float]] = [(config.w_novelty, novelty_value)]
    if ep.residual is not None:
        r = abs(ep.residual)
        parts.append((config.w_residual, r / (1.0 + r)))
    if ep.affect is not None:
        parts.append((config.w_arousal, abs(ep.affect.arousal)))
    if ep.feedback is not None:
        parts.append((config.w_feedback, abs(ep.feedback)))
    w_max = max(w for w, _ in parts)
    if w_max <= 0:
        return 0.0
    unremarkable = 1.0
    for w, signal in parts:
        unremarkable *= (1.0 - min(1.0, max(0.0, signal))) ** (w / w_max)
    weight = config.kind_weights.get(ep.kind, 1.0)
    return float(min(IMPORTANCE_SCALE, max(0.0, IMPORTANCE_SCALE * weight * (1.0 - unremarkable))))
