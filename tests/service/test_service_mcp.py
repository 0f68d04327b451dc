"""The MCP server, driven by the SDK's own client: in process, over stdio (``oneiro mcp``) and
over streamable HTTP at ``/mcp`` of ``oneiro serve`` (which needs the token)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from svc_support import TOKEN, held, server, store_memory  # noqa: F401

import oneiro
from oneiro import demo
from oneiro.dream.writes import RevisionProposal
from oneiro.memory import Memory
from oneiro.service.live import LiveServer
from oneiro.service.mcp import BRIEF_URI, PLAYBOOK_URI, build

SRC = Path(__file__).resolve().parents[2] / "src"


def structured(result: Any) -> Any:
    assert not result.is_error, result.content
    value = result.structured_content
    return value.get("result", value) if isinstance(value, dict) and set(value) == {"result"} else value


async def tour(client: Client) -> dict[str, Any]:
    """Every tool and resource once, as an agent would use them."""
    tools = {t.name: t for t in (await client.list_tools()).tools}
    recorded = structured(await client.call_tool("record", {"episodes": demo.episodes()}))
    hits = structured(await client.call_tool("recall", {"query": "nightly build schedule", "k": 3}))
    dreamt = structured(await client.call_tool("dream", {}))
    staged = structured(await client.call_tool("hypotheses", {"status": "staged"}))
    brief = structured(await client.call_tool("brief", {}))
    shown = structured(await client.call_tool("playbook", {}))
    bad = await client.call_tool("recall", {"query": "  "})
    resources = {str(r.uri) for r in (await client.list_resources()).resources}
    brief_md = (await client.read_resource(BRIEF_URI)).contents[0]
    return {
        "tools": tools,
        "recorded": recorded,
        "hits": hits,
        "dreamt": dreamt,
        "staged": staged,
        "brief": brief,
        "playbook": shown,
        "bad": bad,
        "resources": resources,
        "brief_md": brief_md,
    }


def check_tour(seen: dict[str, Any]) -> None:
    tools = seen["tools"]
    assert {"record", "recall", "dream", "hypotheses", "brief", "playbook", "approve", "reject"} <= set(tools)
    for name in ("recall", "hypotheses", "brief", "playbook"):
        assert tools[name].annotations.read_only_hint is True, name
    for name in ("record", "dream", "approve", "reject"):
        assert tools[name].annotations.read_only_hint is False, name
    assert tools["record"].annotations.idempotent_hint is True
    assert all(t.annotations.open_world_hint is False for t in tools.values())
    assert sum(seen["recorded"]["new"]) == len(demo.episodes())
    assert seen["hits"] and seen["hits"][0]["type"] in ("episode", "entry")
    assert seen["dreamt"]["last"]["status"] == "completed"
    assert [h["kind"] for h in seen["staged"]].count("correction") == 1
    assert seen["brief"]["cycle_id"] == seen["dreamt"]["last"]["id"]
    assert seen["playbook"]["policy"] == "manual"
    assert seen["bad"].is_error and "non-empty" in seen["bad"].content[0].text
    assert {PLAYBOOK_URI, BRIEF_URI} <= seen["resources"]
    assert seen["brief_md"].text.startswith("# Waking brief")


def test_the_sdk_client_in_process_uses_every_tool(tmp_path: Path) -> None:
    with oneiro.open(tmp_path / "s.db", embedder="hashing") as memory:

        async def run() -> dict[str, Any]:
            async with Client(build(memory)) as client:
                return await tour(client)

        check_tour(asyncio.run(run()))


def test_approve_over_mcp_changes_the_playbook_resource(tmp_path: Path) -> None:
    with oneiro.open(tmp_path / "s.db", embedder="hashing") as memory:
        rev = memory.playbook.propose(RevisionProposal("add", "Ops", "Reconcile before close", "twice"))

        async def run() -> tuple[Any, Any, Any]:
            async with Client(build(memory)) as client:
                before = (await client.read_resource(PLAYBOOK_URI)).contents[0].text
                approved = structured(await client.call_tool("approve", {"revision": rev.id}))
                again = await client.call_tool("approve", {"revision": rev.id})
                after = (await client.read_resource(PLAYBOOK_URI)).contents[0].text
                return (before, after), approved, again

        (before, after), approved, again = asyncio.run(run())
        assert "Reconcile before close" not in before and "Reconcile before close" in after
        assert approved["status"] == "active"
        assert again.is_error and "already active" in again.content[0].text


def test_oneiro_mcp_over_stdio(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "oneiro.toml").write_text('[embedder]\nname = "hashing"\n', encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(SRC), "ONEIRO_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    params = StdioServerParameters(
        command=sys.executable, args=["-c", "from oneiro.cli import main; main()", "mcp"], env=env
    )

    async def run() -> dict[str, Any]:
        async with Client(params) as client:
            return await tour(client)

    check_tour(asyncio.run(run()))
    with oneiro.open(home) as memory:
        assert memory.status().episodes == len(demo.episodes()), "the stdio server wrote the home store"


def test_mcp_over_streamable_http_needs_the_token(server: LiveServer, store_memory: Memory) -> None:
    url = f"{server.url}/mcp"
    refused = httpx2.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
    assert refused.status_code == 401 and refused.json()["code"] == "unauthorized"

    async def run() -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with (
            httpx2.AsyncClient(headers=headers, timeout=30) as http,
            Client(streamable_http_client(url, http_client=http)) as client,
        ):
            return await tour(client)

    check_tour(asyncio.run(run()))
    assert store_memory.status().episodes == len(demo.episodes())


@pytest.mark.parametrize("field", ["episodes"])
def test_a_bad_record_over_mcp_is_an_error_and_writes_nothing(tmp_path: Path, field: str) -> None:
    with oneiro.open(tmp_path / "s.db", embedder="hashing") as memory:

        async def run() -> Any:
            async with Client(build(memory)) as client:
                return await client.call_tool("record", {field: [{"text": "fine"}, {"text": ""}]})

        result = asyncio.run(run())
        assert result.is_error and json.dumps([c.text for c in result.content])
        assert memory.status().episodes == 0
