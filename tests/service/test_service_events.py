"""Server-sent events from the bus: a dream's mode changes, progress and staged hypotheses reach
a client as they happen, and a client that reconnects with Last-Event-ID gets exactly what it
missed (a ``gap`` event when some is no longer held)."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import httpx
from svc_support import AUTH, client, held, server, store_memory  # noqa: F401

from oneiro import demo
from oneiro.events import EventBus
from oneiro.service.live import LiveServer
from oneiro.service.sse import EventLog

Frame = dict[str, Any]


def read_until(
    url: str, last: str, headers: dict[str, str], ready: threading.Event | None = None
) -> list[Frame]:
    """The frames of one stream, until an event of kind ``last`` (inclusive)."""
    frames: list[Frame] = []
    current: Frame = {}
    with httpx.Client(timeout=30) as c, c.stream("GET", f"{url}/v1/events", headers=headers) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        for line in r.iter_lines():
            if ready is not None:
                ready.set()
            if line.startswith(("id:", "event:", "data:")):
                key, _, value = line.partition(":")
                current[key] = value.strip()
            elif not line and current:
                if "data" in current:
                    current["data"] = json.loads(current["data"])
                    frames.append(current)
                    if current.get("event") == last:
                        return frames
                current = {}
    return frames


def test_a_dream_streams_its_events_and_a_resumed_client_gets_exactly_the_rest(
    server: LiveServer, client: httpx.Client
) -> None:
    got: list[Frame] = []
    ready = threading.Event()
    reader = threading.Thread(target=lambda: got.extend(read_until(server.url, "dream_done", {}, ready)))
    reader.start()
    assert ready.wait(10)
    client.post("/v1/memories/batch", json={"episodes": demo.episodes()}, headers=AUTH)
    assert client.post("/v1/dreams", json={"wait": True}, headers=AUTH).status_code == 200
    reader.join(30)
    kinds = [f["event"] for f in got]
    assert kinds[0] == "mode_change" and got[0]["data"]["mode"] == "dream"
    assert kinds[-1] == "dream_done" and got[-1]["data"]["status"] == "completed"
    progress = [f["data"] for f in got if f["event"] == "dream_progress" and f["data"].get("state") == "done"]
    assert [p["phase"] for p in progress] == ["onset", "nrem", "rem", "evolution", "integration", "return"]
    staged = [f["data"] for f in got if f["event"] == "hypothesis"]
    hypotheses = client.get("/v1/hypotheses", params={"status": "staged"}).json()
    assert sorted(s["id"] for s in staged) == sorted(h["id"] for h in hypotheses)
    assert {s["status"] for s in staged} == {"staged"} and all(s["previous"] is None for s in staged)
    seqs = [int(f["id"].rpartition("-")[2]) for f in got]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)

    cut = 3
    resumed = read_until(server.url, "dream_done", {"Last-Event-ID": got[cut - 1]["id"]})
    assert resumed == got[cut:]
    boot = got[0]["id"].rpartition("-")[0]
    foreign = read_until(server.url, "dream_done", {"Last-Event-ID": f"not{boot}-2"})
    assert foreign[-len(got) :] == got, "an id from another process resumes from everything held"


def test_a_client_behind_the_history_is_told_of_the_gap() -> None:
    bus = EventBus()
    log = EventLog(bus, history=3)
    for i in range(5):
        bus.publish("dream_progress", step=i)
    missed, held_after = log.after(log.event_id(1))
    assert missed == 1 and [e.data["step"] for e in held_after] == [2, 3, 4]

    async def first_frames() -> list[str]:
        log.attach(asyncio.get_running_loop())
        frames: list[str] = []
        async for frame in log.stream(log.event_id(1), frozenset({"dream_progress"})):
            frames.append(frame)
            if len(frames) == 5:
                return frames
        return frames

    frames = asyncio.run(first_frames())
    assert frames[1].startswith("event: gap") and '"missed":1' in frames[1]
    assert [f.split("\n")[0] for f in frames[2:]] == [f"id: {log.event_id(n)}" for n in (3, 4, 5)]


def test_events_published_while_a_client_waits_arrive_live() -> None:
    bus = EventBus()
    log = EventLog(bus)

    async def live() -> list[str]:
        log.attach(asyncio.get_running_loop())
        stream = log.stream(None, frozenset({"mode_change"}), keepalive=0.05)
        assert (await anext(stream)).startswith("retry:")
        threading.Timer(0.1, lambda: bus.publish("mode_change", mode="dream")).start()
        frames = [await anext(stream)]
        while "mode_change" not in frames[-1] and len(frames) < 200:
            frames.append(await anext(stream))
        await stream.aclose()
        return frames

    frames = asyncio.run(live())
    assert ": keep-alive\n\n" in frames
    assert any('"mode":"dream"' in f for f in frames)


def test_awake_evidence_recorded_over_http_streams_the_hypothesis_validated(
    server: LiveServer, client: httpx.Client
) -> None:
    client.post("/v1/memories/batch", json={"episodes": demo.episodes()}, headers=AUTH)
    assert client.post("/v1/dreams", json={"wait": True}, headers=AUTH).status_code == 200
    (staged,) = [
        h
        for h in client.get("/v1/hypotheses", params={"status": "staged"}).json()
        if h["kind"] == "correction"
    ]
    got: list[Frame] = []
    ready = threading.Event()
    reader = threading.Thread(target=lambda: got.extend(read_until(server.url, "hypothesis", {}, ready)))
    reader.start()
    assert ready.wait(10)
    for i, who in enumerate(("ana", "ben", "cy")):
        later = {
            "text": f"Decided to release on evening {i}; outcome: error spike.",
            "actor": who,
            "session": f"releases-{who}",
            "kind": "decision",
            "prediction": 0.9,
            "outcome": 0.3,
            "context": {"key": "evening release"},
            "ts": f"2026-03-{10 + i}T19:00:00",
        }
        assert client.post("/v1/memories", json=later, headers=AUTH).status_code == 201
    reader.join(30)
    assert [(f["data"]["id"], f["data"]["status"], f["data"]["previous"]) for f in got] == [
        (staged["id"], "validated", "staged")
    ]
    history = client.get(f"/v1/entries/{staged['id']}/history").json()["history"]
    assert [j["evidence"]["polarity"] for j in history] == [1, 1, 1]
    assert {j["episode"]["actor"] for j in history} == {"ana", "ben", "cy"}
