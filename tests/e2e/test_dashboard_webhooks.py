"""In real Chromium, the dashboard's Webhooks page: the API key's endpoints with their
delivery logs, "Send test event" against real receivers on loopback ports (one answering 200,
one 410), and the alert rules."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from browser_kit import artifact, chromium, new_page  # noqa: F401 (fixtures)
from playwright.sync_api import Page
from support.items import sample_item
from support.receiver import receiving
from support.server import RunningServer, serve

from callquality.config import Settings

pytestmark = pytest.mark.browser

RULE = {"name": "bad audio", "metric": "audioMos", "operator": "<", "threshold": 3.0,
        "windowS": 30, "severity": "critical"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A server of its own (its delivery worker alone on its database), loopback receivers
    allowed."""
    db = tmp_path_factory.mktemp("webhooks-page") / "cq.db"
    with serve(Settings(database_url=f"sqlite:///{db}", webhook_allow_private_urls=True,
                        webhook_poll_s=0.05)) as running:
        yield running


def _card(page: Page, webhook_id: str) -> Any:
    return page.locator(f'article[data-webhook="{webhook_id}"]')


def _rows(page: Page, webhook_id: str) -> list[dict[str, str]]:
    return page.evaluate("""(id) => [...document.querySelectorAll(
        `article[data-webhook="${id}"] .deliveries tbody tr[data-event]`)].map((tr) => ({
          type: tr.children[1].textContent, status: tr.dataset.status,
          attempts: tr.querySelector('.attempts').textContent,
          answer: tr.querySelector('.last-answer').textContent,
          time: tr.querySelector('time').getAttribute('datetime')}))""", webhook_id)


def test_the_webhooks_page_shows_each_delivery_log_and_sends_a_test_event(
    server: RunningServer, new_page: Any  # noqa: F811
) -> None:
    tenant = server.new_tenant()
    client = server.client(tenant)
    with receiving() as good, receiving() as gone:
        gone.answer = lambda _: 410
        ok = client.post("/v2/webhooks", json={"url": good.url, "description": "on-call"}).json()
        dead = client.post("/v2/webhooks", json={"url": gone.url,
                                                 "events": ["session-started"]}).json()
        rule = client.post("/v2/alertRules", json={**RULE, "webhookIds": [ok["id"]]})
        assert rule.status_code == 201, rule.text
        # A call's first report: session-started and participant-joined, through the worker.
        now = int(time.time() * 1000)
        assert client.post("/v2/stats", json=[sample_item("hooks-room", "alice", now)]
                           ).status_code == 202
        good.wait_for(lambda got: len(got) >= 2)
        gone.wait_for(lambda got: len(got) >= 1)

        page = new_page()
        page.goto(f"{server.url}/dashboard#/webhooks")
        page.fill("#token-input", tenant.token(roles=("crawler",)))
        page.click("#signin-form button")
        page.wait_for_selector(f'article[data-webhook="{ok["id"]}"] tr[data-event]')
        assert page.locator("#nav-webhooks").get_attribute("aria-current") == "page"
        assert _card(page, ok["id"]).locator("h3").text_content() == good.url
        assert "on-call" in (_card(page, ok["id"]).text_content() or "")
        assert ok["secret"] not in (page.content())  # the secret is shown only at creation

        # The worker's deliveries, newest first, each with its status and attempts.
        page.wait_for_function(f"""() => document.querySelectorAll(
            'article[data-webhook="{dead["id"]}"] tr[data-event]').length === 1""")
        logged = _rows(page, ok["id"])
        assert [(r["type"], r["status"], r["attempts"], r["answer"]) for r in logged] == [
            ("participant-joined", "delivered", "1", "HTTP 200"),
            ("session-started", "delivered", "1", "HTTP 200")]
        assert [(r["type"], r["status"], r["answer"]) for r in _rows(page, dead["id"])] == [
            ("session-started", "failed", "HTTP 410")]  # 410 is final: not retried

        # Send test: the real receiver gets one signed `test` POST, and the page shows it.
        _card(page, ok["id"]).locator("button.send-test").click()
        page.wait_for_function(f"""() => document.querySelectorAll(
            'article[data-webhook="{ok["id"]}"] tr[data-event]').length === 3""", timeout=5000)
        result = _card(page, ok["id"]).locator(".test-result")
        assert result.get_attribute("data-delivered") == "true"
        assert (result.text_content() or "").startswith("Test event delivered: HTTP 200 in ")
        tests = [r for r in good.received if r.json["webhookType"] == "test"]
        assert len(tests) == 1 and tests[0].json["data"]["endpointId"] == ok["id"]
        assert "callquality-signature" in tests[0].headers
        newest = _rows(page, ok["id"])[0]
        assert (newest["type"], newest["status"], newest["attempts"], newest["answer"]) == (
            "test", "delivered", "1", "HTTP 200")

        # The same against the receiver that answers 410: not delivered, logged as failed.
        _card(page, dead["id"]).locator("button.send-test").click()
        page.wait_for_function(f"""() => document.querySelectorAll(
            'article[data-webhook="{dead["id"]}"] tr[data-event]').length === 2""", timeout=5000)
        failed = _card(page, dead["id"]).locator(".test-result")
        assert failed.get_attribute("data-delivered") == "false"
        assert "not delivered: HTTP 410" in (failed.text_content() or "")
        assert [(r["type"], r["status"], r["answer"]) for r in _rows(page, dead["id"])][0] == (
            "test", "failed", "HTTP 410")
        assert [r.json["webhookType"] for r in gone.received] == ["session-started", "test"]

    # The alert rules, with what each notifies.
    row = page.locator(f'#rules-body tr[data-rule="{rule.json()["id"]}"]')
    assert row.locator(".condition").text_content() == "audioMos < 3 over 30 s"
    assert row.locator(".notifies").text_content() == good.url
    assert "critical" in (row.text_content() or "")
    assert row.locator(".resolves").text_content() == "at ≥ 3.15"
    page.screenshot(path=str(artifact("dashboard-webhooks.png")), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})  # a phone: nothing wider
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(artifact("dashboard-webhooks-phone.png")), full_page=True)


def test_a_room_bound_token_sees_why_the_page_is_empty(
    server: RunningServer, new_page: Any  # noqa: F811
) -> None:
    tenant = server.new_tenant()
    page = new_page()
    page.goto(f"{server.url}/dashboard#/webhooks")
    page.fill("#token-input", tenant.token(roles=("crawler",), room_id="one-room"))
    page.click("#signin-form button")
    page.wait_for_selector("#webhooks-error:not([hidden])")
    assert "crawler token without roomId" in (page.text_content("#webhooks-error") or "")
    assert page.locator("article[data-webhook]").count() == 0
