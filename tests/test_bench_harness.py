"""The benchmark harness end to end on tiny synthetic LoCoMo and LongMemEval files (hashing
embedder, real in-memory stores), and its refusal of malformed files."""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from oneiro.backends import HashingEmbedder
from oneiro.bench.data import load_locomo_conversations
from oneiro.bench.locomo import run_locomo
from oneiro.bench.longmemeval import run_longmemeval
from oneiro.cli import app
from oneiro.errors import BenchDataError, CycleError
from oneiro.memory import Memory
from oneiro.store.vectors import Matrix

# -- synthetic data -------------------------------------------------------------------------------

TOPICS = [
    "my violin lesson with the new teacher went wonderfully",
    "we adopted a grey kitten named Pepper from the shelter",
    "the marathon in Lisbon was exhausting but I finished",
    "I started pottery classes and made a lopsided bowl",
    "our camping trip to the lake got rained out",
    "I got promoted to lead the robotics team at work",
]


def locomo_sample(sid: str, sessions: int = 2, turns: int = 3) -> dict[str, Any]:
    conv: dict[str, Any] = {"speaker_a": "Ana", "speaker_b": "Ben"}
    for s in range(1, sessions + 1):
        conv[f"session_{s}_date_time"] = f"1:56 pm on {s + 7} May, 2023"
        conv[f"session_{s}"] = [
            {
                "speaker": "Ana" if t % 2 else "Ben",
                "dia_id": f"D{s}:{t}",
                "text": TOPICS[((s - 1) * turns + t - 1) % len(TOPICS)],
            }
            for t in range(1, turns + 1)
        ]
    conv["session_1"][0]["blip_caption"] = "a photo of a red bicycle leaning on a fence"
    qa = [
        {
            "question": "How did the violin lesson with the new teacher go?",
            "answer": "well",
            "evidence": ["D1:1"],
            "category": 4,
        },
        {
            "question": "What was the kitten from the shelter called?",
            "answer": "Pepper",
            "evidence": ["D1:2; D2:3"],
            "category": 1,
        },
        {
            "question": "Who shared a photo of a red bicycle?",
            "answer": "Ben",
            "evidence": ["D:1:1"],
            "category": 2,
        },
        {
            "question": "What does Ana think of opera?",
            "adversarial_answer": "x",
            "evidence": [],
            "category": 5,
        },
    ]
    observation = {
        "session_1_observation": {
            "Ana": [["Ana rode a red bicycle to the violin teacher.", "D1:1"]],
            "Ben": [["Ben adopted a kitten named Pepper.", ["D1:2", "D:2:3"]]],
        }
    }
    return {
        "sample_id": sid,
        "conversation": conv,
        "qa": qa,
        "observation": observation,
        "session_summary": {},
    }


def lme_question(qid: str, qtype: str, user_evidence: bool = True) -> dict[str, Any]:
    sessions, ids, dates = [], [], []
    for s, topic in enumerate(TOPICS[:4]):
        sid = f"answer_{qid}_{s}" if s == 2 else f"sharegpt_{qid}_{s}"
        ids.append(sid)
        dates.append(f"2023/05/{10 + s:02d} (Wed) 1{s}:30")
        evidence = s == 2
        sessions.append(
            [
                {"role": "user", "content": f"Tell me: {topic}", "has_answer": evidence and user_evidence},
                {
                    "role": "assistant",
                    "content": f"That sounds lovely ({s}).",
                    "has_answer": evidence and not user_evidence,
                },
            ]
        )
    return {
        "question_id": qid,
        "question_type": qtype,
        "question": "How did my marathon in Lisbon go?",
        "question_date": "2023/06/01 (Thu) 10:00",
        "answer": "exhausting",
        "answer_session_ids": [ids[2]],
        "haystack_session_ids": ids,
        "haystack_dates": dates,
        "haystack_sessions": sessions,
    }


def write(path: Path, value: Any) -> Path:
    raw = json.dumps(value).encode("utf-8")
    path.write_bytes(gzip.compress(raw) if path.suffix == ".gz" else raw)
    return path


