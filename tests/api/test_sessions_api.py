"""The rest of the sessions API over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import fresh_pg_database
from sqlalchemy import Engine
from support.items import T0, sample_item
from support.server import RunningServer, Tenant, serve

from callquality.config import Settings
from callquality.service.retention import purge_expired


def room() -> str:
    return f"room-{uuid.uuid4().hex[:8]}"


def make_sessions(server: RunningServer, tenant: Tenant, rooms: list[str]) -> list[str]:
    ids = []
    with server.client(tenant) as client:
        for i, r in enumerate(rooms):
            answer = client.post("/v2/stats", json=sample_item(r, "a", T0 + i * 1000))
            ids.append(answer.json()["sessionIds"][0])
    return ids


def test_list_pagination_edges(server: RunningServer) -> None:
    tenant = server.new_tenant()
    ids = make_sessions(server, tenant, [room() for _ in range(5)])
    with server.client(tenant) as client:
        first = client.get("/v2/sessions/", params={"perPage": 2}).json()
        assert first["pageInfo"] == {"currentPage": 1, "perPage": 2, "lastPage": 3, "total": 5}
        assert [s["id"] for s in first["data"]] == ids[::-1][:2]  # newest first
        last = client.get("/v2/sessions/", params={"perPage": 2, "page": 3}).json()
        assert [s["id"] for s in last["data"]] == [ids[0]]
        beyond = client.get("/v2/sessions/", params={"perPage": 2, "page": 9}).json()
        assert beyond["data"] == [] and beyond["pageInfo"]["total"] == 5
        too_many = client.get("/v2/sessions/", params={"perPage": 1000})
        assert too_many.status_code == 400 and "perPage" in too_many.json()["message"]
        assert client.get("/v2/sessions/", params={"page": 0}).status_code == 400


def test_an_empty_list_has_one_empty_page(server: RunningServer) -> None:
    with server.client(server.new_tenant()) as client:
        body = client.get("/v2/sessions").json()
    assert body == {
        "pageInfo": {"currentPage": 1, "perPage": 20, "lastPage": 1, "total": 0},
        "data": [],
    }


def test_filters(server: RunningServer) -> None:
    tenant = server.new_tenant()
    r1, r2 = room(), room()
    with server.client(tenant) as client:
        client.post("/v2/stats", json=sample_item(r1, "a", T0, customRoomId="weekly"))
        client.post("/v2/stats", json=sample_item(r2, "a", T0 + 60_000))
        client.post("/v2/sessions/end", json={"roomId": r2})
        assert client.get("/v2/sessions/", params={"roomId": r1}).json()["pageInfo"]["total"] == 1
        by_custom = client.get("/v2/sessions/", params={"customRoomId": "weekly"}).json()
        assert [s["roomId"] for s in by_custom["data"]] == [r1]
        after = client.get("/v2/sessions/", params={"startDate": T0 + 1}).json()
        assert [s["roomId"] for s in after["data"]] == [r2]
        before = client.get("/v2/sessions/", params={"endDate": T0}).json()
        assert [s["roomId"] for s in before["data"]] == [r1]
        # Both are ended (T0 is days ago: idle), r2 explicitly.
        ended = client.get("/v2/sessions/", params={"status": "ended"}).json()
        assert ended["pageInfo"]["total"] == 2
        ongoing = client.get("/v2/sessions/", params={"status": "ongoing"}).json()
        assert ongoing["pageInfo"]["total"] == 0
        assert client.get("/v2/sessions/", params={"status": "maybe"}).status_code == 400


def test_an_ongoing_session_is_listed_as_ongoing(server: RunningServer) -> None:
    tenant = server.new_tenant()
    now = int(time.time() * 1000)
    r = room()
    with server.client(tenant) as client:
        sid = client.post("/v2/stats", json=sample_item(r, "a", now)).json()["sessionIds"][0]
        body = client.get(f"/v2/sessions/{sid}").json()
        assert body["status"] == "ongoing" and body["end"] is None
        assert body["participants"][0]["timelog"][-1]["end"] is None
        listed = client.get("/v2/sessions/", params={"status": "ongoing"}).json()
        assert [s["id"] for s in listed["data"]] == [sid]


def test_tenants_never_see_each_other(server: RunningServer) -> None:
    mine, theirs = server.new_tenant(), server.new_tenant()
    shared_room = room()
    make_sessions(server, theirs, [shared_room, room()])
    (my_id,) = make_sessions(server, mine, [shared_room])
    with server.client(mine) as client:
        body = client.get("/v2/sessions/").json()
        assert body["pageInfo"]["total"] == 1 and [s["id"] for s in body["data"]] == [my_id]
        by_room = client.get("/v2/sessions/", params={"roomId": shared_room}).json()
        assert by_room["pageInfo"]["total"] == 1
    with server.client(theirs) as client:
        assert client.get(f"/v2/sessions/{my_id}/participants").status_code == 404
        assert client.get(f"/v2/sessions/{my_id}/summary").status_code == 404
        assert client.post("/v2/sessions/end", json={"sessionId": my_id}).status_code == 404


def test_a_participant_who_left_and_rejoined_has_two_timelog_entries(
    server: RunningServer,
) -> None:
    tenant = server.new_tenant()
    r = room()
    gap = server.settings.participant_gap_s * 1000
    first = [sample_item(r, "dev", T0 + i * 5000, name="Dev") for i in range(1, 5)]
    back = T0 + 20_000 + gap + 10_000
    second = [sample_item(r, "dev", back + i * 5000) for i in range(1, 5)]
    stay = [sample_item(r, "ana", T0 + i * 5000) for i in range(1, 20)]
    with server.client(tenant) as client:
        sid = client.post("/v2/stats", json=first + second + stay).json()["sessionIds"][0]
        session = client.get(f"/v2/sessions/{sid}").json()
        people = client.get(f"/v2/sessions/{sid}/participants", params={"perPage": 1}).json()
    logs = {p["participantId"]: p["timelog"] for p in session["participants"]}
    assert len(logs["dev"]) == 2 and len(logs["ana"]) == 1
    assert logs["dev"][0]["end"] < logs["dev"][1]["start"]
    assert session["participants"][1]["name"] == "Dev"
    assert people["pageInfo"] == {"currentPage": 1, "perPage": 1, "lastPage": 2, "total": 2}
    assert [p["participantId"] for p in people["data"]["participants"]] == ["ana"]


def test_participant_stats_are_that_participants_alone(server: RunningServer) -> None:
    tenant = server.new_tenant()
    r = room()
    items = [sample_item(r, "a", T0 + i * 5000, rtt_ms=20.0, name="Ann") for i in range(1, 7)]
    items += [sample_item(r, "b", T0 + i * 5000, rtt_ms=200.0, audio_recv_lost=10)
              for i in range(1, 7)]
    with server.client(tenant) as client:
        sid = client.post("/v2/stats", json=items).json()["sessionIds"][0]
        a = client.get(f"/v2/sessions/{sid}/participant/a/stats").json()
        b = client.get(f"/v2/sessions/{sid}/participant/b/stats").json()
        missing = client.get(f"/v2/sessions/{sid}/participant/zed/stats")
    assert a["participantId"] == "a" and a["participantName"] == "Ann"
    assert a["stats"][0]["averageAudioRtt"] == 20.0 and b["stats"][0]["averageAudioRtt"] == 200.0
    assert a["stats"][0]["recvAudioPacketLost"] == 0 and b["stats"][0]["recvAudioPacketLost"] == 60
    assert b["stats"][0]["qualityScore"]["audio"] < a["stats"][0]["qualityScore"]["audio"]
    assert missing.status_code == 404 and "zed" in missing.json()["message"]


def test_summary_names_the_bad_participant_and_its_cause(server: RunningServer) -> None:
    tenant = server.new_tenant()
    r = room()
    good = [sample_item(r, "good", T0 + i * 5000) for i in range(1, 13)]
    lossy = [sample_item(r, "lossy", T0 + i * 5000, audio_recv_lost=40, video_recv_lost=140)
             for i in range(1, 13)]
    with server.client(tenant) as client:
        sid = client.post("/v2/stats", json=good + lossy).json()["sessionIds"][0]
        body = client.get(f"/v2/sessions/{sid}/summary").json()
    people = {p["participantId"]: p for p in body["participants"]}
    assert people["good"]["likelyCause"] is None and people["good"]["badSeconds"] == 0
    assert people["lossy"]["likelyCause"] == "network loss"
    assert people["lossy"]["secondsAudioBelow3_5"] == 60.0
    assert people["lossy"]["lossPercent"]["p50"] > 2
    assert body["session"]["worstAudioInterval"]["participantId"] == "lossy"


def test_extended_stats_add_percentiles_and_inputs(server: RunningServer) -> None:
    tenant = server.new_tenant()
    r = room()
    items = [sample_item(r, p, T0 + i * 5000, rtt_ms=rtt) for i in range(1, 7)
             for p, rtt in (("a", 10.0), ("b", 110.0))]
    with server.client(tenant) as client:
        sid = client.post("/v2/stats", json=items).json()["sessionIds"][0]
        (entry,) = client.get(f"/v2/sessions/{sid}/stats", params={"extended": "true"}).json()[
            "stats"
        ]
    assert entry["participants"] == 2
    # Over the 12 samples of the bucket (six at 10 ms, six at 110 ms), linear interpolation.
    assert entry["rttMs"]["audio"] == {"p50": 60.0, "p95": 110.0}
    assert entry["packetLossPercent"]["recvAudio"] == 0.0
    assert entry["recvVideo"] == {"width": 640, "height": 480, "frameRate": 30.0}
    # The inputs the scores were computed from, averaged over the bucket's samples.
    assert entry["scoreInputs"]["audio_rtt_ms"] == 60.0
    assert entry["scoreInputs"]["video_bitrate_kbps"] == 800.0


def test_stats_as_csv(server: RunningServer) -> None:
    tenant = server.new_tenant()
    r = room()
    items = [sample_item(r, "a", T0 + i * 5000) for i in range(1, 25)]
    with server.client(tenant) as client:
        sid = client.post("/v2/stats", json=items).json()["sessionIds"][0]
        response = client.get(f"/v2/sessions/{sid}/stats", params={"format": "csv"})
        as_json = client.get(f"/v2/sessions/{sid}/stats").json()["stats"]
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == len(as_json) == 2
    assert rows[0]["time"] == as_json[0]["time"]
    assert float(rows[0]["qualityScore.audio"]) == as_json[0]["qualityScore"]["audio"]


def test_healthz_and_metrics(backend: str) -> None:
    settings = Settings(database_url=backend, metrics_token="scrape", metrics_store_figures=True)
    with serve(settings) as running:
        tenant = running.new_tenant()
        with running.client(tenant) as client:
            assert client.get("/healthz").json()["status"] == "ok"
            client.post("/v2/stats", json=sample_item(room(), "a", T0))
            client.post("/v2/stats", content=b"{", headers={"Content-Type": "application/json"})
        with running.client(token="Bearer scrape") as client:
            text = client.get("/metrics").text
    assert 'callquality_ingest_items_total{outcome="accepted"}' in text
    assert 'callquality_ingest_errors_total{status="400"}' in text
    assert 'callquality_http_requests_total{method="POST",route="/v2/stats",status="202"}' in text
    assert "callquality_stored_samples" in text


@pytest.fixture(params=["sqlite", "postgresql"])
def own_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RunningServer]:
    """A server on a database of its own: purging it touches no other test's data."""
    if request.param == "sqlite":
        with serve(Settings(database_url=f"sqlite:///{tmp_path / 'own.db'}")) as running:
            yield running
        return
    with fresh_pg_database("cq_own") as url, serve(Settings(database_url=url)) as running:
        yield running


