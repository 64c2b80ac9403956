"""Rooms, read side, in VideoSDK's shape (tests/api/videosdk/), derived from the key's sessions."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from support.items import T0, sample_item
from support.server import RunningServer, Tenant
from support.shapes import links_in, shape_differences, videosdk_response

from callquality.domain.timefmt import iso_ms

DOCUMENTED = Path(__file__).parent / "videosdk"
# What a session-derived room cannot know: its media region, the owner's e-mail, and the
# customRoomId of a room whose sessions never had one.
UNKNOWN = frozenset({"$.region", "$.user.email", "$.data[].region", "$.data[].user.email",
                     "$.data[].customRoomId"})


def _room() -> str:
    return f"room-{uuid.uuid4().hex[:8]}"


def _assert_shape(ours: Any, name: str) -> None:
    problems = shape_differences(ours, videosdk_response(name, DOCUMENTED), unknown=UNKNOWN)
    assert problems == [], problems


def _rooms(server: RunningServer, tenant: Tenant) -> tuple[str, str, str]:
    """Room one: two sessions (T0..T0+10 s, ended; then T0+60 s..T0+70 s, with a customRoomId);
    room two, older: one session without customRoomId. Returns (one, its custom id, two)."""
    one, custom, two = _room(), f"custom-{uuid.uuid4().hex[:8]}", _room()
    with server.client(tenant) as client:
        for body in (
            [sample_item(two, "a", T0 - 100_000 + i * 5000) for i in range(1, 3)],
            [sample_item(one, "a", T0 + i * 5000) for i in range(1, 3)],
        ):
            assert client.post("/v2/stats", json=body).status_code == 202
        assert client.post("/v2/sessions/end", json={"roomId": one}).status_code == 200
        later = [sample_item(one, "b", T0 + 60_000 + i * 5000, customRoomId=custom)
                 for i in range(1, 3)]
        assert client.post("/v2/stats", json=later).status_code == 202
    return one, custom, two


def test_the_rooms_list_has_videosdks_shape_newest_first(server: RunningServer) -> None:
    tenant = server.new_tenant()
    one, custom, two = _rooms(server, tenant)
    with server.client(tenant) as client:
        body = client.get("/v2/rooms", params={"perPage": 1}).json()
        everything = client.get("/v2/rooms/").json()
    _assert_shape(body, "fetch-all-room")
    assert body["pageInfo"] == {"currentPage": 1, "perPage": 1, "lastPage": 2, "total": 2}
    assert [r["roomId"] for r in everything["data"]] == [one, two]
    first = everything["data"][0]
    assert first["customRoomId"] == custom and everything["data"][1]["customRoomId"] is None
    assert first["user"]["id"] == tenant.api_key and first["user"]["name"] == "test"
    # Created with its first session, updated with its last report (T0+70 s).
    assert first["createdAt"] == iso_ms(T0 + 5000)
    assert first["updatedAt"] == iso_ms(T0 + 70_000)


def test_a_room_is_found_by_its_room_id_or_custom_room_id(server: RunningServer) -> None:
    tenant = server.new_tenant()
    one, custom, _ = _rooms(server, tenant)
    with server.client(tenant) as client:
        by_id = client.get(f"/v2/rooms/{one}").json()
        by_custom = client.get(f"/v2/rooms/{custom}").json()
    _assert_shape(by_id, "fetch-room")
    assert by_custom == by_id and by_id["roomId"] == one and by_id["customRoomId"] == custom
    assert by_id["id"] != by_id["user"]["id"] and len(by_id["id"]) == 24


def test_every_link_of_rooms_resolves_with_a_crawler_token(server: RunningServer) -> None:
    tenant = server.new_tenant()
    one, _, _ = _rooms(server, tenant)
    with server.client(tenant) as client:
        answers = [client.get("/v2/rooms").json(), client.get(f"/v2/rooms/{one}").json()]
    links = set(links_in(answers))
    assert len(links) == 4
    with server.client(token=tenant.token(roles=("crawler",))) as crawler:
        for url in links:
            response = crawler.get(url)
            assert response.status_code == 200, (url, response.text)
    with server.client(tenant) as client:
        crawler_list = client.get(answers[1]["links"]["get_session"]).json()
        sessions = {s["roomId"] for s in crawler_list["data"]}
    assert sessions == {one} and crawler_list["pageInfo"]["total"] == 2


def test_another_keys_room_is_a_404_and_a_room_token_sees_its_room_alone(
    server: RunningServer,
) -> None:
    mine, theirs = server.new_tenant(), server.new_tenant()
    one, custom, two = _rooms(server, mine)
    with server.client(theirs) as client:
        assert client.get(f"/v2/rooms/{one}").status_code == 404
        assert client.get(f"/v2/rooms/{custom}").status_code == 404
        assert client.get("/v2/rooms").json()["pageInfo"]["total"] == 0
    with server.client(mine) as client:
        missing = client.get("/v2/rooms/no-such-room")
        assert missing.status_code == 404 and "/v2/rooms" in missing.json()["message"]
    with server.client(token=mine.token(roles=("crawler",), room_id=two)) as scoped:
        listed = scoped.get("/v2/rooms").json()
        assert [r["roomId"] for r in listed["data"]] == [two]
        assert scoped.get(f"/v2/rooms/{two}").status_code == 200
        assert scoped.get(f"/v2/rooms/{one}").status_code == 403
    with server.client(token=mine.token(roles=("rtc",))) as sender:
        assert sender.get("/v2/rooms").status_code == 403