@pytest.fixture(params=["locomo.json", "locomo.json.gz"])
def locomo_file(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    return write(tmp_path / request.param, [locomo_sample("conv-a"), locomo_sample("conv-b", sessions=3)])


@pytest.fixture
def lme_file(tmp_path: Path) -> Path:
    data = [
        lme_question("q1", "single-session-user"),
        lme_question("q2_abs", "multi-session"),
        lme_question("q3", "single-session-assistant", user_evidence=False),
    ]
    return write(tmp_path / "lme.json.gz", data)


class RecordingEmbedder(HashingEmbedder):
    """The hashing embedder, remembering every text it was asked to embed, in order."""

    def __init__(self) -> None:
        super().__init__(64)
        self.seen: list[str] = []

    def embed_batch(self, texts: Sequence[str]) -> Matrix:
        self.seen.extend(texts)
        return super().embed_batch(texts)


# -- LoCoMo ---------------------------------------------------------------------------------------


def test_locomo_runs_every_condition_and_finds_lexical_evidence(locomo_file: Path) -> None:
    result = run_locomo(locomo_file, ["raw", "dream", "bm25", "dense"], "hashing")
    assert result["items"] == 8
    assert result["data"]["sha256"] == hashlib.sha256(locomo_file.read_bytes()).hexdigest()
    assert result["malformed_evidence"] == [["D1:2; D2:3"], ["D:1:1"]] * 2
    for name, tab in result["conditions"].items():
        overall = tab["overall"]
        assert 0.0 <= overall["recall@5"] <= overall["recall@10"] <= overall["recall@25"] <= 1.0, name
        assert set(tab["by_group"]) == {"1 multi-hop", "2 temporal", "4 single-hop", "5 adversarial"}
        # The adversarial items have no evidence and count 1.
        assert tab["by_group"]["5 adversarial"]["recall@5"] == 1.0
    bm25 = result["conditions"]["bm25"]["by_group"]
    assert bm25["4 single-hop"]["recall@5"] == 1.0
    # The photo caption is part of the turn: its words find it.
    assert bm25["2 temporal"]["recall@5"] == 1.0


def test_turns_keep_speaker_order_date_and_caption(locomo_file: Path) -> None:
    conv = load_locomo_conversations(locomo_file)[0]
    first = conv.sessions[0]
    assert first.key == "session_1" and first.date_text == "1:56 pm on 8 May, 2023"
    assert first.turns[0].text.endswith("[shares a photo: a photo of a red bicycle leaning on a fence]")
    assert [s.ts for s in conv.sessions] == sorted(s.ts for s in conv.sessions)


def test_stores_are_built_before_any_question_is_read(locomo_file: Path) -> None:
    embedder = RecordingEmbedder()
    run_locomo(locomo_file, ["raw", "dream", "dense"], embedder)
    first_question = min(i for i, t in enumerate(embedder.seen) if t.endswith("?"))
    assert all(not t.endswith("?") for t in embedder.seen[:first_question])
    turns = {
        t["text"] for s in locomo_sample("x", 3)["conversation"].values() if isinstance(s, list) for t in s
    }
    assert not turns & set(embedder.seen[first_question:])


def test_dream_condition_refuses_a_version_without_dreaming(
    locomo_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delattr(Memory, "dream", raising=False)
    with pytest.raises(CycleError, match="dreaming is not available in this version"):
        run_locomo(locomo_file, ["raw", "dream"], "hashing")


def test_observation_reference_counts_the_turns_it_cites(locomo_file: Path) -> None:
    result = run_locomo(locomo_file, ["observation"], "hashing")
    groups = result["conditions"]["observation"]["by_group"]
    assert groups["1 multi-hop"]["recall@5"] == 1.0  # one observation cites both evidence turns
    assert groups["4 single-hop"]["recall@5"] == 1.0


def test_observation_reference_needs_observations(tmp_path: Path) -> None:
    sample = locomo_sample("conv-x")
    sample["observation"] = {}
    with pytest.raises(BenchDataError, match="observation"):
        run_locomo(write(tmp_path / "x.json", [sample]), ["observation"], "hashing")
    with pytest.raises(BenchDataError, match="unknown condition"):
        run_longmemeval(tmp_path / "x.json", ["observation"], "hashing")


def test_limit_keeps_the_first_conversations(locomo_file: Path) -> None:
    result = run_locomo(locomo_file, ["bm25"], "hashing", limit=1)
    assert result["conversations"] == ["conv-a"] and result["items"] == 4


# -- LongMemEval ----------------------------------------------------------------------------------


def test_longmemeval_scores_sessions_and_turns(lme_file: Path) -> None:
    result = run_longmemeval(lme_file, ["raw", "dream", "bm25", "dense"], "hashing")
    assert result["questions"] == 1
    assert result["skipped_no_user_evidence"] == ["q3"]
    for name, tab in result["conditions"].items():
        session = tab["session"]["overall"]
        assert session["recall_any@10"] == 1.0, name  # four sessions: all within the top 10
        assert session["recall_all@1"] <= session["recall_any@1"]
        assert (tab["turn"] is None) == (name == "bm25")
    assert result["conditions"]["bm25"]["session"]["overall"]["recall_any@1"] == 1.0
    assert set(result["conditions"]["raw"]["session"]["by_group"]) == {"single-session-user"}


# -- malformed input ------------------------------------------------------------------------------


def locomo_with(tmp_path: Path, change: Any) -> Path:
    sample = locomo_sample("conv-x")
    change(sample)
    return write(tmp_path / "bad.json", [sample])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: s["conversation"].update(session_2=[]), "conv-x, session_2: the session has no turns"),
        (
            lambda s: [s["conversation"].pop(k) for k in list(s["conversation"]) if k.startswith("session")],
            "conv-x: the conversation has no sessions",
        ),
        (lambda s: s["conversation"].update(session_1_date_time="someday"), "cannot parse the date"),
        (lambda s: s["conversation"].pop("session_2_date_time"), "'session_2_date_time'"),
        (lambda s: s["conversation"]["session_1"][0].pop("dia_id"), "field 'dia_id'"),
        (lambda s: s["qa"][0].update(evidence="D1:1"), "field 'evidence'"),
        (lambda s: s["qa"][0].update(category="two"), "field 'category'"),
        (lambda s: s.pop("qa"), "not a LoCoMo file"),
    ],
)
def test_malformed_locomo_is_refused_with_a_clear_error(tmp_path: Path, change: Any, message: str) -> None:
    path = locomo_with(tmp_path, change)
    with pytest.raises(BenchDataError, match=message.replace("(", r"\(")) as err:
        run_locomo(path, ["bm25"], "hashing")
    assert str(path) in str(err.value)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "broken JSON"),
        (b'{"a": 1', "broken JSON"),
        (b"\x1f\x8b\x08garbage", "cannot read"),
        (b"\xff\xfe", "not UTF-8"),
        (b"{}", "expected a list"),
        (b"[]", "holds no conversations"),
        (b"[3]", "expected an object"),
    ],
)
def test_unreadable_files_are_refused(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(BenchDataError, match=message):
        run_locomo(path, ["bm25"], "hashing")


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(BenchDataError, match="no such file"):
        run_longmemeval(tmp_path / "absent.json.gz", ["bm25"], "hashing")


def test_a_locomo_file_is_not_a_longmemeval_file(locomo_file: Path) -> None:
    with pytest.raises(BenchDataError, match=r"question #0: lacks .*not a LongMemEval file"):
        run_longmemeval(locomo_file, ["bm25"], "hashing")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda q: q["haystack_sessions"].__setitem__(1, []),
            "session sharegpt_q1_1: the session has no turns",
        ),
        (lambda q: q["haystack_dates"].pop(), "differ in length"),
        (lambda q: q["haystack_dates"].__setitem__(0, "May 5th"), "cannot parse the date"),
        (lambda q: q.update(haystack_sessions=[], haystack_session_ids=[], haystack_dates=[]), "no sessions"),
        (lambda q: q["haystack_sessions"][0][0].pop("content"), "field 'content'"),
    ],
)
def test_malformed_longmemeval_is_refused(tmp_path: Path, change: Any, message: str) -> None:
    question = lme_question("q1", "multi-session")
    change(question)
    path = write(tmp_path / "bad.json", [question])
    with pytest.raises(BenchDataError, match=message):
        run_longmemeval(path, ["raw", "bm25"], "hashing")


