"""The dashboard on the demo session, at a laptop's and a phone's size."""

from __future__ import annotations

import os
import re
import shutil
from typing import Any

import pytest
from browser_kit import (  # noqa: F401 (fixtures)
    DOC_SCREENSHOTS,
    artifact,
    chromium,
    new_page,
    sqlite_server,
)
from playwright.sync_api import Page
from support.server import RunningServer

from callquality.service.demo import PEOPLE, seed_demo_session

pytestmark = pytest.mark.browser

SCORE = re.compile(r"^\d\.\d\d$")
CHARTS = "() => document.querySelectorAll('.chart canvas').length >= 6"


@pytest.fixture(scope="module")
def demo(sqlite_server: RunningServer) -> tuple[str, str]:  # noqa: F811
    """(crawler token, session id) of the demo session, seeded as `serve --demo` does."""
    tenant = sqlite_server.new_tenant()
    session_id = seed_demo_session(sqlite_server.engine, sqlite_server.settings, tenant.api_key)  # type: ignore[arg-type]
    return tenant.token(roles=("crawler",)), session_id


def _sign_in(page: Page, url: str, token: str) -> None:
    page.goto(f"{url}/dashboard")
    page.fill("#token-input", token)
    page.click("#signin-form button")
    page.wait_for_selector("#sessions-body tr[data-session]")


def _screenshot(page: Page, name: str) -> None:
    path = artifact(name)
    page.screenshot(path=path)
    if os.environ.get("CALLQUALITY_DOC_SCREENSHOTS") == "1":
        DOC_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOC_SCREENSHOTS / name)


def test_the_demo_session_on_a_laptop(
    sqlite_server: RunningServer, new_page: Any, demo: tuple[str, str]  # noqa: F811
) -> None:
    token, session_id = demo
    page = new_page(1280, 800)
    _sign_in(page, sqlite_server.url, token)
    assert page.evaluate("sessionStorage.getItem('callquality.token')") == token
    row = page.locator(f'tr[data-session="{session_id}"]')
    page.wait_for_function(  # the averages at a glance, read lazily
        "() => [...document.querySelectorAll('td.avg-audio .score')]"
        ".every(e => /^\\d\\.\\d\\d$/.test(e.textContent))"
    )
    assert SCORE.match(row.locator(".avg-audio").inner_text())
    assert SCORE.match(row.locator(".avg-video").inner_text())

    # The search by room id.
    page.fill("#search-room", "no-such-room")
    page.click("#search-form button")
    page.wait_for_selector("#sessions-empty:not([hidden])")
    page.fill("#search-room", "demo-room")
    page.click("#search-form button")
    page.wait_for_selector(f'tr[data-session="{session_id}"]')

    row.locator("a").click()
    page.wait_for_function(CHARTS)
    page.wait_for_selector("[data-card=cause]")  # the server's summary arrived
    page.wait_for_function(
        "() => [...document.querySelectorAll('#participants-body .p-audio .score')]"
        ".every(e => /^\\d\\.\\d\\d$/.test(e.textContent))"
    )
    names = page.eval_on_selector_all(
        "#participants-body tr", "rows => rows.map(r => r.dataset.participant)"
    )
    assert len(names) >= 3 and set(names) <= {p[0] for p in PEOPLE}
    audio = {
        pid: float(page.inner_text(f'#participants-body tr[data-participant="{pid}"] .p-audio'))
        for pid in names
    }
    assert min(audio, key=audio.__getitem__) == "p-chloe"  # the one on a train
    assert page.locator("#events li").count() >= 2 * len(names) - 1
    assert SCORE.match(page.inner_text("[data-card=audio] .value"))
    _screenshot(page, "dashboard-desktop.png")

    # One participant's series.
    page.select_option("#participant-select", "p-chloe")
    page.wait_for_selector('#participants-body tr.selected[data-participant="p-chloe"]')
    page.wait_for_function(CHARTS)
    page.screenshot(path=artifact("dashboard-desktop-participant.png"), full_page=True)

    page.click("#sign-out")
    page.wait_for_selector("#view-signin:not([hidden])")
    assert page.evaluate("sessionStorage.getItem('callquality.token')") is None


def test_the_demo_session_on_a_phone(
    sqlite_server: RunningServer, new_page: Any, demo: tuple[str, str]  # noqa: F811
) -> None:
    token, session_id = demo
    page = new_page(390, 844)
    _sign_in(page, sqlite_server.url, token)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.click(f'tr[data-session="{session_id}"] a')
    page.wait_for_function(CHARTS)
    page.wait_for_selector("[data-card=cause]")
    page.wait_for_timeout(300)  # the charts take the column's width
    widths = page.eval_on_selector_all(".chart canvas", "cs => cs.map(c => c.clientWidth)")
    assert all(200 <= w <= 390 for w in widths), widths
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scroll
    _screenshot(page, "dashboard-phone.png")
    page.screenshot(path=artifact("dashboard-phone-full.png"), full_page=True)


def test_a_bad_token_is_refused_with_the_servers_reason(
    sqlite_server: RunningServer, new_page: Any  # noqa: F811
) -> None:
    page = new_page()
    page.goto(f"{sqlite_server.url}/dashboard")
    page.fill("#token-input", "not-a-token")
    page.click("#signin-form button")
    page.wait_for_selector("#signin-error:not([hidden])")
    assert "token" in page.inner_text("#signin-error").lower()
    rtc_only = sqlite_server.new_tenant().token(roles=("rtc",))
    page.fill("#token-input", rtc_only)
    page.click("#signin-form button")
    page.wait_for_function(
        "() => document.querySelector('#signin-error').textContent.includes('crawler')"
    )
    assert page.evaluate("sessionStorage.length") == 0
