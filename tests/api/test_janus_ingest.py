"""POST /v2/ingest/janus over HTTP, on both databases, with the requests a real Janus posted
(tests/ingest/data/janus-events.json: a VideoRoom and an EchoTest call through 5 % loss)."""

from __future__ import annotations

import base64
import copy
import gzip
import json
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
import sqlalchemy as sa
from support.server import RunningServer, Tenant

from callquality.config import Settings
from callquality.service.retention import JANUS_STATE_TTL_MS, purge_expired
from callquality.store.schema import janus_states

CAPTURE = json.loads(
    (Path(__file__).parents[1] / "ingest" / "data" / "janus-events.json").read_text()
)
POSTS: list[Any] = [p["body"] for p in CAPTURE["posts"]]
VIDEOROOM = next(c for c in CAPTURE["calls"] if c["name"] == "videoroom")
PATH = "/v2/ingest/janus"


def basic(user: str, password: str) -> dict[str, str]:
    credentials = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {credentials}"}


def janus_headers(tenant: Tenant, **claims: Any) -> dict[str, str]:
    """What Janus's sample handler sends with backend_user = key, backend_pwd = token."""
    return basic(tenant.api_key, tenant.token(roles=("janus",), **claims))


def post_all(server: RunningServer, headers: dict[str, str]) -> list[dict[str, Any]]:
    answers = []
    with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
        for body in POSTS:
            answer = client.post(PATH, content=orjson.dumps(body),
                                 headers={"Content-Type": "application/json"})
            assert answer.status_code == 202, answer.text
            answers.append(answer.json())
    return answers


def sessions_of(server: RunningServer, tenant: Tenant) -> list[dict[str, Any]]:
    with server.client(tenant) as client:
        answer = client.get("/v2/sessions/")
        assert answer.status_code == 200, answer.text
        data: list[dict[str, Any]] = answer.json()["data"]
        return data


def test_janus_events_with_basic_credentials_become_the_rooms_scored_series(
    server: RunningServer,
) -> None:
    tenant = server.new_tenant()
    answers = post_all(server, janus_headers(tenant))
    assert sum(a["events"] for a in answers) == sum(len(b) for b in POSTS)
    assert sum(a["accepted"] for a in answers) > 0
    assert sum(a["duplicates"] for a in answers) == 0
    (room,) = [s for s in sessions_of(server, tenant) if s["roomId"] == "4321"]
    feeds = VIDEOROOM["feeds"]
    assert {p["participantId"]: p["name"] for p in room["participants"]} == {
        str(feeds["alice"]): "Alice", str(feeds["bob"]): "Bob",
    }
    with server.client(tenant) as client:
        answer = client.get(
            f"/v2/sessions/{room['id']}/participant/{feeds['alice']}/stats",
            params={"interval": 120},
        )
    assert answer.status_code == 200, answer.text
    (bucket,) = answer.json()["stats"]
    admin = VIDEOROOM["admin"]["alice-pub"]
    assert bucket["sendAudioPacketLost"] == admin["0"]["rtcp"]["lost"]
    assert bucket["sendVideoPacketLost"] == admin["1"]["rtcp"]["lost"]
    assert bucket["qualityScore"]["audio"] is not None
    echo = [s for s in sessions_of(server, tenant) if s["roomId"].startswith("janus-echotest-")]
    assert len(echo) == 1


def test_the_same_requests_again_store_nothing_twice(server: RunningServer) -> None:
    """Janus repeats a request it got no answer to; every request here twice over."""
    tenant = server.new_tenant()
    first = post_all(server, janus_headers(tenant))
    again = post_all(server, janus_headers(tenant))
    assert sum(a["accepted"] for a in again) == 0
    assert sum(a["duplicates"] for a in again) == sum(a["accepted"] for a in first)


def test_a_gzipped_body_is_read_as_janus_compress_sends_it(server: RunningServer) -> None:
    tenant = server.new_tenant()
    headers = {**janus_headers(tenant), "Content-Encoding": "gzip",
               "Content-Type": "application/json"}
    with httpx.Client(base_url=server.url, headers=headers) as client:
        answer = client.post(PATH, content=gzip.compress(orjson.dumps(POSTS[0])))
    assert answer.status_code == 202, answer.text
    assert answer.json()["events"] == len(POSTS[0])


