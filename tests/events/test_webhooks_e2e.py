"""A call through POST /v2/stats yields VideoSDK's four webhooks, in order, signed as
docs/webhooks.md says (its Python and Node snippets verify every delivery)."""

from __future__ import annotations

import time
from typing import Any

from servers import events_db_fixture, events_server_fixture  # noqa: F401 (fixtures)
from snippets import node_verify, python_verify
from support.items import sample_item
from support.receiver import receiving
from support.server import RunningServer

EXPECTED = ["session-started", "participant-joined", "participant-joined",
            "participant-left", "participant-left", "session-ended"]


def _call(client: Any, room: str, start_ms: int, steps: int = 8) -> str:
    """Two participants reporting every 5 s; the session id."""
    session_id = None
    for step in range(steps):
        ts = start_ms + step * 5000
        answer = client.post("/v2/stats", json=[
            sample_item(room, "alice", ts, name="Alice"),
            sample_item(room, "bob", ts, name="Bob"),
        ])
        assert answer.status_code == 202, answer.text
        session_id = answer.json()["sessionIds"][0]
    assert session_id is not None
    return session_id


def test_a_call_yields_the_four_videosdk_webhooks_in_order_each_signed(
    events_server: RunningServer,
) -> None:
    tenant = events_server.new_tenant()
    client = events_server.client(tenant)
    with receiving() as all_events, receiving() as ends_only:
        made = client.post("/v2/webhooks", json={"url": all_events.url})
        assert made.status_code == 201, made.text
        secret = made.json()["secret"]
        assert made.json()["events"][:4] == ["session-started", "session-ended",
                                             "participant-joined", "participant-left"]
        only = client.post("/v2/webhooks", json={"url": ends_only.url,
                                                 "events": ["session-ended"]})
        assert only.status_code == 201, only.text
        start = int(time.time() * 1000) - 45_000
        session_id = _call(client, "webhook-room", start)
        ended = client.post("/v2/sessions/end", json={"roomId": "webhook-room"})
        assert ended.status_code == 200, ended.text

        all_events.wait_for(lambda got: len(got) >= 6)
        ends_only.wait_for(lambda got: len(got) >= 1)
        time.sleep(0.5)  # nothing more arrives
        got = all_events.unique()
        assert [r.json["webhookType"] for r in got] == EXPECTED
        assert len(all_events.received) == 6  # each once
        assert [r.json["webhookType"] for r in ends_only.received] == ["session-ended"]

    bodies = [r.json for r in got]
    for body in bodies:
        assert set(body) == {"webhookType", "data"}
        assert set(body["data"]) == {"meetingId", "sessionId", "participantId",
                                     "participantName", "start", "end"}
        assert body["data"]["meetingId"] == "webhook-room"
        assert body["data"]["sessionId"] == session_id
    started, joined, left, finished = bodies[0], bodies[1:3], bodies[3:5], bodies[5]
    assert started["data"]["participantId"] is None and started["data"]["end"] is None
    assert {b["data"]["participantId"] for b in joined} == {"alice", "bob"}
    assert {b["data"]["participantName"] for b in left} == {"Alice", "Bob"}
    assert all(b["data"]["end"] is None for b in joined)
    assert all(b["data"]["end"] is not None for b in left)
    assert finished["data"]["end"] is not None and finished["data"]["participantId"] is None
    # Every delivery verifies with both documented snippets, and nothing else does.
    cases = [(secret, r.headers["callquality-signature"], r.body, None) for r in got]
    assert all(python_verify(*c) for c in cases)
    header, body = got[0].headers["callquality-signature"], got[0].body
    sent_at = int(header.split(",")[0].removeprefix("t="))
    bad = [
        (secret, header, body.replace(b"webhook-room", b"other-room"), None),  # tampered
        ("whsec_wrong", header, body, None),  # another endpoint's secret
        (secret, header, body, float(sent_at + 301)),  # replayed after the window
    ]
    assert not any(python_verify(*c) for c in bad)
    assert node_verify(cases + bad) == [True] * len(cases) + [False] * len(bad)
    assert len({r.key for r in got}) == 6  # one idempotency key per event

    log = client.get(f"/v2/webhooks/{made.json()['id']}/deliveries").json()
    assert log["pageInfo"]["total"] == 6
    assert [d["webhookType"] for d in reversed(log["data"])] == EXPECTED
    assert all(d["status"] == "delivered" and d["attempts"] == 1 for d in log["data"])
    assert [d["idempotencyKey"] for d in reversed(log["data"])] == [r.key for r in got]


def test_an_idle_session_ends_by_the_sweep_with_its_participants_left(
    events_server: RunningServer,
) -> None:
    tenant = events_server.new_tenant()
    client = events_server.client(tenant)
    with receiving() as rec:
        assert client.post("/v2/webhooks", json={"url": rec.url}).status_code == 201
        # One batch of reports that stopped 298 s ago: ongoing now, idle (IDLE_TIMEOUT_S=300)
        # in 2 s.
        start = int(time.time() * 1000) - 298_000 - 4 * 5000
        answer = client.post("/v2/stats", json=[
            sample_item("idle-room", who, start + step * 5000, name=who.title())
            for step in range(5) for who in ("alice", "bob")
        ])
        assert answer.status_code == 202, answer.text
        rec.wait_for(lambda got: len(got) >= 6, timeout_s=30)
        assert [r.json["webhookType"] for r in rec.unique()] == EXPECTED
        ended = rec.unique()[-1].json["data"]
        assert ended["end"] == rec.unique()[-2].json["data"]["end"]  # its last report


def test_the_test_event_is_signed_sent_now_and_logged(events_server: RunningServer) -> None:
    tenant = events_server.new_tenant()
    client = events_server.client(tenant)
    with receiving() as rec:
        rec.answer = lambda _: 204
        made = client.post("/v2/webhooks", json={"url": rec.url}).json()
        answer = client.post(f"/v2/webhooks/{made['id']}/test")
        assert answer.status_code == 200, answer.text
        assert answer.json()["delivered"] is True and answer.json()["statusCode"] == 204
        assert rec.received[0].json["webhookType"] == "test"
        assert python_verify(made["secret"], rec.received[0].headers["callquality-signature"],
                             rec.received[0].body)
    log = client.get(f"/v2/webhooks/{made['id']}/deliveries").json()["data"]
    assert [(d["webhookType"], d["status"]) for d in log] == [("test", "delivered")]
    # The receiver is gone: the answer says so, and nothing retries it.
    failed = client.post(f"/v2/webhooks/{made['id']}/test").json()
    assert failed["delivered"] is False and failed["statusCode"] is None
    assert "connection failed" in failed["error"]
