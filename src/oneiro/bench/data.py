"""Loading and validating benchmark files (LoCoMo, LongMemEval_S), ``.json`` or ``.json.gz``.

Each format is read in two separate passes that return disjoint types: the *experience* (what the
agent lived through: turns, speakers, dates) and the *probes* (questions, answers, evidence). The
harness builds and dreams every store from the experience alone and reads the probes only
afterwards, so no dream can see a question, an answer or an evidence label: the types make the
leak impossible rather than merely avoided.

Every malformed input raises :class:`BenchDataError` naming the file, the conversation or question,
and the field, before any store is built.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dateparser

from oneiro.errors import BenchDataError

#: A well-formed LoCoMo dialogue id: ``D<session>:<turn>``.
DIA_ID = re.compile(r"D\s*:?\s*(\d+)\s*:\s*(\d+)")
#: LoCoMo session keys: ``session_<n>`` (turns) beside ``session_<n>_date_time``.
SESSION_KEY = re.compile(r"session_(\d+)")
#: How an image shared in a LoCoMo turn is folded into the episode text (the caption is BLIP's).
PHOTO_TEMPLATE = "{text} [shares a photo: {caption}]"
#: LongMemEval dates look like ``2023/05/20 (Sat) 02:12``; the weekday is redundant.
LME_DATE = re.compile(r"(\d{4})/(\d{2})/(\d{2})\s*(?:\([A-Za-z]+\))?\s*(\d{2}):(\d{2})")


def sha256_file(path: Path) -> str:
    """The sha256 of the file's bytes as stored (compressed if it is compressed)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_json(path: Path) -> Any:
    """Parse ``path`` (``.json`` or ``.json.gz``); every failure is a BenchDataError naming it."""
    if not path.is_file():
        raise BenchDataError(f"{path}: no such file")
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        return json.loads(raw.decode("utf-8"))
    except (OSError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise BenchDataError(f"{path}: cannot read ({exc})") from None
    except UnicodeDecodeError:
        raise BenchDataError(f"{path}: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise BenchDataError(f"{path}: broken JSON ({exc.msg} at line {exc.lineno})") from None


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise BenchDataError(f"{where}: expected a list, got {type(value).__name__}")
    return value


def _dict(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BenchDataError(f"{where}: expected an object, got {type(value).__name__}")
    return value


def _str(obj: dict[str, Any], key: str, where: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str):
        got = "missing" if value is None else type(value).__name__
        raise BenchDataError(f"{where}: field '{key}' must be a string ({got})")
    return value


# -- LoCoMo ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Turn:
    """One LoCoMo turn as the agent heard it. ``text`` includes the photo caption, if any."""

    dia_id: str
    speaker: str
    text: str
    has_photo: bool


@dataclass(frozen=True)
class Session:
    """A LoCoMo session: its id (``session_3``), its date as written and parsed, its turns."""

    key: str
    number: int
    date_text: str
    ts: float
    turns: tuple[Turn, ...]


@dataclass(frozen=True)
class Conversation:
    """The experience of one LoCoMo conversation, sessions in date order. No questions here."""

    sample_id: str
    speakers: tuple[str, str]
    sessions: tuple[Session, ...]
    skipped_turns: int


@dataclass(frozen=True)
class QAItem:
    """One LoCoMo question with its normalised evidence ids (``evidence_raw`` as written)."""

    sample_id: str
    question: str
    category: int
    evidence: tuple[str, ...]
    evidence_raw: tuple[str, ...]


def parse_locomo_date(text: str, where: str) -> float:
    """``"1:56 pm on 8 May, 2023"`` -> seconds since the epoch (UTC)."""
    parsed = dateparser.parse(
        text, languages=["en"], settings={"TIMEZONE": "UTC", "RETURN_AS_TIMEZONE_AWARE": True}
    )
    if parsed is None:
        raise BenchDataError(f"{where}: cannot parse the date {text!r}")
    return parsed.timestamp()


def normalise_evidence(raw: str) -> list[str]:
    """Every ``D<s>:<t>`` in a possibly malformed string (``"D8:6; D9:17"``, ``"D:11:26"``).

    A string with no recognisable id is kept verbatim: it can never be retrieved, so the item is
    scored against it as a miss instead of silently becoming easier.
    """
    found = [f"D{s}:{t}" for s, t in DIA_ID.findall(raw)]
    return found or [raw.strip()]


def _locomo_samples(path: Path) -> list[dict[str, Any]]:
    data = _list(read_json(path), f"{path}: top level (a LoCoMo file is a list of conversations)")
    if not data:
        raise BenchDataError(f"{path}: holds no conversations")
    samples = []
    for i, item in enumerate(data):
        sample = _dict(item, f"{path}: conversation #{i}")
        if "conversation" not in sample or "qa" not in sample:
            raise BenchDataError(f"{path}: conversation #{i} lacks 'conversation' or 'qa': not a LoCoMo file")
        samples.append(sample)
    return samples


def _sample_id(sample: dict[str, Any], index: int) -> str:
    value = sample.get("sample_id")
    return value if isinstance(value, str) and value else f"conversation-{index}"


def _locomo_turn(raw: Any, where: str) -> Turn | None:
    turn = _dict(raw, where)
    dia_id = _str(turn, "dia_id", where)
    speaker = _str(turn, "speaker", where)
    text = turn.get("text", "")
    if not isinstance(text, str):
        raise BenchDataError(f"{where} ({dia_id}): field 'text' must be a string")
    caption = turn.get("blip_caption")
    has_photo = isinstance(caption, str) and bool(caption.strip())
    if has_photo:
        text = PHOTO_TEMPLATE.format(text=text, caption=str(caption).strip()).strip()
    if not text.strip():
        return None
    return Turn(dia_id=dia_id, speaker=speaker, text=text, has_photo=has_photo)


def _locomo_conversation(sample: dict[str, Any], index: int, path: Path) -> Conversation:
    sid = _sample_id(sample, index)
    where = f"{path}: conversation {sid}"
    conv = _dict(sample["conversation"], f"{where}: field 'conversation'")
    speakers = (_str(conv, "speaker_a", where), _str(conv, "speaker_b", where))
    sessions, skipped = [], 0
    for key, value in conv.items():
        match = SESSION_KEY.fullmatch(key)
        if match is None:
            continue
        swhere = f"{where}, {key}"
        turns_raw = _list(value, swhere)
        date_text = _str(conv, f"{key}_date_time", where)
        turns = [_locomo_turn(t, f"{swhere}, turn #{j}") for j, t in enumerate(turns_raw)]
        kept = tuple(t for t in turns if t is not None)
        skipped += len(turns) - len(kept)
        if not kept:
            raise BenchDataError(f"{swhere}: the session has no turns")
        ts = parse_locomo_date(date_text, f"{swhere}_date_time")
        sessions.append(Session(key, int(match.group(1)), date_text, ts, kept))
    if not sessions:
        raise BenchDataError(f"{where}: the conversation has no sessions")
    sessions.sort(key=lambda s: (s.ts, s.number))
    return Conversation(sid, speakers, tuple(sessions), skipped)


def load_locomo_conversations(path: Path, limit: int | None = None) -> list[Conversation]:
    """The experience of the first ``limit`` conversations: turns and dates, never the QA."""
    samples = _locomo_samples(path)[:limit]
    return [_locomo_conversation(s, i, path) for i, s in enumerate(samples)]


@dataclass(frozen=True)
class Observation:
    """One of LoCoMo's gpt-3.5-turbo observations: a sentence and the turns it cites. Used only
    by the labelled ``observation`` reference condition, never by oneiro's own conditions."""

    session_key: str
    text: str
    sources: tuple[str, ...]


def load_locomo_observations(path: Path, sample_ids: list[str]) -> dict[str, list[Observation]]:
    """The observations of the named conversations, sources normalised like evidence."""
    wanted, out = set(sample_ids), {}
    for i, sample in enumerate(_locomo_samples(path)):
        sid = _sample_id(sample, i)
        if sid in wanted:
            out[sid] = _observations(sample.get("observation"), f"{path}: conversation {sid}")
    return out


def _observations(raw: Any, where: str) -> list[Observation]:
    out = []
    for key, by_speaker in _dict(raw, f"{where}, field 'observation'").items():
        session_key = key.removesuffix("_observation")
        for speaker, items in _dict(by_speaker, f"{where}, {key}").items():
            for j, item in enumerate(_list(items, f"{where}, {key}, {speaker}")):
                pair = _list(item, f"{where}, {key}, {speaker} #{j}")
                cited = pair[1] if len(pair) == 2 else None
                cited = [cited] if isinstance(cited, str) else cited
                if not isinstance(pair[0], str) or not isinstance(cited, list):
                    raise BenchDataError(f"{where}, {key}, {speaker} #{j}: expected [text, dia_id(s)]")
                sources = tuple(dict.fromkeys(e for c in cited for e in normalise_evidence(str(c))))
                out.append(Observation(session_key, pair[0], sources))
    return out


def load_locomo_questions(path: Path, sample_ids: list[str]) -> list[QAItem]:
    """The QA items of the named conversations, evidence normalised. Read after the dreams."""
    wanted = set(sample_ids)
    out = []
    for i, sample in enumerate(_locomo_samples(path)):
        sid = _sample_id(sample, i)
        if sid not in wanted:
            continue
        for j, raw in enumerate(_list(sample["qa"], f"{path}: conversation {sid}, field 'qa'")):
            out.append(_qa_item(raw, sid, f"{path}: conversation {sid}, qa #{j}"))
    return out


def _qa_item(raw: Any, sid: str, where: str) -> QAItem:
    qa = _dict(raw, where)
    question = _str(qa, "question", where)
    category = qa.get("category")
    if isinstance(category, bool) or not isinstance(category, int):
        raise BenchDataError(f"{where}: field 'category' must be an integer")
    evidence_raw = _list(qa.get("evidence", []), f"{where}, field 'evidence'")
    if not all(isinstance(e, str) for e in evidence_raw):
        raise BenchDataError(f"{where}: field 'evidence' must be a list of strings")
    evidence = tuple(dict.fromkeys(e for raw_id in evidence_raw for e in normalise_evidence(raw_id)))
    return QAItem(sid, question, category, evidence, tuple(evidence_raw))


# -- LongMemEval ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LmeTurn:
    role: str
    content: str
    index: int


@dataclass(frozen=True)
class LmeSession:
    session_id: str
    date_text: str
    ts: float
    turns: tuple[LmeTurn, ...]


@dataclass(frozen=True)
class Haystack:
    """The experience behind one LongMemEval question: its sessions, without the question, the
    answer or the ``has_answer`` labels."""

    question_id: str
    sessions: tuple[LmeSession, ...]
    skipped_turns: int


@dataclass(frozen=True)
class Probe:
    """A LongMemEval question with its gold sessions and turns ((session id, turn index))."""

    question_id: str
    question_type: str
    question: str
    gold_sessions: frozenset[str]
    gold_turns: frozenset[tuple[str, int]]


def parse_lme_date(text: str, where: str) -> float:
    match = LME_DATE.fullmatch(text.strip())
    if match is None:
        raise BenchDataError(f"{where}: cannot parse the date {text!r} (expected 2023/05/20 (Sat) 02:12)")
    year, month, day, hour, minute = (int(g) for g in match.groups())
    try:
        return datetime(year, month, day, hour, minute, tzinfo=UTC).timestamp()
    except ValueError:
        raise BenchDataError(f"{where}: not a real date {text!r}") from None


def is_abstention(question_id: str) -> bool:
    """Abstention questions (ids ending ``_abs``) have no evidence; the protocol skips them."""
    return question_id.endswith("_abs")


def _lme_entries(path: Path) -> list[dict[str, Any]]:
    data = _list(read_json(path), f"{path}: top level (a LongMemEval file is a list of questions)")
    if not data:
        raise BenchDataError(f"{path}: holds no questions")
    out = []
    for i, item in enumerate(data):
        entry = _dict(item, f"{path}: question #{i}")
        where = f"{path}: question #{i}"
        if "question_id" not in entry or "haystack_sessions" not in entry:
            raise BenchDataError(
                f"{where}: lacks 'question_id' or 'haystack_sessions': not a LongMemEval file"
            )
        _str(entry, "question_id", where)
        out.append(entry)
    return out


def _haystack(entry: dict[str, Any], path: Path) -> Haystack:
    qid = entry["question_id"]
    where = f"{path}: question {qid}"
    ids = _list(entry.get("haystack_session_ids"), f"{where}, field 'haystack_session_ids'")
    dates = _list(entry.get("haystack_dates"), f"{where}, field 'haystack_dates'")
    sessions_raw = _list(entry["haystack_sessions"], f"{where}, field 'haystack_sessions'")
    if not (len(ids) == len(dates) == len(sessions_raw)):
        raise BenchDataError(f"{where}: haystack ids, dates and sessions differ in length")
    if not sessions_raw:
        raise BenchDataError(f"{where}: the haystack has no sessions")
    sessions, skipped = [], 0
    for sid, date, raw in zip(ids, dates, sessions_raw, strict=True):
        swhere = f"{where}, session {sid}"
        if not isinstance(sid, str) or not isinstance(date, str):
            raise BenchDataError(f"{swhere}: session ids and dates must be strings")
        turns = [_lme_turn(t, f"{swhere}, turn #{j}", j) for j, t in enumerate(_list(raw, swhere))]
        kept = tuple(t for t in turns if t.content.strip())
        skipped += len(turns) - len(kept)
        if not kept:
            raise BenchDataError(f"{swhere}: the session has no turns")
        sessions.append(LmeSession(sid, date, parse_lme_date(date, f"{swhere}, date"), kept))
    return Haystack(qid, tuple(sessions), skipped)


def _lme_turn(raw: Any, where: str, index: int) -> LmeTurn:
    turn = _dict(raw, where)
    return LmeTurn(_str(turn, "role", where), _str(turn, "content", where), index)


def load_lme_haystacks(path: Path, limit: int | None = None) -> list[Haystack]:
    """The haystacks of the first ``limit`` non-abstention questions, with no question content."""
    entries = [e for e in _lme_entries(path) if not is_abstention(e["question_id"])][:limit]
    return [_haystack(e, path) for e in entries]


def load_lme_probes(path: Path, question_ids: list[str]) -> list[Probe]:
    """The named questions with their gold labels. Read only after every store is built.

    Gold follows the official retrieval protocol: a session is evidence when one of its *user*
    turns has ``has_answer`` (the official session key holds user turns only); evidence turns are
    all turns marked ``has_answer``.
    """
    wanted = set(question_ids)
    return [_probe(e, path) for e in _lme_entries(path) if e["question_id"] in wanted]


def _probe(entry: dict[str, Any], path: Path) -> Probe:
    qid = entry["question_id"]
    where = f"{path}: question {qid}"
    gold_sessions, gold_turns = set(), set()
    for sid, raw in zip(entry["haystack_session_ids"], entry["haystack_sessions"], strict=True):
        for j, turn in enumerate(raw):
            if isinstance(turn, dict) and turn.get("has_answer") is True:
                gold_turns.add((sid, j))
                if turn.get("role") == "user":
                    gold_sessions.add(sid)
    return Probe(
        qid,
        _str(entry, "question_type", where),
        _str(entry, "question", where),
        frozenset(gold_sessions),
        frozenset(gold_turns),
    )
