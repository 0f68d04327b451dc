"""The library API the edges stand on: what the CLI reads goes through ``Memory`` (never the store
modules), presets are reachable, a whole config is not silently combined with overrides, and the
transfer objects round-trip real domain objects and publish their JSON schema."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

import oneiro
from conftest import FakeClock
from oneiro import dto
from oneiro.config import PRESETS, load_config
from oneiro.errors import ConfigError, InvalidInput, UnknownCycle
from oneiro.memory import Memory, Status
from oneiro.store.query import EntryQuery
from test_cli_awake import EPISODES, jsonl, run
from test_cycle import day

CLI = Path(__file__).resolve().parents[1] / "src" / "oneiro" / "cli"


def test_the_cli_imports_nothing_from_the_store_and_reaches_no_store() -> None:
    for path in CLI.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                assert not (node.module or "").startswith("oneiro.store"), (
                    f"{path.name} imports {node.module}"
                )
            if isinstance(node, ast.Import):
                assert not any(a.name.startswith("oneiro.store") for a in node.names), path.name
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                reaches = node.attr == "store" and node.value.id == "memory"
                assert not reaches, f"{path.name}:{node.lineno} reaches memory.store"


@pytest.fixture
def dreamt(memory: Memory, clock: FakeClock) -> Memory:
    memory.record_many(day(8))
    memory.dream()
    return memory


def test_cycles_cycle_and_brief(dreamt: Memory) -> None:
    [row] = dreamt.cycles(5)
    assert dreamt.cycle(row.id) == row and row.status == "completed"
    brief = dreamt.brief()
    assert brief is not None and brief.cycle_id == row.id and brief.markdown.startswith("#")
    with pytest.raises(UnknownCycle, match="c-nope"):
        dreamt.cycle("c-nope")
    with pytest.raises(InvalidInput, match="limit"):
        dreamt.cycles(0)


def test_no_brief_before_a_dream(memory: Memory) -> None:
    assert memory.brief() is None


def test_hypotheses_by_status(memory: Memory) -> None:
    assert memory.hypotheses() == [] and memory.hypotheses(["staged"]) == []
    with pytest.raises(InvalidInput, match="statuses"):
        memory.hypotheses(["active"])


def test_status_is_typed_and_its_dict_is_what_status_json_prints(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run(monkeypatch, "init")[0] == 0
    (home / "day.jsonl").write_bytes(jsonl(EPISODES))
    assert run(monkeypatch, "record", str(home / "day.jsonl"))[0] == 0
    code, out = run(monkeypatch, "status", "--json")
    with oneiro.open(home, embedder="hashing") as memory:
        status = memory.status()
    assert isinstance(status, Status) and status.episodes == len(EPISODES)
    with pytest.raises(AttributeError):
        status.episodes = 0  # type: ignore[misc]
    assert code == 0 and json.loads(out) == status.to_dict()
    assert list(status.to_dict()) == [
        "store",
        "read_only",
        "schema_version",
        "episodes",
        "entries",
        "embedder",
        "last_cycle",
    ]


def test_presets_are_reachable_from_open_and_the_cli(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with oneiro.open(":memory:", embedder="hashing", preset="nap") as nap:
        assert nap.config.budget.wall_seconds == PRESETS["nap"]["budget"]["wall_seconds"]
        assert nap.engine.default_budget().wall_seconds == 60.0
    with pytest.raises(ConfigError, match="unknown preset 'siesta'"):
        oneiro.open(":memory:", embedder="hashing", preset="siesta")
    assert run(monkeypatch, "init")[0] == 0
    (home / "day.jsonl").write_bytes(jsonl(EPISODES))
    assert run(monkeypatch, "record", str(home / "day.jsonl"))[0] == 0
    code, out = run(monkeypatch, "dream", "--preset", "night", "--json")
    assert code == 0 and json.loads(out)["budget"]["wall_seconds"] == 3600.0
    code, out = run(monkeypatch, "dream", "--preset", "siesta")
    assert code == 2 and "unknown preset" in out


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({"overrides": {"recall": {"rrf_k": 30}}}, "overrides"),
        ({"preset": "nap"}, "preset"),
        ({"embedder": "hashing"}, "embedder"),
    ],
)
def test_a_whole_config_with_overrides_is_an_error_not_a_silent_drop(
    tmp_path: Path, extra: dict[str, Any], named: str
) -> None:
    config = load_config(tmp_path, overrides={"embedder": {"name": "hashing"}})
    with pytest.raises(ConfigError, match=named):
        oneiro.open(":memory:", config=config, **extra)


def test_the_plugins_command_lists_the_built_ins(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, out = run(monkeypatch, "plugins", "--json")
    rows = json.loads(out)
    kinds = {r["kind"] for r in rows}
    assert code == 0 and {"operation", "embedder", "evidence_test", "probe"} <= kinds
    assert {
        "kind": "operation",
        "name": "admission",
        "plugin": "oneiro",
        "detail": "integration #10 T0",
    } in rows
    code, out = run(monkeypatch, "plugins")
    assert code == 0 and "admission" in out and "text_support" in out


# -- transfer objects ----------------------------------------------------------------------------
def roundtrip(model: BaseModel) -> None:
    again = type(model).model_validate_json(model.model_dump_json())
    assert again == model


def test_the_transfer_objects_round_trip_real_domain_objects(dreamt: Memory) -> None:
    episode = dreamt.record(
        {"text": "Maya moved the build to 02:00", "actor": "maya", "affect": [0.1, 0.5, 0]}
    )
    back = dto.EpisodeIn.from_domain(episode)
    assert dreamt.record(back.to_record()).id == episode.id  # the same content: the same episode
    out = dto.EpisodeOut.from_domain(episode)
    assert out.id == episode.id and out.affect is not None and out.affect.arousal == 0.5
    hits = dreamt.recall("episode deploy", k=5)
    assert hits
    for hit in hits:
        h = dto.HitOut.from_domain(hit)
        assert (h.entry or h.episode) is not None and h.score == hit.score
        roundtrip(h)
    entries = dreamt.store.entries_matching(EntryQuery())
    assert entries
    for entry in entries:
        e = dto.EntryOut.from_domain(entry)
        assert (e.id, e.status, e.sources) == (entry.id, entry.status.value, list(entry.sources))
        roundtrip(e)
    row = dreamt.cycles(1)[0]
    cycle = dto.CycleOut.from_domain(row)
    assert cycle.id == row.id and cycle.status == "completed"
    roundtrip(cycle)
    report = dreamt.dream(dry_run=True)
    assert dto.CycleOut.from_domain(report).dry_run is True
    status = dto.StatusOut.from_domain(dreamt.status())
    assert status.model_dump(exclude_none=True) == dreamt.status().to_dict()
    roundtrip(status)
    brief = dreamt.brief()
    assert brief is not None
    roundtrip(dto.BriefOut.from_domain(brief))
    for model in (out, back):
        roundtrip(model)


def test_hypotheses_and_revisions_as_transfer_objects(memory: Memory) -> None:
    from oneiro.dream.writes import RevisionProposal
    from oneiro.model import Entry, EntryStatus, Provenance

    source = memory.record({"text": "reconcile ran late"})
    hyp = Entry(
        "h1",
        "insight",
        "Reconcile runs late",
        (source.id,),
        Provenance.DREAM,
        status=EntryStatus.STAGED,
        data={"test": {"type": "text_support"}},
    )
    memory.store.add_entries([hyp], None, "none")
    [found] = memory.hypotheses(["staged"])
    h = dto.HypothesisOut.from_domain(found)
    assert h.id == "h1" and h.test == {"type": "text_support"}
    roundtrip(h)
    rev = memory.playbook.propose(RevisionProposal("add", "Ops", "Reconcile before close", "x"))
    r = dto.RevisionOut.from_domain(rev)
    assert r.id == rev.id and r.status == "proposed"
    roundtrip(r)


def test_errors_have_stable_codes() -> None:
    assert dto.ErrorOut.from_domain(InvalidInput("must be text", field="query")).model_dump() == {
        "code": "invalid_input",
        "message": str(InvalidInput("must be text", field="query")),
        "field": "query",
    }
    assert dto.ErrorOut.from_domain(UnknownCycle("no cycle")).code == "unknown_cycle"
    assert dto.ErrorOut.from_domain(ConfigError("bad")).code == "config_error"


@pytest.mark.parametrize("model", dto.MODELS, ids=lambda m: m.__name__)
def test_every_transfer_object_publishes_a_json_schema(model: type[BaseModel]) -> None:
    schema = model.model_json_schema()
    assert schema["type"] == "object" and schema["properties"] and schema["additionalProperties"] is False
    json.dumps(schema)


def test_a_request_with_an_unknown_field_is_refused() -> None:
    with pytest.raises(ValidationError, match="txet"):
        dto.EpisodeIn.model_validate({"text": "x", "txet": "typo"})
