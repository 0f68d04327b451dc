"""The HTTP service against a real uvicorn on 127.0.0.1: the routes call the library, writes need
the token, bad input gets a JSON error with a stable code and leaves the store as it was."""

from __future__ import annotations

import json
import socket
import threading
from typing import Any

import httpx
from svc_support import AUTH, TOKEN, Held, client, day, held, server, store_memory  # noqa: F401

from oneiro import demo
from oneiro.dream.writes import RevisionProposal
from oneiro.memory import Memory
from oneiro.service.live import LiveServer


def episodes_in(c: httpx.Client) -> int:
    return int(c.get("/v1/status").json()["episodes"])


def test_record_then_search_finds_it_and_the_entry_has_sources(client: httpx.Client) -> None:
    r = client.post("/v1/memories/batch", json={"episodes": day(12)}, headers=AUTH)
    assert r.status_code == 201, r.text
    assert sum(r.json()["new"]) == 12
    again = client.post("/v1/memories", json=day(1)[0], headers=AUTH)
    assert again.status_code == 201 and again.json()["new"] == [False]
    hits = client.post(
        "/v1/memories/search", json={"query": "deploy of service 3", "filters": {"session": "s3"}, "limit": 5}
    )
    assert hits.status_code == 200
    found = hits.json()
    assert found and all(h["episode"]["session"] == "s3" for h in found if h["type"] == "episode")
    assert client.post("/v1/dreams", json={"wait": True}, headers=AUTH).status_code == 200
    cycles = client.get("/v1/cycles").json()
    assert cycles[0]["status"] == "completed"
    journal = client.get(f"/v1/cycles/{cycles[0]['id']}/journal").json()
    assert {"cycle_start", "phase"} <= {j["kind"] for j in journal}
    assert (
        client.post("/v1/memories/batch", json={"episodes": demo.episodes()}, headers=AUTH).status_code == 201
    )
    assert client.post("/v1/dreams", json={"wait": True}, headers=AUTH).status_code == 200
    (staged,) = [
        h
        for h in client.get("/v1/hypotheses", params={"status": "staged"}).json()
        if h["kind"] == "correction"
    ]
    detail = client.get(f"/v1/hypotheses/{staged['id']}").json()
    entry = client.get(f"/v1/entries/{staged['id']}").json()["entry"]
    sources = client.get(f"/v1/entries/{staged['id']}/sources").json()
    assert [s["id"] for s in sources] == entry["sources"] == [s["id"] for s in detail["sources"]]
    assert sources and all(s["kind"] == "decision" for s in sources)
    history = client.get(f"/v1/entries/{staged['id']}/history").json()
    assert history["entry"]["status"] == "staged" and history["history"] == detail["evidence"] == []


def test_a_write_without_the_token_or_with_a_wrong_one_is_401_and_writes_nothing(
    client: httpx.Client,
) -> None:
    before = episodes_in(client)
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
        r = client.post("/v1/memories", json={"text": "sneaky"}, headers=headers)
        assert r.status_code == 401 and r.json()["code"] == "unauthorized"
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert client.post("/v1/dreams", headers=headers).status_code == 401
    assert episodes_in(client) == before
    assert client.get("/v1/cycles").json() == []


def test_a_server_without_a_token_refuses_every_write(store_memory: Memory) -> None:
    from oneiro.service.app import create_app

    with LiveServer(create_app(store_memory, token=None)) as live, httpx.Client(base_url=live.url) as c:
        r = c.post("/v1/memories", json={"text": "x"}, headers={"Authorization": "Bearer anything"})
        assert r.status_code == 401 and "no token" in r.json()["message"]
        assert episodes_in(c) == 0


