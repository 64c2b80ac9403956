"""/docs and / in Chromium on a machine without internet: only loopback answers.

Chromium resolves no host name but loopback (``--host-resolver-rules``), and every request
the page makes to anything but loopback is recorded and aborted, so a page that needs a CDN
shows up twice: as a blank page and as a recorded request.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from browser_kit import CHROMIUM, CHROMIUM_ARGS, sqlite_server  # noqa: F401 (fixture)
from playwright.sync_api import Browser, BrowserContext, sync_playwright
from support.server import RunningServer

pytestmark = pytest.mark.browser

LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
OFFLINE_ARGS = [*CHROMIUM_ARGS, "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]


@pytest.fixture(scope="module")
def offline_chromium() -> Iterator[Browser]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=OFFLINE_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class Offline:
    """A browser context whose requests beyond loopback fail, and the page's complaints."""

    def __init__(self, browser: Browser) -> None:
        self.context: BrowserContext = browser.new_context(viewport={"width": 1280, "height": 800})
        self.outside: list[str] = []
        self.errors: list[str] = []
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.set_default_timeout(10_000)
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on(
            "console",
            lambda msg: self.errors.append(msg.text) if msg.type == "error" else None,
        )

    def _route(self, route: object) -> None:
        request = route.request  # type: ignore[attr-defined]
        if urlsplit(request.url).hostname in LOOPBACK:
            route.continue_()  # type: ignore[attr-defined]
        else:
            self.outside.append(request.url)
            route.abort("internetdisconnected")  # type: ignore[attr-defined]


@pytest.fixture
def offline(offline_chromium: Browser) -> Iterator[Offline]:
    state = Offline(offline_chromium)
    yield state
    state.context.close()


def test_docs_lists_every_endpoint_without_internet(
    offline: Offline, sqlite_server: RunningServer  # noqa: F811
) -> None:
    spec = httpx.get(f"{sqlite_server.url}/openapi.json").json()
    expected = {
        (method.upper(), path) for path, ops in spec["paths"].items() for method in ops
    }
    page = offline.page
    page.goto(f"{sqlite_server.url}/docs")
    page.wait_for_selector(".opblock-summary-path", timeout=15_000)
    rows = (
        page.eval_on_selector_all(
            ".opblock",
            """blocks => blocks.map(b => [
                 b.querySelector('.opblock-summary-method').textContent.trim(),
                 b.querySelector('.opblock-summary-path').dataset.path])""",
        )
    )
    shown = {(method, path) for method, path in rows}
    assert shown == expected
    assert page.title() == "callquality API"
    assert page.inner_text(".info .title").startswith("callquality")
    assert offline.outside == [], "the page asked the internet for these"
    assert offline.errors == [], "errors in the page (a CSP violation is one)"


def test_docs_runs_an_endpoint_from_the_page(
    offline: Offline, sqlite_server: RunningServer  # noqa: F811
) -> None:
    """Try it out on GET /healthz: Swagger UI's own request reaches the API (connect-src)."""
    page = offline.page
    page.goto(f"{sqlite_server.url}/docs")
    block = page.locator(".opblock", has=page.locator('[data-path="/healthz"]'))
    block.locator(".opblock-summary").first.click()
    block.locator("button.try-out__btn").click()
    block.locator("button.execute").click()
    status = block.locator(".live-responses-table tbody .response-col_status").first
    status.wait_for(timeout=10_000)
    assert status.inner_text().strip() == "200"
    assert offline.outside == [] and offline.errors == []


def test_the_server_address_opens_the_dashboard(
    offline: Offline, sqlite_server: RunningServer  # noqa: F811
) -> None:
    page = offline.page
    page.goto(f"{sqlite_server.url}/")
    assert urlsplit(page.url).path == "/dashboard"
    page.wait_for_selector("#token-input", state="visible", timeout=10_000)
    assert offline.outside == [] and offline.errors == []
