"""Bad input, tried as a new user would: each a clear error, and the stored data unchanged."""

from __future__ import annotations

import time
import uuid

import jwt
import pytest
from support.items import T0, sample_item
from support.server import RunningServer, Tenant

from callquality.tokens import make_token


def stored_stats(server: RunningServer, tenant: Tenant, sid: str) -> object:
    with server.client(tenant) as client:
        return client.get(f"/v2/sessions/{sid}/stats").json()


@pytest.fixture
def existing(server: RunningServer) -> tuple[Tenant, str, str]:
    """A tenant with one stored session: (tenant, room, session id)."""
    tenant = server.new_tenant()
    r = f"room-{uuid.uuid4().hex[:8]}"
    with server.client(tenant) as client:
        sid = client.post("/v2/stats", json=sample_item(r, "a", T0)).json()["sessionIds"][0]
    return tenant, r, sid


def assert_error(response: object, status: int, *words: str) -> None:
    import httpx

    assert isinstance(response, httpx.Response)
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"statusCode", "error", "message"}
    assert body["statusCode"] == status
    for word in words:
        assert word in body["message"], body["message"]


def test_no_token_is_401(server: RunningServer, existing: tuple[Tenant, str, str]) -> None:
    _, _, sid = existing
    with server.client() as client:
        assert_error(client.get(f"/v2/sessions/{sid}/stats"), 401, "Authorization")


def test_bearer_prefix_is_accepted(
    server: RunningServer, existing: tuple[Tenant, str, str]
) -> None:
    tenant, _, sid = existing
    with server.client(token="Bearer " + tenant.token()) as client:
        assert client.get(f"/v2/sessions/{sid}/stats").status_code == 200


def test_a_token_signed_with_another_secret_is_401(
    server: RunningServer, existing: tuple[Tenant, str, str]
) -> None:
    tenant, _, sid = existing
    forged = make_token(tenant.api_key, "f" * 64)
    with server.client(token=forged) as client:
        response = client.get(f"/v2/sessions/{sid}/stats")
    assert_error(response, 401, "signature")
    assert tenant.secret not in response.text


def test_an_expired_token_is_401(server: RunningServer, existing: tuple[Tenant, str, str]) -> None:
    tenant, _, sid = existing
    old = make_token(tenant.api_key, tenant.secret, ttl_s=60, now=time.time() - 3600)
    with server.client(token=old) as client:
        assert_error(client.get(f"/v2/sessions/{sid}/stats"), 401, "expired")


def test_alg_none_is_401(server: RunningServer, existing: tuple[Tenant, str, str]) -> None:
    tenant, _, sid = existing
    unsigned = jwt.encode({"apikey": tenant.api_key, "roles": ["crawler"]}, None, algorithm="none")
    with server.client(token=unsigned) as client:
        assert_error(client.get(f"/v2/sessions/{sid}/stats"), 401, "HS256")


def test_garbage_token_is_401(server: RunningServer) -> None:
    with server.client(token="hello") as client:
        assert_error(client.get("/v2/sessions/"), 401, "JWT")


def test_unknown_api_key_is_401(server: RunningServer) -> None:
    with server.client(token=make_token("nobody", "x" * 64)) as client:
        assert_error(client.get("/v2/sessions/"), 401, "keys create")


def test_another_tenants_session_is_404(
    server: RunningServer, existing: tuple[Tenant, str, str]
) -> None:
    _, _, sid = existing
    other = server.new_tenant()
    with server.client(other) as client:
        assert_error(client.get(f"/v2/sessions/{sid}/stats"), 404, sid)
        assert_error(client.get(f"/v2/sessions/{sid}"), 404)


def test_an_rtc_token_may_send_but_not_read(
    server: RunningServer, existing: tuple[Tenant, str, str]
) -> None:
    tenant, r, sid = existing
    with server.client(token=tenant.token(roles=("rtc",))) as client:
        assert client.post("/v2/stats", json=sample_item(r, "b", T0 + 5000)).status_code == 202
        assert_error(client.get(f"/v2/sessions/{sid}/stats"), 403, "crawler")