def test_unknown_conditions_are_refused(locomo_file: Path) -> None:
    with pytest.raises(BenchDataError, match="unknown condition"):
        run_locomo(locomo_file, ["raw", "magic"], "hashing")


# -- CLI ------------------------------------------------------------------------------------------


def test_cli_writes_results_and_prints_a_table(locomo_file: Path, lme_file: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "out" / "locomo.json"
    args = ["bench", "locomo", "--data", str(locomo_file), "--out", str(out), "--embedder", "hashing"]
    result = runner.invoke(app, [*args, "--conditions", "raw,bm25", "--conversations", "1"])
    assert result.exit_code == 0, result.output
    assert "recall@5" in result.output and "bm25" in result.output
    written = json.loads(out.read_text())
    assert set(written["conditions"]) == {"raw", "bm25"}
    assert written["git_commit"] and written["config"]["embedder"]["name"] == "hashing"
    lme = runner.invoke(app, ["bench", "longmemeval", "--data", str(lme_file), "--embedder", "hashing"])
    assert lme.exit_code == 0, lme.output
    assert "session level" in lme.output


def test_cli_reports_bad_data_without_a_traceback(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["bench", "locomo", "--data", str(tmp_path / "nope.json")])
    assert isinstance(result.exception, BenchDataError)


# -- the embedding cache --------------------------------------------------------------------------


class CountingEmbedder(HashingEmbedder):
    """The hashing embedder, counting the texts it is asked to embed."""

    def __init__(self) -> None:
        super().__init__(64)
        self.texts = 0

    def embed_batch(self, texts: Sequence[str]) -> Matrix:
        self.texts += len(texts)
        return super().embed_batch(texts)


def test_a_rerun_with_the_embedding_cache_embeds_nothing_and_scores_the_same(
    locomo_file: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "vectors.npz"
    first = CountingEmbedder()
    a = run_locomo(locomo_file, ["raw", "dense"], first, embedding_cache=cache)
    assert first.texts > 0 and cache.exists()
    second = CountingEmbedder()
    b = run_locomo(locomo_file, ["raw", "dense"], second, embedding_cache=cache)
    assert second.texts == 0
    for name in ("raw", "dense"):
        assert a["conditions"][name]["overall"] == b["conditions"][name]["overall"]


def test_the_embedding_cache_adds_only_new_texts(locomo_file: Path, lme_file: Path, tmp_path: Path) -> None:
    cache = tmp_path / "vectors.npz"
    run_locomo(locomo_file, ["dense"], CountingEmbedder(), embedding_cache=cache)
    lme = CountingEmbedder()
    run_longmemeval(lme_file, ["dense"], lme, embedding_cache=cache)
    assert lme.texts > 0
    again = CountingEmbedder()
    run_locomo(locomo_file, ["dense"], again, embedding_cache=cache)
    run_longmemeval(lme_file, ["dense"], again, embedding_cache=cache)
    assert again.texts == 0


def test_an_embedding_cache_of_another_model_is_refused(locomo_file: Path, tmp_path: Path) -> None:
    cache = tmp_path / "vectors.npz"
    run_locomo(locomo_file, ["dense"], CountingEmbedder(), embedding_cache=cache)
    before = cache.read_bytes()
    with pytest.raises(BenchDataError, match="embedding cache of model 'hashing-64', not 'hashing-32'"):
        run_locomo(locomo_file, ["dense"], HashingEmbedder(32), embedding_cache=cache)
    assert cache.read_bytes() == before


@pytest.mark.parametrize("content", [b"", b"not a zip", b"PK\x03\x04broken"])
def test_a_file_that_is_not_an_embedding_cache_is_refused(
    locomo_file: Path, tmp_path: Path, content: bytes
) -> None:
    cache = tmp_path / "vectors.npz"
    cache.write_bytes(content)
    with pytest.raises(BenchDataError, match="not an embedding cache"):
        run_locomo(locomo_file, ["dense"], CountingEmbedder(), embedding_cache=cache)
    assert cache.read_bytes() == content


def test_a_single_array_is_not_an_embedding_cache(locomo_file: Path, tmp_path: Path) -> None:
    import numpy as np

    cache = tmp_path / "vectors.npz"
    with cache.open("wb") as fh:
        np.save(fh, np.zeros((2, 64), dtype=np.float32))
    with pytest.raises(BenchDataError, match="not an embedding cache"):
        run_locomo(locomo_file, ["dense"], CountingEmbedder(), embedding_cache=cache)
