"""Each sessions endpoint answers in VideoSDK's documented shape (``../shared/seed/videosdk-api/``):
for the situation of VideoSDK's example, every key of VideoSDK's response is in ours, nested, with
the same JSON type (null only where callquality cannot know the value); every ``links`` URL of
any answer resolves; VideoSDK's own NodeJS examples run against the server and parse."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

from support.items import T0, sample_item
from support.server import RunningServer, Tenant
from support.shapes import links_in, shape_differences, videosdk_response

NODE_DIR = Path(__file__).resolve().parents[1] / "node"
# VideoSDK's own example of the participant stats shows a Chrome 102 client of its prebuilt SDK.
CHROME_102 = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/102.0.0.0 Safari/537.36"
)
PREBUILT = {"userAgent": CHROME_102, "sdkName": "prebuilt", "sdkVersion": "0.3.10"}


def _room() -> str:
    return f"room-{uuid.uuid4().hex[:8]}"


def _post(server: RunningServer, tenant: Tenant, items: list[dict[str, Any]]) -> str:
    with server.client(tenant) as client:
        answer = client.post("/v2/stats", json=items)
    assert answer.status_code == 202, answer.text
    return str(answer.json()["sessionIds"][0])


def _ended_call(server: RunningServer, tenant: Tenant, room: str, **extra: Any) -> str:
    """A call of two participants days ago (so ended by idling): a from T0 to T0+30 s, b from
    T0+10 s to T0+40 s, both reporting every 5 s."""
    items = [sample_item(room, "a", T0 + i * 5000, name="Ann", **extra) for i in range(1, 7)]
    items += [sample_item(room, "b", T0 + i * 5000, name="Bo", **extra) for i in range(3, 9)]
    return _post(server, tenant, items)


def _assert_shape(ours: Any, name: str, *unknown: str) -> None:
    problems = shape_differences(ours, videosdk_response(name), unknown=frozenset(unknown))
    assert problems == [], problems


def _all_links_resolve(server: RunningServer, tenant: Tenant, *answers: Any) -> None:
    links = {url for answer in answers for url in links_in(answer)}
    assert links, "no links to follow"
    with server.client(token=tenant.token(roles=("crawler",))) as crawler:
        for url in sorted(links):
            assert url.startswith(server.url), url
            response = crawler.get(url)
            assert response.status_code == 200, (url, response.text)


def test_the_sessions_list_has_videosdks_shape_and_its_links_resolve(
    server: RunningServer,
) -> None:
    tenant = server.new_tenant()
    room = _room()
    session_id = _ended_call(server, tenant, room)
    with server.client(tenant) as client:
        body = client.get("/v2/sessions/", params={"roomId": room}).json()
    _assert_shape(body, "fetch-sessions")
    assert [s["id"] for s in body["data"]] == [session_id]
    assert body["data"][0]["links"]["get_session"] == f"{server.url}/v2/sessions/{session_id}"
    _all_links_resolve(server, tenant, body)


def test_one_session_has_videosdks_shape_with_user_and_active_duration(
    server: RunningServer,
) -> None:
    tenant = server.new_tenant()
    room = _room()
    session_id = _ended_call(server, tenant, room, customRoomId="testing-room")
    with server.client(tenant) as client:
        body = client.get(f"/v2/sessions/{session_id}").json()
    _assert_shape(body, "fetch-session-using-sessionid", "$.chatLink")  # no chat here
    assert body["userId"] == tenant.api_key  # the owner of the session: its API key
    assert body["customRoomId"] == "testing-room" and body["status"] == "ended"
    # a present from T0 to T0+30 s, b from T0+10 s to T0+40 s: 40 s with someone present
    assert body["activeDuration"] == 40
    ids = [p["_id"] for p in body["participants"]]
    assert len(set(ids)) == 2 and all(len(i) == 24 for i in ids)
    _all_links_resolve(server, tenant, body)


def test_the_participants_list_is_the_session_with_a_page_of_participants(
    server: RunningServer,
) -> None:
    tenant = server.new_tenant()
    room = _room()
    items = [
        sample_item(room, p, T0 + i * 5000, name=p.upper(), customRoomId="testing-room")
        for i in range(1, 5)
        for p in ("p1", "p2", "p3")
    ]
    session_id = _post(server, tenant, items)
    with server.client(tenant) as client:
        body = client.get(f"/v2/sessions/{session_id}/participants", params={"perPage": 2}).json()
        rest = client.get(
            f"/v2/sessions/{session_id}/participants", params={"perPage": 2, "page": 2}
        ).json()
    _assert_shape(body, "fetch-participants")
    assert body["pageInfo"] == {"currentPage": 1, "perPage": 2, "lastPage": 2, "total": 3}
    data = body["data"]
    assert (data["id"], data["roomId"], data["customRoomId"]) == (session_id, room, "testing-room")
    assert [p["participantId"] for p in data["participants"]] == ["p1", "p2"]
    assert [p["participantId"] for p in rest["data"]["participants"]] == ["p3"]
    _all_links_resolve(server, tenant, body)


def test_active_participants_are_those_present_now(server: RunningServer) -> None:
    tenant = server.new_tenant()
    room = _room()
    now = int(time.time() * 1000)
    gap_ms = server.settings.participant_gap_s * 1000
    items = [sample_item(room, p, now - i * 5000, name=p) for i in range(4) for p in ("x", "y")]
    # z reported for a while, and has been silent for longer than the participant gap.
    items += [sample_item(room, "z", now - gap_ms - 20_000 - i * 5000) for i in range(4)]
    session_id = _post(server, tenant, items)
    with server.client(tenant) as client:
        body = client.get(f"/v2/sessions/{session_id}/participants/active").json()
        everyone = client.get(f"/v2/sessions/{session_id}/participants").json()
    _assert_shape(body, "fetch-active-participants")
    present = body["data"]["participants"]
    assert [p["participantId"] for p in present] == ["x", "y"]
    assert all(p["timelog"][-1]["end"] is None for p in present)
    assert body["pageInfo"]["total"] == 2 and everyone["pageInfo"]["total"] == 3
    links = body["data"]["links"]
    assert links["get_all_participants"] == f"{server.url}/v2/sessions/{session_id}/participants"
    _all_links_resolve(server, tenant, body)


def test_active_participants_of_an_ended_session_are_none(server: RunningServer) -> None:
    tenant = server.new_tenant()
    session_id = _ended_call(server, tenant, _room())
    with server.client(tenant) as client:
        body = client.get(f"/v2/sessions/{session_id}/participants/active").json()
    assert body["data"]["participants"] == [] and body["pageInfo"]["total"] == 0


def test_ending_a_session_by_its_custom_room_id_answers_videosdks_session(
    server: RunningServer,
) -> None:
    tenant = server.new_tenant()
    room, custom = _room(), f"custom-{uuid.uuid4().hex[:8]}"
    now = int(time.time() * 1000)
    items = [
        sample_item(room, p, now - i * 5000, name=p, customRoomId=custom)
        for i in range(3)
        for p in ("demo-1", "demo-2")
    ]
    session_id = _post(server, tenant, items)
    with server.client(tenant) as client:
        answer = client.post("/v2/sessions/end", json={"roomId": custom})
        assert answer.status_code == 200, answer.text
        after = client.get(f"/v2/sessions/{session_id}").json()
    body = answer.json()
    _assert_shape(body, "end-session")
    assert body["id"] == session_id and body["roomId"] == room and body["status"] == "ended"
    assert after["status"] == "ended" and after["end"] == body["end"]
    _all_links_resolve(server, tenant, body)


def test_participant_stats_have_videosdks_device_sdk_location_network_and_resolutions(
    server: RunningServer,
) -> None:
    tenant = server.new_tenant()
    room = _room()
    items = [sample_item(room, "fj9jxhtw", T0 + i * 5000, name="rajan", client=PREBUILT)
             for i in range(1, 13)]
    session_id = _post(server, tenant, items)
    with server.client(tenant) as client:
        body = client.get(f"/v2/sessions/{session_id}/participant/fj9jxhtw/stats").json()
    _assert_shape(body, "fetch-session-peer-quality-stats")
    # VideoSDK's example, from the same user agent and SDK:
    assert body["deviceInfo"]["deviceName"] == "Chrome"
    assert body["deviceInfo"]["deviceVersion"] == "102.0.0.0"
    assert body["sdkInfo"] == {"sdkName": "prebuilt", "sdkVersion": "0.3.10", "appName": None,
                               "appVersion": None}
    # No GeoIP database on this server: VideoSDK's own placeholder.
    assert body["location"] == {"country": "unknown", "city": "unknown", "region": "unknown"}
    assert body["network"] == {"asn": "unknown", "org": "unknown"}
    # 640x480 received all along: all of each bucket's time at 360 lines (the nearest class).
    assert [u["time"] for u in body["resolutionUsage"]] == [s["time"] for s in body["stats"]]
    assert all(u["360"] == 1 and u["720"] == 0 for u in body["resolutionUsage"])


def _node(script: str, **env: str) -> Any:
    if not (NODE_DIR / "node_modules" / "node-fetch").exists():
        subprocess.run(["npm", "ci", "--silent", "--no-audit", "--no-fund"], cwd=NODE_DIR,
                       check=True)
    done = subprocess.run(
        ["node", script], cwd=NODE_DIR, env={**os.environ, **env}, capture_output=True,
        text=True, timeout=60, check=True,
    )
    return json.loads(done.stdout)


def test_videosdks_nodejs_examples_run_against_the_server_and_parse(
    server: RunningServer,
) -> None:
    tenant = server.new_tenant()
    room = _room()
    now = int(time.time() * 1000)
    items = [sample_item(room, p, now - i * 5000, name=p, client=PREBUILT)
             for i in range(4) for p in ("demo-1", "demo-2")]
    session_id = _post(server, tenant, items)
    env = {"YOUR_TOKEN": tenant.token(), "BASE_URL": server.url, "SESSION_ID": session_id}

    participants = _node("participants.mjs", **env)
    _assert_shape(participants, "fetch-participants", "$.data.customRoomId")
    assert {p["participantId"] for p in participants["data"]["participants"]} == {
        "demo-1", "demo-2"}

    active = _node("active_participants.mjs", **env)
    _assert_shape(active, "fetch-active-participants")
    assert len(active["data"]["participants"]) == 2

    stats = _node("participant_stats.mjs", PARTICIPANT_ID="demo-1", **env)
    _assert_shape(stats, "fetch-session-peer-quality-stats")
    assert stats["participantId"] == "demo-1" and stats["deviceInfo"]["deviceName"] == "Chrome"

    ended = _node("end_session.mjs", ROOM_ID=room, **env)
    _assert_shape(ended, "end-session")
    assert ended["id"] == session_id and ended["status"] == "ended"


def test_the_shape_check_reports_a_missing_key_a_wrong_type_and_a_null() -> None:
    theirs = {"a": {"b": 1, "c": [{"d": "x"}]}, "e": None}
    assert shape_differences({"a": {"b": 2, "c": [{"d": "y"}]}, "e": "t", "extra": 1}, theirs) == []
    assert shape_differences({"a": {"c": [{"d": "y"}]}, "e": None}, theirs) == ["$.a.b: missing"]
    assert shape_differences({"a": {"b": "1", "c": [{"d": 3}]}, "e": None}, theirs) == [
        "$.a.b: string, VideoSDK has number", "$.a.c[].d: number, VideoSDK has string"]
    assert shape_differences({"a": {"b": None, "c": []}, "e": 0}, theirs) == [
        "$.a.b: null, VideoSDK has number", "$.a.c: empty, VideoSDK has 1 elements to compare",
        "$.e: number, not null/string"]
    assert shape_differences({"a": {"b": None, "c": [{"d": "y"}]}, "e": None}, theirs,
                             unknown=frozenset({"$.a.b"})) == []