def test_a_room_bound_token_may_not_send_for_another_room(
    server: RunningServer, existing: tuple[Tenant, str, str]
) -> None:
    tenant, r, _ = existing
    with server.client(token=tenant.token(room_id=r)) as client:
        assert_error(client.post("/v2/stats", json=sample_item("elsewhere", "a", T0)), 403, r)


def test_malformed_json_is_400_and_stores_nothing(
    server: RunningServer, existing: tuple[Tenant, str, str]
) -> None:
    tenant, r, sid = existing
    before = stored_stats(server, tenant, sid)
    with server.client(tenant) as client:
        response = client.post(
            "/v2/stats", content=b'[{"roomId": "x", ', headers={"Content-Type": "application/json"}
        )
    assert_error(response, 400, "JSON")
    assert stored_stats(server, tenant, sid) == before


@pytest.mark.parametrize(
    ("path", "value", "words"),
    [
        (("audio", "recv", "packetsLost"), -1, ("items[1].sample.audio.recv.packetsLost",)),
        (("video", "send", "bitrateBps"), -5.0, ("items[1].sample.video.send.bitrateBps",)),
        (("audio", "recv", "concealedRatio"), 1.5, ("concealedRatio",)),
    ],
)
def test_a_bad_value_rejects_the_whole_batch(
    server: RunningServer,
    existing: tuple[Tenant, str, str],
    path: tuple[str, str, str],
    value: float,
    words: tuple[str, ...],
) -> None:
    tenant, r, sid = existing
    before = stored_stats(server, tenant, sid)
    good = sample_item(r, "a", T0 + 5000)
    bad = sample_item(r, "a", T0 + 10000)
    bad["sample"][path[0]][path[1]][path[2]] = value
    with server.client(tenant) as client:
        assert_error(client.post("/v2/stats", json=[good, bad]), 400, *words)
    assert stored_stats(server, tenant, sid) == before


def test_nan_is_400(server: RunningServer, existing: tuple[Tenant, str, str]) -> None:
    tenant, r, sid = existing
    before = stored_stats(server, tenant, sid)
    raw = (
        f'{{"roomId": "{r}", "participantId": "a", "timestamp": {T0 + 5000}, '
        '"sample": {"intervalMs": 5000, "audio": {"send": {"rttMs": NaN}}}}'
    )
    with server.client(tenant) as client:
        response = client.post(
            "/v2/stats", content=raw.encode(), headers={"Content-Type": "application/json"}
        )
    assert_error(response, 400, "NaN")
    assert stored_stats(server, tenant, sid) == before


def test_timestamp_in_seconds_is_400(
    server: RunningServer, existing: tuple[Tenant, str, str]
) -> None:
    tenant, r, _ = existing
    with server.client(tenant) as client:
        response = client.post("/v2/stats", json=sample_item(r, "a", T0 // 1000))
    assert_error(response, 400, "timestamp", "milliseconds")


def test_missing_field_and_unknown_field_are_named(server: RunningServer) -> None:
    tenant = server.new_tenant()
    item = sample_item("r", "a", T0)
    del item["participantId"]
    typo = sample_item("r", "a", T0)
    typo["sample"]["audio"]["recv"]["packetLost"] = 3
    with server.client(tenant) as client:
        assert_error(client.post("/v2/stats", json=item), 400, "participantId", "missing")
        assert_error(client.post("/v2/stats", json=[typo]), 400, "items[0]", "packetLost")


def test_a_10_mb_body_is_413_and_stores_nothing(
    server: RunningServer, existing: tuple[Tenant, str, str]
) -> None:
    tenant, r, sid = existing
    before = stored_stats(server, tenant, sid)
    item = sample_item(r, "a", T0 + 5000)
    item["participantName"] = "x" * (10 * 1024 * 1024)
    with server.client(tenant) as client:
        assert_error(client.post("/v2/stats", json=item), 413, "MAX_BODY_BYTES")
    assert stored_stats(server, tenant, sid) == before


def test_unknown_route_is_a_json_404(server: RunningServer) -> None:
    with server.client() as client:
        assert_error(client.get("/v2/nothing"), 404, "/docs")