def test_oversized_bodies_are_413_declared_or_streamed_and_nothing_is_written(server: LiveServer) -> None:
    with httpx.Client(base_url=server.url) as c:
        big = {"episodes": [{"text": "x" * 1000} for _ in range(10_000)]}  # ~10 MB > 8 MiB
        r = c.post("/v1/memories/batch", json=big, headers=AUTH)
        assert r.status_code == 413 and r.json()["code"] == "payload_too_large"

        def chunks() -> Any:
            yield b'{"episodes": ['
            for i in range(10_000):
                yield (b"," if i else b"") + json.dumps({"text": f"{i}" + "y" * 1000}).encode()
            yield b"]}"

        r = c.post(
            "/v1/memories/batch", content=chunks(), headers={**AUTH, "content-type": "application/json"}
        )
        assert r.status_code == 413 and r.json()["code"] == "payload_too_large"
        assert episodes_in(c) == 0
        assert c.post("/v1/memories", json={"text": "small"}, headers=AUTH).status_code == 201


def test_malformed_json_and_wrong_shapes_are_clear_errors(client: httpx.Client) -> None:
    headers = {**AUTH, "content-type": "application/json"}
    r = client.post("/v1/memories", content=b'{"text": "unterminated', headers=headers)
    assert r.status_code == 400 and r.json()["code"] == "malformed_json"
    r = client.post("/v1/memories", json={"text": "ok", "colour": "blue"}, headers=AUTH)
    assert r.status_code == 422 and r.json() == {
        "code": "invalid_input",
        "message": "Extra inputs are not permitted",
        "field": "colour",
    }
    r = client.post("/v1/memories", json={"text": "   "}, headers=AUTH)
    assert r.status_code == 400 and r.json()["code"] == "invalid_input"
    r = client.post("/v1/memories/batch", json={"episodes": [{"text": "fine"}, {"text": ""}]}, headers=AUTH)
    assert r.status_code == 400, "one bad record refuses the batch"
    r = client.post("/v1/memories/search", json={"query": "x", "limit": 0})
    assert r.status_code == 422 and r.json()["field"] == "limit"
    assert episodes_in(client) == 0


def test_unknown_ids_are_404_with_their_codes(client: httpx.Client) -> None:
    cases = {
        "/v1/cycles/c-nope": "unknown_cycle",
        "/v1/cycles/c-nope/journal": "unknown_cycle",
        "/v1/playbook/revisions/r-nope": "unknown_revision",
        "/v1/entries/e-nope": "unknown_entry",
        "/v1/entries/e-nope/history": "unknown_entry",
        "/v1/hypotheses/e-nope": "unknown_entry",
        "/v1/memories/ep-nope": "unknown_entry",
        "/v1/no-such-route": "not_found",
    }
    for path, code in cases.items():
        r = client.get(path)
        assert (r.status_code, r.json()["code"]) == (404, code), path
    for path in ("/v1/playbook/revisions/r-nope/approve", "/v1/cycles/c-nope/revert"):
        r = client.post(path, headers=AUTH)
        assert r.status_code == 404, path