def test_retention_purges_old_samples_only(own_server: RunningServer) -> None:
    tenant = own_server.new_tenant()
    engine: Engine = own_server.engine  # type: ignore[assignment]
    with own_server.client(tenant) as client:
        sid = client.post("/v2/stats", json=sample_item(room(), "a", T0)).json()["sessionIds"][0]
        now = int(time.time() * 1000)
        kept = purge_expired(engine, Settings(retention_days=1), now)
        assert client.get(f"/v2/sessions/{sid}/stats").json()["stats"], "fresh data is kept"
        purged = purge_expired(engine, Settings(retention_days=1), now + 2 * 86_400_000)
        assert client.get(f"/v2/sessions/{sid}/stats").json()["stats"] == []
    assert (kept, purged) == (0, 1)


def test_the_openapi_document_describes_every_endpoint(server: RunningServer) -> None:
    with server.client() as client:
        paths = client.get("/openapi.json").json()["paths"]
    for path in (
        "/v2/stats",
        "/v2/sessions/",
        "/v2/sessions/{sessionId}",
        "/v2/sessions/{sessionId}/participants",
        "/v2/sessions/{sessionId}/stats",
        "/v2/sessions/{sessionId}/participant/{participantId}/stats",
        "/v2/sessions/{sessionId}/summary",
        "/v2/sessions/end",
        "/healthz",
        "/metrics",
    ):
        assert path in paths, path
