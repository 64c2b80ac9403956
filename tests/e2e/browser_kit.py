"""Debian Chromium through Playwright, and the pages the browser tests load.

Fixtures live here rather than in a tests/e2e/conftest.py (which would shadow the root
conftest for modules that ``from conftest import ...``); test modules import them.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from support.server import RunningServer, serve

from callquality.config import Settings

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",  # the tests run as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--allow-loopback-in-peer-connection",
]
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
# With CALLQUALITY_DOC_SCREENSHOTS=1 the dashboard test also rewrites docs/screenshots/.
DOC_SCREENSHOTS = REPO / "docs" / "screenshots"


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """One headless Chromium per test module (module scope: asyncio-based tests elsewhere
    must not run beside Playwright's event loop)."""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def new_page(chromium: Browser) -> Iterator[Callable[..., Page]]:
    """Pages in fresh contexts (own sessionStorage), closed after the test; page errors fail it."""
    contexts = []
    errors: list[str] = []

    def make(width: int = 1280, height: int = 800) -> Page:
        context = chromium.new_context(viewport={"width": width, "height": height})
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        return page

    yield make
    for context in contexts:
        context.close()
    assert not errors, f"errors in the page: {errors}"


@pytest.fixture(scope="module")
def sqlite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A server of this module on its own SQLite file."""
    db = tmp_path_factory.mktemp("browser") / "cq.db"
    with serve(Settings(database_url=f"sqlite:///{db}")) as running:
        yield running


def artifact(name: str) -> Path:
    """A path under test-artifacts/ (gitignored), created."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / name


def call_page(collector_url: str) -> str:
    """A page that loads collector.js and can start a loopback call (peer connections a, b),
    each direction with fake audio and video; it logs every fetch the page makes."""
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>call</title>
<script>
  window.fetchLog = [];
  const realFetch = window.fetch;
  window.fetch = function (input, init) {{
    window.fetchLog.push({{t: performance.now(), url: String(input),
                          keepalive: !!(init && init.keepalive)}});
    return realFetch.apply(this, arguments);
  }};
</script>
<script src={json.dumps(collector_url)}></script>
<script>
  async function media() {{
    return navigator.mediaDevices.getUserMedia(
      {{audio: true, video: {{width: 320, height: 240, frameRate: 15}}}});
  }}
  window.startCall = async function (o) {{
    const [sa, sb] = [await media(), await media()];
    const a = new RTCPeerConnection(), b = new RTCPeerConnection();
    a.onicecandidate = (e) => e.candidate && b.addIceCandidate(e.candidate).catch(() => {{}});
    b.onicecandidate = (e) => e.candidate && a.addIceCandidate(e.candidate).catch(() => {{}});
    sa.getTracks().forEach((t) => a.addTrack(t, sa));
    sb.getTracks().forEach((t) => b.addTrack(t, sb));
    await a.setLocalDescription(await a.createOffer());
    await b.setRemoteDescription(a.localDescription);
    await b.setLocalDescription(await b.createAnswer());
    await a.setRemoteDescription(b.localDescription);
    window.pcs = {{a, b}};
    const common = Object.assign({{endpoint: o.endpoint, roomId: o.roomId,
                                   intervalMs: o.intervalMs}}, o.options || {{}});
    window.handles = {{
      a: callquality.monitor(a, Object.assign({{}}, common, {{token: o.tokens.a,
          participantId: 'alice', participantName: 'Alice', peerConnectionId: 'alice-pc'}})),
      b: callquality.monitor(b, Object.assign({{}}, common, {{token: o.tokens.b,
          participantId: 'bob', participantName: 'Bob'}})),
    }};
    const start = Date.now();
    while (a.connectionState !== 'connected' || b.connectionState !== 'connected') {{
      if (Date.now() - start > 10000) throw new Error('no connection: ' + a.connectionState);
      await new Promise((r) => setTimeout(r, 50));
    }}
    return true;
  }};
  window.collectorStats = () => ({{a: window.handles.a.stats(), b: window.handles.b.stats()}});
</script>
</head><body><p>call page</p></body></html>"""


class PageHost:
    """A second loopback origin that serves the test pages, as a customer's site would.

    Its pages are cross-origin to the callquality server (so the collector goes through
    CORS), and it outlives server restarts. A page Playwright fulfils itself will not do:
    Chromium counts it as public, and Local Network Access then blocks loopback requests.
    """

    def __init__(self) -> None:
        self.pages: dict[str, bytes] = {}
        pages = self.pages

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                body = pages.get(self.path.split("?")[0])
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def add(self, path: str, html: str) -> str:
        """Serve html at path; returns its URL."""
        self.pages[path] = html.encode()
        return self.url + path

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def page_host() -> Iterator[PageHost]:
    host = PageHost()
    yield host
    host.close()


def open_call_page(page: Page, host: PageHost, collector_url: str) -> None:
    """Load a call page from the page host, with collector.js from collector_url."""
    url = host.add(f"/call-{uuid.uuid4().hex[:8]}.html", call_page(collector_url))
    page.goto(url)
    page.wait_for_function("typeof window.callquality === 'object'")


def wait_until(page: Page, check: Callable[[], Any], timeout_s: float, message: str) -> Any:
    """Poll check() until it returns a truthy value; the page's event loop runs meanwhile
    (Playwright's route handlers run only while the test waits on the page)."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, message
        page.wait_for_timeout(100)
