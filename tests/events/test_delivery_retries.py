"""Retries on a clock the test drives: real database, real receiver, no sleeping for
backoff. A receiver that answers 503, then is gone, gets every event once it is back, once
each and in order; 4xx other than 408/429 is final; a dead endpoint is tried for 24 h."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from servers import FAST, events_db_fixture  # noqa: F401 (fixture)
from support.items import sample_item
from support.receiver import Receiver, receiving
from support.server import RunningServer, serve

from callquality.config import Settings
from callquality.service.delivery import Deliverer

SETTINGS = {**FAST, "webhook_delivery": False}  # the test is the only deliverer
KINDS = ["session-started", "participant-joined", "participant-joined", "participant-left",
         "participant-left", "session-ended"]


@dataclass
class FakeClock:
    now_ms: int

    def __call__(self) -> int:
        return self.now_ms

    def advance_to(self, ms: int) -> None:
        assert ms >= self.now_ms
        self.now_ms = ms


@pytest.fixture(scope="module")
def quiet_server(events_db: str) -> Iterator[RunningServer]:
    with serve(Settings(database_url=events_db, **SETTINGS)) as running:  # type: ignore[arg-type]
        yield running


def _call_with_endpoint(server: RunningServer, url: str, room: str) -> tuple[Any, str]:
    """An endpoint, then a whole call (start to explicit end): 6 events queued for it."""
    client = server.client(server.new_tenant())
    endpoint = client.post("/v2/webhooks", json={"url": url})
    assert endpoint.status_code == 201, endpoint.text
    start = int(time.time() * 1000) - 30_000
    for step in range(4):
        items = [sample_item(room, p, start + step * 5000) for p in ("alice", "bob")]
        assert client.post("/v2/stats", json=items).status_code == 202
    assert client.post("/v2/sessions/end", json={"roomId": room}).status_code == 200
    return client, endpoint.json()["id"]


def _log(client: Any, endpoint_id: str) -> list[dict[str, Any]]:
    return list(reversed(client.get(f"/v2/webhooks/{endpoint_id}/deliveries",
                                    params={"perPage": 100}).json()["data"]))


def _deliverer(server: RunningServer, clock: FakeClock, **settings: Any) -> Deliverer:
    merged = server.settings.with_overrides(**settings) if settings else server.settings
    return Deliverer(server.engine, merged, clock=clock, rng=random.Random(17))  # type: ignore[arg-type]


def _due(log: list[dict[str, Any]]) -> int:
    from datetime import datetime

    head = next(d for d in log if d["status"] == "pending")
    return int(datetime.fromisoformat(head["nextAttemptAt"].replace("Z", "+00:00"))
               .timestamp() * 1000)


def test_a_receiver_down_then_gone_gets_every_event_once_when_back_in_order(
    quiet_server: RunningServer,
) -> None:
    answers = iter([503, 503, 503])
    with receiving() as rec:
        rec.answer = lambda _: next(answers, 200)
        port = rec.port
        client, endpoint_id = _call_with_endpoint(quiet_server, rec.url, "down-room")
        clock = FakeClock(int(time.time() * 1000))
        deliverer = _deliverer(quiet_server, clock)
        delays = []
        for _ in range(3):  # three 503s
            deliverer.run_once()
            log = _log(client, endpoint_id)
            assert [d["status"] for d in log] == ["pending"] * 6  # the head holds the queue
            delays.append(_due(log) - clock.now_ms)
            clock.advance_to(_due(log))
        assert len(rec.received) == 3 and log[0]["lastStatusCode"] == 503
    # The port is closed now: a connection error, retried too.
    deliverer.run_once()
    log = _log(client, endpoint_id)
    assert log[0]["attempts"] == 4 and "connection failed" in log[0]["lastError"]
    delays.append(_due(log) - clock.now_ms)
    clock.advance_to(_due(log))
    # Exponential with equal jitter: attempt n waits within [b 2^(n-1) / 2, b 2^(n-1)].
    base = quiet_server.settings.webhook_retry_base_s * 1000
    for n, delay in enumerate(delays, start=1):
        assert base * 2 ** (n - 1) / 2 <= delay <= base * 2 ** (n - 1), (n, delay)
    with receiving(port, Receiver(port)) as back:
        deliverer.run_once()
        assert [r.json["webhookType"] for r in back.received] == KINDS  # all, in order, once
        deliverer.run_once()
        assert len(back.received) == 6
    log = _log(client, endpoint_id)
    assert [d["status"] for d in log] == ["delivered"] * 6
    assert [d["attempts"] for d in log] == [5, 1, 1, 1, 1, 1]
    deliverer.close()


def test_a_4xx_is_final_but_408_and_429_are_retried(quiet_server: RunningServer) -> None:
    answers = iter([400, 408, 429, 200])
    with receiving() as rec:
        rec.answer = lambda _: next(answers, 200)
        client, endpoint_id = _call_with_endpoint(quiet_server, rec.url, "4xx-room")
        clock = FakeClock(int(time.time() * 1000))
        deliverer = _deliverer(quiet_server, clock)
        deliverer.run_once()  # 400: failed at once; the next event: 408, retried
        log = _log(client, endpoint_id)
        assert (log[0]["status"], log[0]["attempts"], log[0]["nextAttemptAt"]) == (
            "failed", 1, None)
        assert (log[1]["status"], log[1]["lastStatusCode"]) == ("pending", 408)
        clock.advance_to(_due(log))
        deliverer.run_once()  # 429, retried; then 200 and the rest
        log = _log(client, endpoint_id)
        assert (log[1]["status"], log[1]["lastStatusCode"]) == ("pending", 429)
        clock.advance_to(_due(log))
        deliverer.run_once()
        log = _log(client, endpoint_id)
        assert [d["status"] for d in log] == ["failed"] + ["delivered"] * 5
        assert [r.json["webhookType"] for r in rec.received] == [KINDS[0]] + [KINDS[1]] * 3 \
            + KINDS[2:]
        deliverer.close()


def test_a_dead_endpoint_is_retried_for_24_hours_then_given_up(
    quiet_server: RunningServer,
) -> None:
    with receiving() as rec:
        rec.answer = lambda _: 500
        client, endpoint_id = _call_with_endpoint(quiet_server, rec.url, "dead-room")
        clock = FakeClock(int(time.time() * 1000))
        first = clock.now_ms
        deliverer = _deliverer(quiet_server, clock)
        attempts = 0
        while True:
            deliverer.run_once(do_sweep=False)
            attempts += 1
            head = _log(client, endpoint_id)[0]
            if head["status"] != "pending":
                break
            clock.advance_to(_due(_log(client, endpoint_id)))
            assert attempts < 100
        assert head["status"] == "failed" and "gave up after" in head["lastError"]
        assert clock.now_ms - first >= 24 * 3600 * 1000  # tried for at least 24 h
        assert 20 <= head["attempts"] == len([r for r in rec.received
                                              if r.json["webhookType"] == KINDS[0]]) <= 40
        deliverer.close()


def test_two_deliverers_on_one_database_deliver_each_event_once(
    quiet_server: RunningServer,
) -> None:
    with receiving() as rec:
        rec.answer = lambda _: (time.sleep(0.02), 200)[1]  # slow enough to overlap
        endpoints = []
        for n in range(3):  # three endpoints of three tenants, one call each
            client, endpoint_id = _call_with_endpoint(quiet_server, rec.url + f"/{n}",
                                                      f"pair-room-{n}")
            endpoints.append((client, endpoint_id))
        clock = FakeClock(int(time.time() * 1000))
        a, b = _deliverer(quiet_server, clock), _deliverer(quiet_server, clock)

        def drain(d: Deliverer) -> None:
            for _ in range(30):
                d.run_once(do_sweep=False)

        threads = [threading.Thread(target=drain, args=(d,)) for d in (a, b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        keys = [r.key for r in rec.received]
        assert len(keys) == 18 and len(set(keys)) == 18  # every event, none twice
        for n in range(3):
            got = [r.json["webhookType"] for r in rec.received if r.path.endswith(f"/{n}")]
            assert got == KINDS  # each endpoint in order
        a.close()
        b.close()
