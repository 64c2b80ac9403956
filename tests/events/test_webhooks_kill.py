"""SIGKILL of the server between an event's commit and its delivery loses no event and
doubles none: the next server delivers the rest, and the one that was in flight again with
its idempotency key."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import fresh_pg_database
from support.items import sample_item
from support.processes import create_key, serve_process
from support.receiver import Received, receiving

from callquality.tokens import make_token

ENV = {"WEBHOOK_ALLOW_PRIVATE_URLS": "true", "WEBHOOK_LEASE_S": "2", "WEBHOOK_POLL_S": "0.05",
       "EVENTS_SWEEP_S": "0.3"}
KINDS = ["session-started", "participant-joined", "participant-joined", "participant-left",
         "participant-left", "session-ended"]


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'cq.db'}"
        return
    with fresh_pg_database("cq_kill") as url:
        yield url


def test_a_server_killed_mid_delivery_loses_and_doubles_no_event(database: str) -> None:
    api_key, secret = create_key(database)
    token = make_token(api_key, secret)
    holding, release = threading.Event(), threading.Event()

    def answer(_: Received) -> int:
        if not holding.is_set():  # the first delivery hangs until the server is dead
            holding.set()
            release.wait(30)
        return 200

    with receiving() as rec:
        rec.answer = answer
        with serve_process(database, env=ENV) as (url, proc):
            client = httpx.Client(base_url=url, headers={"Authorization": token}, timeout=10)
            assert client.post("/v2/webhooks", json={"url": rec.url}).status_code == 201
            start = int(time.time() * 1000) - 30_000
            for step in range(4):
                items = [sample_item("kill-room", p, start + step * 5000)
                         for p in ("alice", "bob")]
                assert client.post("/v2/stats", json=items).status_code == 202
            assert client.post("/v2/sessions/end", json={"roomId": "kill-room"}
                               ).status_code == 200  # all six events are committed now
            assert holding.wait(20), "the first delivery never came"
            proc.send_signal(signal.SIGKILL)  # while it is in flight, the rest not sent
            proc.wait(10)
            client.close()
        release.set()
        assert len(rec.received) == 1
        with serve_process(database, env=ENV):
            rec.wait_for(lambda got: len({r.key for r in got}) >= 6, timeout_s=30)
            time.sleep(1.0)  # and nothing more
        got = rec.unique()
        assert [r.json["webhookType"] for r in got] == KINDS  # none lost, in order
        keys = [r.key for r in rec.received]
        assert len(set(keys)) == 6
        # The one in flight came again (same key, same body); no other came twice.
        assert keys.count(keys[0]) == 2 and len(keys) == 7
        first, again = (r for r in rec.received if r.key == keys[0])
        assert first.body == again.body


def test_two_worker_processes_deliver_each_event_once_in_order(database: str) -> None:
    api_key, secret = create_key(database)
    token = make_token(api_key, secret)
    rooms = [f"busy-room-{n}" for n in range(4)]
    with receiving() as rec, serve_process(database, env=ENV, workers=2) as (url, _):
        client = httpx.Client(base_url=url, headers={"Authorization": token}, timeout=10)
        assert client.post("/v2/webhooks", json={"url": rec.url}).status_code == 201
        start = int(time.time() * 1000) - 30_000
        for step in range(4):
            for room in rooms:  # requests spread over both workers (each connection anew)
                items = [sample_item(room, p, start + step * 5000) for p in ("alice", "bob")]
                with httpx.Client(base_url=url, headers={"Authorization": token}) as one:
                    assert one.post("/v2/stats", json=items).status_code == 202
        for room in rooms:
            assert client.post("/v2/sessions/end", json={"roomId": room}).status_code == 200
        rec.wait_for(lambda got: len(got) >= 6 * len(rooms), timeout_s=30)
        time.sleep(1.0)
        client.close()
    keys = [r.key for r in rec.received]
    assert len(keys) == 6 * len(rooms) == len(set(keys))  # every event once, none twice
    for room in rooms:
        got = [r.json["webhookType"] for r in rec.received
               if r.json["data"]["meetingId"] == room]
        assert got == KINDS
