"""LLM tiers from oneiro.toml through `oneiro dream --tier`, against a loopback endpoint: the tier
runs only when configured and budgeted, a tier without an endpoint is refused before anything is
written, the key never reaches the journal, and a repeated dry run costs no request."""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from answers import answer
from llm_server import LLMServer

import oneiro
from oneiro.config import load_config, to_dict
from oneiro.dream.budget import CycleBudget
from oneiro.errors import ConfigError
from oneiro.model import EntryStatus, Provenance, Tier
from oneiro.store.query import EntryQuery
from test_cli_awake import EPISODES, jsonl, run

KEY_ENV, KEY = "ONEIRO_TEST_LLM_KEY", "sk-loopback-secret"


@pytest.fixture
def server() -> Iterator[LLMServer]:
    s = LLMServer([], default=answer)
    yield s
    s.close()


def tier_table(server: LLMServer, tier: str = "T1") -> str:
    return (
        f'[tiers.{tier}]\nbase_url = "{server.url}"\nmodel = "loopback"\napi_key_env = "{KEY_ENV}"\n'
        "backoff_s = 0.0\nmax_retries = 0\n"
    )


@pytest.fixture
def ready(home: Path, server: LLMServer, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(KEY_ENV, KEY)
    with (home / "oneiro.toml").open("a", encoding="utf-8") as f:
        f.write(tier_table(server))
    (home / "day.jsonl").write_bytes(jsonl(EPISODES))
    assert run(monkeypatch, "record", str(home / "day.jsonl"))[0] == 0
    return home


def rows(home: Path, sql: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(home / "oneiro.db")
    try:
        return list(conn.execute(sql))
    finally:
        conn.close()


def test_tier_tables_are_read_from_oneiro_toml_and_hold_no_key(ready: Path) -> None:
    config = load_config(ready)
    t1 = config.tiers["T1"]
    assert (t1.model, t1.api_key_env, t1.max_retries) == ("loopback", KEY_ENV, 0)
    assert t1.api_key() == KEY and KEY not in str(to_dict(config))


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('[tiers.T1]\nmodel = "m"\n', "needs base_url"),
        ('[tiers.T1]\nbase_url = "http://x"\nmodel = "m"\nkey = "sk-1"\n', "unknown setting 'tiers.T1.key'"),
        ('[tiers.T3]\nbase_url = "http://x"\nmodel = "m"\n', "unknown tier table"),
        ('[tiers.T1]\nbase_url = "http://x"\nmodel = "m"\ntimeout_s = -1\n', "tiers.T1.timeout_s"),
        ('[budget]\ntier = "T2"\ntokens = 10\n', r"\[tiers.T2\]"),
    ],
)
def test_a_bad_tier_table_is_a_config_error(tmp_path: Path, table: str, message: str) -> None:
    (tmp_path / "oneiro.toml").write_text(table, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_config(tmp_path)


def test_dream_at_t1_runs_the_llm_tier_and_never_journals_the_key(
    ready: Path, server: LLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out = run(monkeypatch, "dream", "--tier", "T1")
    assert code == 0 and "status: completed" in out, out
    assert server.requests and all(KEY not in str(r) for r in server.requests)
    with oneiro.open(ready) as memory:
        made = memory.store.entries_matching(EntryQuery(kinds=("reflection",)))
        episodes = {r[0] for r in rows(ready, "SELECT id FROM episodes")}
    assert [(e.text, e.provenance, e.tier, e.status) for e in made] == [
        ("the build schedule moved", Provenance.LLM, Tier.T1, EntryStatus.STAGED)
    ]
    assert made[0].sources and set(made[0].sources) <= episodes and made[0].confidence == 0.2
    assert made[0].data["model"] == "loopback" and len(made[0].data["prompt_hash"]) == 64
    journal = rows(ready, "SELECT kind, payload FROM journal")
    assert any(kind == "llm_call" for kind, _p in journal)
    assert all(KEY not in payload for _k, payload in journal)
    stored = b"".join(p.read_bytes() for p in ready.rglob("*") if p.is_file())
    assert KEY.encode() not in stored  # not in the store, its WAL, the cache or the config


def test_dream_at_t0_makes_no_request_even_with_an_endpoint(
    ready: Path, server: LLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run(monkeypatch, "dream")[0] == 0
    assert run(monkeypatch, "dream", "--tier", "T0")[0] == 0
    assert not server.requests


def test_a_tier_without_an_endpoint_is_refused_before_the_store_is_opened(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out = run(monkeypatch, "dream", "--tier", "T1")
    assert code == 2 and "[tiers.T1]" in out and "Traceback" not in out
    assert not (home / "oneiro.db").exists()
    code, out = run(monkeypatch, "dream", "--tier", "T7")
    assert code == 2 and "unknown tier" in out


def test_a_library_cycle_at_t1_without_an_endpoint_is_refused_and_writes_nothing() -> None:
    with oneiro.open(":memory:", embedder="hashing") as memory:
        memory.record_many([{"text": "a thing happened"}])
        with pytest.raises(ConfigError, match=r"\[tiers.T1\]"):
            memory.dream(budget=CycleBudget(60.0, 1_000, Tier.T1))
        assert not memory.cycles()


def test_a_repeated_dry_run_costs_no_request(
    ready: Path, server: LLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out = run(monkeypatch, "dream", "--tier", "T1", "--dry-run")
    assert code == 0 and "DRY RUN" in out
    first = len(server.requests)
    assert first > 0 and (ready / "llm-cache").is_dir()
    code, out = run(monkeypatch, "dream", "--tier", "T1", "--dry-run")
    assert code == 0 and len(server.requests) == first
    assert not rows(ready, "SELECT id FROM entries WHERE kind = 'reflection'")


def test_a_budget_too_small_for_a_request_sends_none_and_the_cycle_ends(
    ready: Path, server: LLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out = run(monkeypatch, "dream", "--tier", "T1", "--tokens", "1")
    assert code == 0 and "status: partial" in out
    assert not server.requests


def test_a_missing_key_falls_back_and_the_cycle_completes(
    ready: Path, server: LLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_ENV)
    code, out = run(monkeypatch, "dream", "--tier", "T1")
    assert code == 0 and "status: completed" in out and not server.requests
    reasons = [p for k, p in rows(ready, "SELECT kind, payload FROM journal") if k == "llm_fallback"]
    assert reasons and all("key_missing" in p and KEY_ENV in p for p in reasons)


def test_a_t1_operation_uses_the_t2_endpoint_when_only_that_one_is_configured(
    home: Path, server: LLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    with (home / "oneiro.toml").open("a", encoding="utf-8") as f:
        f.write(tier_table(server, "T2"))
    with oneiro.open(home) as memory:
        assert memory.llm.endpoint(Tier.T1) == "T2" and memory.llm.endpoint(Tier.T2) == "T2"
        names = {r.name for r in memory.plugins() if r.kind == "operation"}
        assert {"llm_reflection", "llm_imagination", "llm_playbook"} <= names
        memory.record_many([{"text": "the nightly build moved", "actor": "maya"}])
        with pytest.raises(ConfigError, match=r"\[tiers.T1\]"):
            oneiro.open(home, overrides={"budget": {"tier": "T1", "tokens": 100}}).close()
        report = memory.dream(budget=CycleBudget(60.0, 100_000, Tier.T1))
        assert report.status == "completed" and server.requests
        assert all(r["model"] == "loopback" for r in server.requests)
        assert "llm_imagination" not in {
            c.payload["op"] for c in memory.journal(report.cycle_id, kind="llm_call")
        }


def test_an_unregistered_backend_name_is_refused_when_the_memory_opens(home: Path) -> None:
    with (home / "oneiro.toml").open("a", encoding="utf-8") as f:
        f.write('[tiers.T1]\nbase_url = "http://127.0.0.1:9/v1"\nmodel = "m"\nbackend = "nope"\n')
    with pytest.raises(ConfigError, match="unknown backend 'nope'"):
        oneiro.open(home)
