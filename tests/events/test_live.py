"""GET /v2/sessions/{sessionId}/live: an ongoing session's new intervals as Server-Sent
Events, opened with a ticket (EventSource) or an Authorization header, tenant-checked."""

from __future__ import annotations

import time

import httpx
from servers import events_db_fixture, events_server_fixture  # noqa: F401 (fixtures)
from support.items import sample_item
from support.server import RunningServer, Tenant
from support.sse import Stream

from callquality.domain.timefmt import iso_ms
from callquality.service.live import Ticket, make_ticket


def _session(server: RunningServer, tenant: Tenant, room: str) -> str:
    now = int(time.time() * 1000)
    answer = server.client(tenant).post("/v2/stats", json=[
        sample_item(room, "alice", now - 1000), sample_item(room, "bob", now - 1000)])
    return str(answer.json()["sessionIds"][0])


def test_an_ingest_reaches_a_ticket_holders_stream_within_2_s_then_the_end(
    events_server: RunningServer,
) -> None:
    tenant = events_server.new_tenant()
    client = events_server.client(tenant)
    session_id = _session(events_server, tenant, "live-room")
    ticket = client.post(f"/v2/sessions/{session_id}/live/ticket")
    assert ticket.status_code == 200, ticket.text
    stream = Stream(events_server.url + ticket.json()["url"])
    hello = stream.wait_for("hello")[0][1]
    assert hello == {"sessionId": session_id, "status": "ongoing"}
    assert stream.status == 200
    posted = time.time()
    now = int(posted * 1000)
    assert client.post("/v2/stats", json=[sample_item("live-room", "alice", now,
                                                      audio_recv_lost=25)]).status_code == 202
    deadline = time.time() + 10
    while not [e for e in stream.events if e[0] == "interval" and e[1]["timestamp"] ==
               iso_ms(now)] and time.time() < deadline:
        time.sleep(0.02)
    kind, interval, arrived = next(e for e in stream.events if e[0] == "interval"
                                   and e[1]["timestamp"] == iso_ms(now))
    assert arrived - posted < 2.0
    assert interval["participantId"] == "alice" and interval["recvAudioPacketLost"] == 25
    assert interval["intervalMs"] == 5000 and 1 <= interval["qualityScore"]["audio"] <= 4.5
    assert client.post("/v2/sessions/end", json={"roomId": "live-room"}).status_code == 200
    stream.wait_for("ended")
    assert stream.done.wait(5)  # the stream closes with the session


def test_an_authorization_header_opens_the_stream_too(events_server: RunningServer) -> None:
    tenant = events_server.new_tenant()
    session_id = _session(events_server, tenant, "header-room")
    stream = Stream(f"{events_server.url}/v2/sessions/{session_id}/live",
                    {"Authorization": tenant.token()})
    assert stream.wait_for("hello")[0][1]["status"] == "ongoing"
    events_server.client(tenant).post("/v2/sessions/end", json={"roomId": "header-room"})
    stream.wait_for("ended")


def test_a_participant_bound_ticket_streams_only_its_participant(
    events_server: RunningServer,
) -> None:
    tenant = events_server.new_tenant()
    session_id = _session(events_server, tenant, "own-room")
    mine = events_server.client(token=tenant.token(participant_id="bob", room_id="own-room"))
    ticket = mine.post(f"/v2/sessions/{session_id}/live/ticket").json()
    stream = Stream(events_server.url + ticket["url"])
    stream.wait_for("hello")
    now = int(time.time() * 1000)
    events_server.client(tenant).post("/v2/stats", json=[
        sample_item("own-room", "alice", now), sample_item("own-room", "bob", now)])
    stream.wait_for("interval")
    time.sleep(1.0)
    assert {e[1]["participantId"] for e in stream.events if e[0] == "interval"} == {"bob"}
    events_server.client(tenant).post("/v2/sessions/end", json={"roomId": "own-room"})
    stream.wait_for("ended")


