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


def _number(value: Any, name: str, line: int | None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(f"must be a number, got {type(value).__name__}", field=name, line=line)
    number = float(value)
    if not math.isfinite(number):
        raise InvalidInput("must be a finite number (NaN and infinity are refused)", field=name, line=line)
    return number


def _string(value: Any, name: str, line: int | None, limit: int) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"must be a string, got {type(value).__name__}", field=name, line=line)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput("is not valid UTF-8", field=name, line=line) from None
    if len(value) > limit:
        raise InvalidInput(f"is {len(value)} characters; the limit is {limit}", field=name, line=line)
    return value


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
    return dt.timestamp()


def _json_dict(value: Any, name: str, line: int | None, limit: int) -> dict[str, Any]:
    """The JSON object ``value`` normalised to what the store will give back (string keys, lists
    for tuples), so the returned episode, its id and the stored row all agree."""
    if not isinstance(value, dict):
        raise InvalidInput(f"must be an object, got {type(value).__name__}", field=name, line=line)
    try:
        encoded = canonical_json(value)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"is not JSON-serialisable: {exc}", field=name, line=line) from None
    try:
        size = len(encoded.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidInput("is not valid UTF-8", field=name, line=line) from None
    if size > limit:
        raise InvalidInput(f"is over the {limit}-byte limit", field=name, line=line)

    def refuse(constant: str) -> Any:
        raise InvalidInput(f"contains {constant} (only finite numbers are kept)", field=name, line=line)

    normalised: dict[str, Any] = json.loads(encoded, parse_constant=refuse)
    return normalised


def _affect(value: Any, line: int | None) -> Affect:
    if isinstance(value, Mapping):
        unknown = set(value) - {"pleasure", "arousal", "dominance", "p", "a", "d"}
        if unknown:
            raise InvalidInput(f"unknown affect keys {sorted(unknown)}", field="affect", line=line)
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
    unknown = set(raw) - FIELDS
    if unknown:
        raise InvalidInput(
            f"unknown field(s) {sorted(unknown)}; known: {sorted(FIELDS)}",
            field=sorted(unknown)[0],
            line=line,
        )
    if "text" not in raw:
        raise InvalidInput("is required", field="text", line=line)
    text = _string(raw["text"], "text", line, config.max_text_chars)
    if not text.strip():
        raise InvalidInput("must not be empty", field="text", line=line)
    strings = {
        k: _string(raw.get(k, d), k, line, 1000)
        for k, d in (("session", ""), ("actor", ""), ("kind", "message"))
    }
    if not strings["kind"]:
        raise InvalidInput("must not be empty", field="kind", line=line)
    ts = parse_ts(raw["ts"], "ts", line) if raw.get("ts") is not None else now
    opt = {
        k: (_number(raw[k], k, line) if raw.get(k) is not None else None)
        for k in ("prediction", "outcome", "feedback")
    }
    if opt["feedback"] is not None and abs(opt["feedback"]) > 1:
        raise InvalidInput("must lie in [-1, 1]", field="feedback", line=line)
    data = _json_dict(raw.get("data", {}), "data", line, config.max_data_bytes)
    context = _json_dict(raw.get("context", {}), "context", line, config.max_data_bytes)
    affect = _affect(raw["affect"], line) if raw.get("affect") is not None else None
    refs_raw = raw.get("refs", ())
    if not isinstance(refs_raw, list | tuple) or not all(isinstance(r, str) for r in refs_raw):
        raise InvalidInput("must be a list of episode ids", field="refs", line=line)
    provenance = raw.get("provenance", "awake")
    if provenance not in ("awake", "shadow"):
        raise InvalidInput("must be 'awake' or 'shadow'", field="provenance", line=line)
    dispatch = raw.get("dispatch")
    if dispatch is not None and (isinstance(dispatch, bool) or not isinstance(dispatch, int) or dispatch < 1):
        raise InvalidInput("must be the positive seq of a recorded dispatch", field="dispatch", line=line)
    fields = dict(
        dispatch=dispatch,
        ts=ts,
        text=text,
        data=data,
        context=context,
        affect=affect,
        refs=tuple(refs_raw),
        provenance=Provenance(provenance),
        **strings,
        **opt,
    )
    eid = episode_id(**{**fields, "provenance": provenance})
    return Episode(id=eid, **fields)  # type: ignore[arg-type]


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
