"""/v2/webhooks as a client sees it: SSRF and other bad URLs are 400s (the shared server does
not allow private addresses), and the address is checked again at each attempt; endpoints
belong to their API key, secrets rotate."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from support.items import sample_item
from support.receiver import receiving
from support.server import RunningServer, serve

from callquality.config import Settings

PUBLIC = "https://93.184.215.14/hooks/callquality"  # a public address: no DNS needed


@pytest.mark.parametrize(("url", "message"), [
    ("ftp://example.com/hook", "url: use an http:// or https:// URL, not 'ftp'"),
    ("javascript:alert(1)", "url: use an http:// or https:// URL"),
    ("no url at all", "url: use an http:// or https:// URL"),
    ("http:///path-only", "url: the URL names no host"),
    ("http://user:secret@example.com/hook", "url: credentials in the URL are not accepted"),
    ("http://127.0.0.1:9/hook", "loopback, private or link-local"),
    ("http://localhost/hook", "loopback, private or link-local"),
    ("http://[::1]:8080/hook", "loopback, private or link-local"),
    ("http://[::ffff:127.0.0.1]/hook", "loopback, private or link-local"),
    ("http://10.0.0.5/hook", "loopback, private or link-local"),
    ("http://192.168.1.1/hook", "loopback, private or link-local"),
    ("http://169.254.169.254/latest/meta-data", "loopback, private or link-local"),
    ("http://0.0.0.0/hook", "loopback, private or link-local"),
    ("http://100.64.0.1/hook", "loopback, private or link-local"),
    ("http://224.0.0.1/hook", "loopback, private or link-local"),
])
def test_a_url_the_server_must_not_call_is_a_400(
    server: RunningServer, url: str, message: str
) -> None:
    client = server.client(server.new_tenant())
    answer = client.post("/v2/webhooks", json={"url": url})
    assert answer.status_code == 400, answer.text
    assert message in answer.json()["message"]
    for address in ("127.0.0.1", "10.0.0.5", "169.254.169.254", "192.168.1.1"):
        if address not in url:
            continue
        assert address not in answer.json()["message"]  # errors name no address
    assert client.get("/v2/webhooks").json()["data"] == []


def test_private_addresses_name_the_setting_that_allows_them(server: RunningServer) -> None:
    answer = server.client(server.new_tenant()).post(
        "/v2/webhooks", json={"url": "http://127.0.0.1/hook"})
    assert "WEBHOOK_ALLOW_PRIVATE_URLS=true" in answer.json()["message"]


def test_a_bad_event_type_is_a_400_naming_it(server: RunningServer) -> None:
    client = server.client(server.new_tenant())
    answer = client.post("/v2/webhooks", json={"url": PUBLIC,
                                               "events": ["session-ended", "meeting-ended"]})
    assert answer.status_code == 400
    assert answer.json()["message"].startswith("events[1]: unknown webhook type 'meeting-ended'")
    empty = client.post("/v2/webhooks", json={"url": PUBLIC, "events": []})
    assert empty.status_code == 400 and "events:" in empty.json()["message"]
    extra = client.post("/v2/webhooks", json={"url": PUBLIC, "secret": "mine"})
    assert extra.status_code == 400 and "secret" in extra.json()["message"]


def test_an_endpoint_belongs_to_its_api_key_and_its_secret_rotates(
    server: RunningServer,
) -> None:
    owner_tenant = server.new_tenant()
    owner = server.client(owner_tenant)
    other = server.client(server.new_tenant())
    made = owner.post("/v2/webhooks", json={"url": PUBLIC, "description": "ops"})
    assert made.status_code == 201, made.text
    endpoint = made.json()
    assert endpoint["secret"].startswith("whsec_") and endpoint["enabled"] is True
    listed = owner.get("/v2/webhooks").json()["data"]
    assert [e["id"] for e in listed] == [endpoint["id"]] and "secret" not in listed[0]
    for method, path in (("GET", ""), ("PATCH", ""), ("DELETE", ""), ("POST", "/test"),
                         ("GET", "/deliveries")):
        answer = other.request(method, f"/v2/webhooks/{endpoint['id']}{path}",
                               json={} if method == "PATCH" else None)
        assert answer.status_code == 404, (method, path, answer.text)
    rotated = owner.patch(f"/v2/webhooks/{endpoint['id']}", json={"rotateSecret": True})
    assert rotated.status_code == 200
    assert rotated.json()["secret"].startswith("whsec_")
    assert rotated.json()["secret"] != endpoint["secret"]
    bad = owner.patch(f"/v2/webhooks/{endpoint['id']}", json={"url": "http://10.1.1.1/"})
    assert bad.status_code == 400
    assert owner.get(f"/v2/webhooks/{endpoint['id']}").json()["url"] == PUBLIC  # unchanged
    off = owner.patch(f"/v2/webhooks/{endpoint['id']}", json={"enabled": False,
                                                              "events": ["session-ended"]})
    assert (off.json()["enabled"], off.json()["events"]) == (False, ["session-ended"])
    assert "secret" not in off.json()
    rtc = server.client(token=owner_tenant.token(roles=("rtc",)))
    assert rtc.get("/v2/webhooks").status_code == 403
    room_bound = server.client(token=owner_tenant.token(room_id="r1"))
    assert room_bound.post("/v2/webhooks", json={"url": PUBLIC}).status_code == 403
    assert owner.delete(f"/v2/webhooks/{endpoint['id']}").status_code == 204
    assert owner.get(f"/v2/webhooks/{endpoint['id']}").status_code == 404


def test_the_address_is_checked_again_at_every_attempt(tmp_path: Path) -> None:
    """An endpoint registered while private addresses were allowed gets nothing from a server
    that does not allow them: the test event and the worker's deliveries fail at once
    (final, not retried), naming the setting and never the address."""
    database = f"sqlite:///{tmp_path / 'cq.db'}"
    with receiving() as rec:
        with serve(Settings(database_url=database, webhook_allow_private_urls=True,
                            webhook_delivery=False)) as allowing:
            tenant = allowing.new_tenant()
            made = allowing.client(tenant).post("/v2/webhooks", json={"url": rec.url})
            assert made.status_code == 201, made.text
        webhook_id = made.json()["id"]
        with serve(Settings(database_url=database, webhook_poll_s=0.05)) as strict:
            client = strict.client(tenant)
            test = client.post(f"/v2/webhooks/{webhook_id}/test").json()
            assert test["delivered"] is False and test["statusCode"] is None
            assert "WEBHOOK_ALLOW_PRIVATE_URLS=true" in test["error"]
            answer = client.post("/v2/stats", json=[
                sample_item("ssrf-room", "alice", int(time.time() * 1000))])
            assert answer.status_code == 202, answer.text
            deadline = time.time() + 20
            while True:
                log = client.get(f"/v2/webhooks/{webhook_id}/deliveries").json()["data"]
                tried = {d["webhookType"] for d in log if d["status"] != "pending"}
                if tried >= {"session-started", "participant-joined"}:
                    break
                assert time.time() < deadline, log
                time.sleep(0.1)
    assert all(d["status"] == "failed" and d["attempts"] == 1 for d in log), log
    assert all("127.0.0.1" not in (d["lastError"] or "") for d in log)
    assert all("WEBHOOK_ALLOW_PRIVATE_URLS" in (d["lastError"] or "") for d in log)
    assert rec.received == []