def test_the_stream_is_refused_without_a_valid_ticket_for_this_session(
    events_server: RunningServer,
) -> None:
    tenant, other = events_server.new_tenant(), events_server.new_tenant()
    session_id = _session(events_server, tenant, "guarded-room")
    second = _session(events_server, tenant, "second-room")
    base = f"{events_server.url}/v2/sessions/{session_id}/live"
    assert httpx.get(base, timeout=10).status_code == 401  # nothing
    assert httpx.get(base, params={"ticket": tenant.token()}, timeout=10).status_code == 401
    # Another key's session: no ticket (404), and its header is a 404 too.
    assert events_server.client(other).post(
        f"/v2/sessions/{session_id}/live/ticket").status_code == 404
    assert httpx.get(base, headers={"Authorization": other.token()}, timeout=10
                     ).status_code == 404
    ticket = events_server.client(tenant).post(f"/v2/sessions/{second}/live/ticket").json()
    wrong = httpx.get(base, params={"ticket": ticket["ticket"]}, timeout=10)
    assert wrong.status_code == 401 and "another session" in wrong.json()["message"]
    expired = make_ticket(tenant.secret, Ticket(tenant.api_key, session_id, None,
                                                int(time.time() * 1000) - 1))
    answer = httpx.get(base, params={"ticket": expired}, timeout=10)
    assert answer.status_code == 401 and "expired" in answer.json()["message"]
    forged = make_ticket(other.secret, Ticket(tenant.api_key, session_id, None,
                                              int(time.time() * 1000) + 60_000))
    assert httpx.get(base, params={"ticket": forged}, timeout=10).status_code == 401
    good = events_server.client(tenant).post(f"/v2/sessions/{session_id}/live/ticket").json()
    # A ticket is no token: it opens nothing else.
    assert httpx.get(f"{events_server.url}/v2/sessions/{session_id}",
                     headers={"Authorization": good["ticket"]}, timeout=10).status_code == 401
    for room in ("guarded-room", "second-room"):
        events_server.client(tenant).post("/v2/sessions/end", json={"roomId": room})


def test_two_tenants_sessions_of_one_client_session_id_stream_apart(
    events_server: RunningServer,
) -> None:
    """The second tenant's session of a client id is stored under a scoped id
    (domain/session_ids.py): its stream reads that one, not the first tenant's."""
    tenants = [events_server.new_tenant(), events_server.new_tenant()]
    now = int(time.time() * 1000)
    for tenant in tenants:
        answer = events_server.client(tenant).post("/v2/stats", json=sample_item(
            "same-room", "alice", now - 1000, sessionId="same-call"))
        assert answer.json()["sessionIds"] == ["same-call"]
    # The second tenant's stream by a ticket and by a header, by the id it knows.
    urls = [events_server.client(tenant).post("/v2/sessions/same-call/live/ticket").json()
            ["url"] for tenant in tenants]
    assert all(url.startswith("/v2/sessions/same-call/live?") for url in urls)
    streams = [Stream(events_server.url + url) for url in urls]
    streams.append(Stream(f"{events_server.url}/v2/sessions/same-call/live",
                          {"Authorization": tenants[1].token()}))
    for stream in streams:
        assert stream.wait_for("hello")[0][1]["sessionId"] == "same-call"
    for lost, tenant in zip((11, 22), tenants, strict=True):
        events_server.client(tenant).post("/v2/stats", json=sample_item(
            "same-room", "alice", now, sessionId="same-call", audio_recv_lost=lost))
    time.sleep(1.5)
    for lost, stream in zip((11, 22, 22), streams, strict=True):  # 0: the first report's
        got = [e[1]["recvAudioPacketLost"] for e in stream.events if e[0] == "interval"]
        assert lost in got and set(got) <= {0, lost}, got
    for tenant in tenants:
        events_server.client(tenant).post("/v2/sessions/end", json={"roomId": "same-room"})
