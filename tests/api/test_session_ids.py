"""A session id sent by a client: it never joins another room's or another tenant's session,
and two requests racing to create the same id both get an answer (no 500)."""

from __future__ import annotations

import threading
import uuid

from support.items import T0, sample_item
from support.server import RunningServer


def _new_id() -> str:
    return uuid.uuid4().hex[:24]


def test_an_id_of_another_room_is_refused_and_its_session_unchanged(
    server: RunningServer,
) -> None:
    tenant = server.new_tenant()
    sid = _new_id()
    with server.client(tenant) as client:
        first = client.post("/v2/stats", json=sample_item("room-a", "alice", T0, sessionId=sid))
        assert first.status_code == 202 and first.json()["sessionIds"] == [sid]
        other = client.post("/v2/stats", json=sample_item("room-b", "bob", T0 + 5000,
                                                          sessionId=sid))
        assert other.status_code == 400, other.text
        assert other.json()["message"].startswith("items[0].sessionId")
        session = client.get(f"/v2/sessions/{sid}").json()
    assert session["roomId"] == "room-a"
    assert [p["participantId"] for p in session["participants"]] == ["alice"]


def test_an_id_of_another_tenant_never_joins_its_session(server: RunningServer) -> None:
    owner, intruder = server.new_tenant(), server.new_tenant()
    sid = _new_id()
    with server.client(owner) as client:
        assert client.post(
            "/v2/stats", json=sample_item("room", "alice", T0, sessionId=sid)
        ).status_code == 202
    with server.client(intruder) as client:
        answer = client.post("/v2/stats", json=sample_item("room", "mallory", T0 + 5000,
                                                           sessionId=sid))
        assert answer.status_code < 500, answer.text
        assert client.get(f"/v2/sessions/{sid}").status_code in (200, 404)
    with server.client(owner) as client:
        session = client.get(f"/v2/sessions/{sid}").json()
        stats = client.get(f"/v2/sessions/{sid}/stats", params={"interval": 5}).json()["stats"]
    assert [p["participantId"] for p in session["participants"]] == ["alice"]
    assert len(stats) == 1, "the intruder's sample is not in the owner's series"


def test_requests_racing_to_create_one_id_in_two_rooms_get_202_and_400(
    server: RunningServer,
) -> None:
    tenant = server.new_tenant()
    for attempt in range(10):
        sid = _new_id()
        barrier = threading.Barrier(2)
        statuses: dict[str, int] = {}

        def send(
            room: str,
            sid: str = sid,
            barrier: threading.Barrier = barrier,
            statuses: dict[str, int] = statuses,
        ) -> None:
            with server.client(tenant) as client:
                barrier.wait()
                answer = client.post("/v2/stats", json=sample_item(room, "p", T0, sessionId=sid))
                statuses[room] = answer.status_code

        threads = [threading.Thread(target=send, args=(r,)) for r in ("east", "west")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert sorted(statuses.values()) == [202, 400], (attempt, statuses)
        with server.client(tenant) as client:
            session = client.get(f"/v2/sessions/{sid}").json()
        winner = next(room for room, status in statuses.items() if status == 202)
        assert session["roomId"] == winner