def test_two_approvals_of_one_revision_racing_activate_it_once(
    store_memory: Memory, client: httpx.Client
) -> None:
    rev = store_memory.playbook.propose(
        RevisionProposal("add", "Ops", "Reconcile before close", "seen twice")
    )
    start = threading.Barrier(4)
    answers: list[int] = []

    def approve() -> None:
        with httpx.Client(base_url=str(client.base_url), timeout=30) as c:
            start.wait()
            answers.append(c.post(f"/v1/playbook/revisions/{rev.id}/approve", headers=AUTH).status_code)

    threads = [threading.Thread(target=approve) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(answers) == [200, 409, 409, 409]
    shown = client.get("/v1/playbook").json()
    assert [i["text"] for i in shown["items"]] == ["Reconcile before close"]
    assert shown["pending"] == []
    again = client.post(f"/v1/playbook/revisions/{rev.id}/reject", headers=AUTH)
    assert again.status_code == 409 and again.json()["code"] == "revision_error"


def test_a_second_dream_while_one_runs_is_409_and_wake_stops_it(client: httpx.Client, held: Held) -> None:
    client.post("/v1/memories/batch", json={"episodes": day(8)}, headers=AUTH)
    held.released.clear()
    r = client.post("/v1/dreams", headers=AUTH)
    assert r.status_code == 202 and r.json()["running"] is True
    assert held.entered.wait(10)
    second = client.post("/v1/dreams", headers=AUTH)
    assert second.status_code == 409 and second.json()["code"] == "cycle_running"
    assert client.get("/v1/dreams/current").json()["running"] is True
    assert client.post("/v1/dreams/wake", headers=AUTH).json() == {"woken": True}
    held.release()
    for _ in range(200):
        state = client.get("/v1/dreams/current").json()
        if not state["running"]:
            break
        threading.Event().wait(0.05)
    assert state["running"] is False and state["last"]["status"] == "interrupted"


def test_a_client_that_disconnects_mid_stream_leaves_the_server_serving(server: LiveServer) -> None:
    for _ in range(5):
        s = socket.create_connection(("127.0.0.1", server.port))
        s.sendall(b"GET /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert s.recv(64).startswith(b"HTTP/1.1 200")
        s.close()
        s = socket.create_connection(("127.0.0.1", server.port))
        s.sendall(b"POST /v1/memories HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 500\r\n")
        s.sendall(f"Authorization: Bearer {TOKEN}\r\ncontent-type: application/json\r\n\r\n".encode())
        s.sendall(b'{"text": "half')
        s.close()
    with httpx.Client(base_url=server.url) as c:
        assert c.get("/v1/status").status_code == 200
        assert episodes_in(c) == 0


def test_the_openapi_schema_is_published_with_the_bearer_scheme(client: httpx.Client) -> None:
    schema = client.get("/openapi.json").json()
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    post = schema["paths"]["/v1/memories"]["post"]
    assert post["security"] == [{"HTTPBearer": []}]
    assert "security" not in schema["paths"]["/v1/memories/search"]["post"]
    assert "ErrorOut" in schema["components"]["schemas"]


def test_a_malformed_constraint_is_the_requests_error_not_the_servers(client: httpx.Client) -> None:
    r = client.post("/v1/playbook/constraints", json={"constraint": {}}, headers=AUTH)
    assert r.status_code == 400 and r.json()["code"] == "invalid_input" and r.json()["field"] == "constraint"
    good = {"name": "keep-ops", "kind": "locked_section", "section": "Ops"}
    r = client.post("/v1/playbook/constraints", json={"constraint": good}, headers=AUTH)
    assert r.status_code == 201, r.text
    assert [c["name"] for c in client.get("/v1/playbook/constraints").json()] == ["keep-ops"]


def test_a_loopback_server_refuses_a_foreign_host_name(server: LiveServer) -> None:
    with httpx.Client(base_url=server.url) as c:
        r = c.get("/v1/status", headers={"Host": "evil.example:80"})
        assert r.status_code == 421 and r.json()["code"] == "forbidden_host"
        assert c.get("/v1/status", headers={"Host": f"localhost:{server.port}"}).status_code == 200


def test_revert_undoes_a_cycle_once_and_rollback_restores_the_playbook(
    store_memory: Memory, client: httpx.Client
) -> None:
    client.post("/v1/memories/batch", json={"episodes": demo.episodes()}, headers=AUTH)
    cycle = client.post("/v1/dreams", json={"wait": True}, headers=AUTH).json()["last"]["id"]
    assert client.get("/v1/hypotheses").json()
    r = client.post(f"/v1/cycles/{cycle}/revert", headers=AUTH)
    assert r.status_code == 200 and r.json()["undone"] > 0
    assert client.get("/v1/hypotheses", params={"status": "staged"}).json() == []
    again = client.post(f"/v1/cycles/{cycle}/revert", headers=AUTH)
    assert again.status_code == 409 and again.json()["code"] == "cycle_error"
    assert client.post("/v1/playbook/rollback", headers=AUTH).status_code == 409
    rev = store_memory.playbook.propose(RevisionProposal("add", "Ops", "Reconcile before close", "x"))
    assert client.post(f"/v1/playbook/revisions/{rev.id}/approve", headers=AUTH).status_code == 200
    back = client.post("/v1/playbook/rollback", json={"by": "maya"}, headers=AUTH)
    assert back.status_code == 200 and back.json()["status"] == "rolled_back"
    assert client.get("/v1/playbook").json()["items"] == []
