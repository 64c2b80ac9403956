"""POST /v2/stats with samples, then GET the session's stats, over HTTP, on both databases."""

from __future__ import annotations

import re
import uuid

from support.items import T0, sample_item
from support.server import RunningServer

from callquality.domain.timefmt import iso_ms

SEED_KEYS = {
    "time",
    "recvAudioPacketLost",
    "recvVideoPacketLost",
    "sendAudioPacketLost",
    "sendVideoPacketLost",
    "averageAudioRtt",
    "averageVideoRtt",
    "averageAudioJitter",
    "averageVideoJitter",
    "averageSendAudioBitrate",
    "averageSendVideoBitrate",
    "averageRecvAudioBitrate",
    "averageRecvVideoBitrate",
    "qualityScore",
}
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def room() -> str:
    return f"room-{uuid.uuid4().hex[:8]}"


def test_ingest_then_stats_has_the_seed_keys_and_units(server: RunningServer) -> None:
    tenant = server.new_tenant()
    r = room()
    items = [
        sample_item(r, p, T0 + i * 5000, audio_recv_lost=lost, rtt_ms=rtt)
        for i in range(1, 25)
        for p, lost, rtt in (("alice", 0, 40.0), ("bob", 5, 80.0))
    ]
    with server.client(tenant) as client:
        answer = client.post("/v2/stats", json=items)
        assert answer.status_code == 202, answer.text
        assert answer.json()["accepted"] == 48 and answer.json()["duplicates"] == 0
        (session_id,) = answer.json()["sessionIds"]
        body = client.get(f"/v2/sessions/{session_id}/stats").json()
    assert set(body) == {"sessionId", "meetingId", "stats"}
    assert body["sessionId"] == session_id and body["meetingId"] == r
    stats = body["stats"]
    # Session starts at the first report (T0+5 s); 24 reports 5 s apart end at T0+120 s.
    assert len(stats) == 2
    for entry in stats:
        assert set(entry) == SEED_KEYS
        assert ISO_MS.match(entry["time"])
        assert set(entry["qualityScore"]) == {"audio", "video"}
    first = stats[0]
    # 12 intervals of bob with 5 lost each in the first minute, summed over participants.
    assert first["recvAudioPacketLost"] == 60
    assert first["recvVideoPacketLost"] == 0
    assert first["averageAudioRtt"] == 60.0  # mean of 40 and 80 ms
    assert first["averageSendVideoBitrate"] == 800000.0
    assert 1.0 <= first["qualityScore"]["audio"] <= 4.5
    assert 1.0 <= first["qualityScore"]["video"] <= 5.0


def test_buckets_follow_the_interval_parameter(server: RunningServer) -> None:
    tenant = server.new_tenant()
    r = room()
    items = [sample_item(r, "alice", T0 + i * 5000) for i in range(12)]
    with server.client(tenant) as client:
        sid = client.post("/v2/stats", json=items).json()["sessionIds"][0]
        stats = client.get(f"/v2/sessions/{sid}/stats", params={"interval": 10}).json()["stats"]
        # Six 10-s buckets from the session's start (its first sample's timestamp).
        assert [s["time"] for s in stats] == [iso_ms(T0 + k * 10_000) for k in range(6)]
        assert client.get(f"/v2/sessions/{sid}/stats", params={"interval": 4}).status_code == 400


def test_a_bucket_without_a_media_kind_reports_null(server: RunningServer) -> None:
    tenant = server.new_tenant()
    r = room()
    item = sample_item(r, "alice", T0)
    del item["sample"]["video"]
    with server.client(tenant) as client:
        sid = client.post("/v2/stats", json=item).json()["sessionIds"][0]
        (entry,) = client.get(f"/v2/sessions/{sid}/stats").json()["stats"]
    assert entry["averageSendVideoBitrate"] is None
    assert entry["recvVideoPacketLost"] is None
    assert entry["qualityScore"]["video"] is None
    assert entry["averageSendAudioBitrate"] == 32000.0


def test_the_same_item_twice_is_stored_once(server: RunningServer) -> None:
    tenant = server.new_tenant()
    r = room()
    item = sample_item(r, "alice", T0, audio_recv_lost=7)
    with server.client(tenant) as client:
        first = client.post("/v2/stats", json=item).json()
        again = client.post("/v2/stats", json=[item, item]).json()
        sid = first["sessionIds"][0]
        (entry,) = client.get(f"/v2/sessions/{sid}/stats").json()["stats"]
    assert first["accepted"] == 1 and again == {
        "accepted": 0,
        "duplicates": 2,
        "sessionIds": [sid],
    }
    assert entry["recvAudioPacketLost"] == 7


def test_ending_a_session_makes_the_next_report_open_a_new_one(server: RunningServer) -> None:
    tenant = server.new_tenant()
    r = room()
    with server.client(tenant) as client:
        sid1 = client.post("/v2/stats", json=sample_item(r, "a", T0)).json()["sessionIds"][0]
        ended = client.post("/v2/sessions/end", json={"roomId": r})
        assert ended.status_code == 200, ended.text
        assert ended.json()["id"] == sid1 and ended.json()["status"] == "ended"
        again = client.post("/v2/sessions/end", json={"roomId": r})
        assert again.json()["end"] == ended.json()["end"]  # ending twice changes nothing
        sid2 = client.post("/v2/stats", json=sample_item(r, "a", T0 + 5000)).json()["sessionIds"][0]
    assert sid2 != sid1


def test_an_idle_room_opens_a_new_session(server: RunningServer) -> None:
    tenant = server.new_tenant()
    r = room()
    idle_ms = server.settings.idle_timeout_s * 1000
    with server.client(tenant) as client:
        s1 = client.post("/v2/stats", json=sample_item(r, "a", T0)).json()["sessionIds"][0]
        s2 = client.post("/v2/stats", json=sample_item(r, "a", T0 + 5000)).json()["sessionIds"][0]
        s3 = client.post(
            "/v2/stats", json=sample_item(r, "a", T0 + 5000 + idle_ms + 1)
        ).json()["sessionIds"][0]
    assert s1 == s2 and s3 != s1


def test_a_client_may_name_its_session(server: RunningServer) -> None:
    tenant = server.new_tenant()
    r = room()
    sid = f"mine-{uuid.uuid4().hex[:8]}"
    with server.client(tenant) as client:
        answer = client.post("/v2/stats", json=sample_item(r, "a", T0, sessionId=sid)).json()
        assert answer["sessionIds"] == [sid]
        assert client.get(f"/v2/sessions/{sid}").json()["roomId"] == r


def test_one_batch_longer_than_the_idle_timeout_is_one_session(server: RunningServer) -> None:
    tenant = server.new_tenant()
    r = room()
    steps = 2 * server.settings.idle_timeout_s // 5  # ten minutes of reports, 5 s apart
    items = [sample_item(r, "a", T0 + i * 5000) for i in range(steps)]
    with server.client(tenant) as client:
        answer = client.post("/v2/stats", json=items).json()
    assert len(answer["sessionIds"]) == 1 and answer["accepted"] == steps