def test_a_token_without_the_janus_role_is_refused(server: RunningServer) -> None:
    tenant = server.new_tenant()
    for roles in (("rtc",), ("crawler", "rtc")):
        headers = basic(tenant.api_key, tenant.token(roles=roles))
        with httpx.Client(base_url=server.url, headers=headers) as client:
            answer = client.post(PATH, json=POSTS[0])
        assert answer.status_code == 403, answer.text
        assert "--role janus" in answer.json()["message"]


def test_a_janus_token_may_not_send_browser_stats_nor_read(server: RunningServer) -> None:
    tenant = server.new_tenant()
    with server.client(token=tenant.token(roles=("janus",))) as client:
        stats = client.post("/v2/stats", json={
            "roomId": "r", "participantId": "p", "timestamp": 1_796_000_000_000,
            "sample": {"intervalMs": 5000},
        })
        listing = client.get("/v2/sessions/")
    assert stats.status_code == 403 and "janus" in stats.json()["message"], stats.text
    assert listing.status_code == 403, listing.text


def test_the_basic_user_must_be_the_tokens_api_key(server: RunningServer) -> None:
    tenant = server.new_tenant()
    headers = basic("someone-else", tenant.token(roles=("janus",)))
    with httpx.Client(base_url=server.url, headers=headers) as client:
        answer = client.post(PATH, json=POSTS[0])
    assert answer.status_code == 401, answer.text
    assert "backend_user" in answer.json()["message"]


def test_no_credentials_is_a_401(server: RunningServer) -> None:
    with httpx.Client(base_url=server.url) as client:
        answer = client.post(PATH, json=POSTS[0])
    assert answer.status_code == 401, answer.text


def test_an_invalid_event_is_a_400_naming_it_and_nothing_of_the_request_is_stored(
    server: RunningServer,
) -> None:
    tenant = server.new_tenant()
    body = copy.deepcopy([e for b in POSTS for e in b])
    index = max(n for n, e in enumerate(body) if e["type"] == 32 and "lost" in e["event"])
    body[index]["event"]["lost"] = "many"
    with httpx.Client(base_url=server.url, headers=janus_headers(tenant)) as client:
        answer = client.post(PATH, json=body)
        not_json = client.post(PATH, content=b"{", headers={"Content-Type": "application/json"})
    assert answer.status_code == 400, answer.text
    assert f"events[{index}].event.lost" in answer.json()["message"]
    assert not_json.status_code == 400, not_json.text
    assert sessions_of(server, tenant) == []


def test_a_room_bound_token_refuses_another_rooms_events_and_stores_none(
    server: RunningServer,
) -> None:
    tenant = server.new_tenant()
    everything = [e for b in POSTS for e in b]
    with httpx.Client(
        base_url=server.url, headers=janus_headers(tenant, room_id="4321"), timeout=30
    ) as client:
        answer = client.post(PATH, json=everything)
    assert answer.status_code == 403, answer.text
    assert "janus-echotest-" in answer.json()["message"]
    assert sessions_of(server, tenant) == []


def test_a_janus_sessions_state_is_forgotten_a_day_after_its_last_event(
    server: RunningServer,
) -> None:
    """A Janus that dies sends no "destroyed": the retention purge forgets its sessions."""
    tenant = server.new_tenant()
    with httpx.Client(base_url=server.url, headers=janus_headers(tenant)) as client:
        for body in POSTS[:5]:  # the first handles attached, joined: never destroyed
            assert client.post(PATH, json=body).status_code == 202

    def left() -> int:
        with server.engine.connect() as conn:  # type: ignore[attr-defined]
            return int(conn.execute(
                sa.select(sa.func.count()).select_from(janus_states)
                .where(janus_states.c.api_key == tenant.api_key)
            ).scalar_one())

    assert left() > 0
    now_ms = int(time.time() * 1000)
    purge_expired(server.engine, Settings(), now_ms + JANUS_STATE_TTL_MS // 2)  # type: ignore[arg-type]
    assert left() > 0
    purge_expired(server.engine, Settings(), now_ms + JANUS_STATE_TTL_MS + 60_000)  # type: ignore[arg-type]
    assert left() == 0
