"""A real Chromium call with /collector.js, through a reverse proxy that forwards the client's
address: the participant's device, SDK, connection and location as the API shows them, each
checked against an independent source (the browser's own version and getStats(), MaxMind's
source records of the test address)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from browser_kit import (  # noqa: F401 (fixtures)
    PageHost,
    chromium,
    new_page,
    open_call_page,
    page_host,
    wait_until,
)
from conftest import FIXTURES
from playwright.sync_api import Browser
from support.server import RunningServer, serve

from callquality.config import Settings

pytestmark = pytest.mark.browser

GEOIP = FIXTURES / "geoip"
# In MaxMind's GeoIP2-City-Test and GeoLite2-ASN-Test source records: Linköping, Östergötland
# County, SE; AS29518 Bredband2 AB (tests/api/test_client_info.py reads them as the truth).
TEST_ADDRESS = "89.160.20.129"
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


class ForwardingProxy:
    """A reverse proxy on loopback in front of the server, as a site's load balancer: it
    appends the address its client connected from (here, the test address it stands for) to
    X-Forwarded-For."""

    def __init__(self, upstream: str, client_address: str) -> None:
        http = httpx.Client(base_url=upstream, timeout=30)

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                prior = self.headers.get("X-Forwarded-For")
                headers["X-Forwarded-For"] = (
                    f"{prior}, {client_address}" if prior else client_address
                )
                answer = http.request(self.command, self.path, headers=headers, content=body)
                self.send_response(answer.status_code)
                for key, value in answer.headers.items():
                    if key.lower() not in HOP_BY_HOP and key.lower() != "content-encoding":
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            do_GET = do_POST = do_OPTIONS = _forward  # noqa: N815 (http.server's names)

            def log_message(self, *args: object) -> None:
                pass

        self.http = http
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.http.close()


@pytest.fixture(scope="module")
def geo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A server with MaxMind's test databases that trusts the proxy on loopback."""
    db = tmp_path_factory.mktemp("client") / "cq.db"
    settings = Settings(
        database_url=f"sqlite:///{db}",
        trusted_proxies="127.0.0.1",
        geoip_city_db=str(GEOIP / "GeoIP2-City-Test.mmdb"),
        geoip_asn_db=str(GEOIP / "GeoLite2-ASN-Test.mmdb"),
    )
    with serve(settings) as running:
        yield running


@pytest.fixture(scope="module")
def proxy(geo_server: RunningServer) -> Iterator[ForwardingProxy]:
    forwarding = ForwardingProxy(geo_server.url, TEST_ADDRESS)
    yield forwarding
    forwarding.close()


SELECTED_LOCAL_CANDIDATE = """async (side) => {
  const report = await pcs[side].getStats();
  let transport = null;
  report.forEach((s) => { if (s.type === 'transport') transport = s; });
  const pair = report.get(transport.selectedCandidatePairId);
  return report.get(pair.localCandidateId);
}"""


def test_a_chromium_call_shows_its_browser_sdk_connection_and_forwarded_location(
    geo_server: RunningServer, proxy: ForwardingProxy, chromium: Browser,  # noqa: F811
    new_page: Any, page_host: PageHost,  # noqa: F811
) -> None:
    tenant = geo_server.new_tenant()
    room = f"e2e-client-{uuid.uuid4().hex[:8]}"
    page = new_page()
    open_call_page(page, page_host, f"{proxy.url}/collector.js")
    tokens = {
        side: tenant.token(roles=("rtc",), room_id=room, participant_id=pid)
        for side, pid in (("a", "alice"), ("b", "bob"))
    }
    page.evaluate(
        "o => startCall(o)",
        {"endpoint": proxy.url, "roomId": room, "intervalMs": 1000, "tokens": tokens},
    )
    crawler = geo_server.client(token=tenant.token(roles=("crawler",)))

    def alice_known() -> dict[str, Any] | None:
        listed = crawler.get("/v2/sessions/", params={"roomId": room}).json()["data"]
        if not listed:
            return None
        body: dict[str, Any] = crawler.get(
            f"/v2/sessions/{listed[0]['id']}/participant/alice/stats").json()
        complete = (body["deviceInfo"]["deviceVersion"] or "").count(".") == 3
        return body if complete and body["connection"]["candidateType"] else None

    body = wait_until(page, alice_known, 20, "alice's client info never arrived complete")

    # The browser names itself: Chromium's UA client hints, and Playwright's own version.
    assert body["deviceInfo"]["deviceName"] == "Chromium"
    assert body["deviceInfo"]["deviceVersion"] == chromium.version
    assert body["deviceInfo"]["osName"] == "Linux"
    assert body["deviceInfo"]["deviceType"] == "desktop"
    assert body["sdkInfo"]["sdkName"] == "callquality-collector"
    assert body["sdkInfo"]["sdkVersion"] == page.evaluate("callquality.version")
    # The selected pair's local candidate, as the page's own getStats() has it.
    local = page.evaluate(SELECTED_LOCAL_CANDIDATE, "a")
    assert body["connection"]["candidateType"] == local["candidateType"] == "host"
    assert body["connection"]["protocol"] == local["protocol"]
    assert body["connection"]["networkType"] == local.get("networkType")
    # The proxy forwarded the test address: MaxMind's test record of it.
    assert body["location"] == {"country": "SE", "city": "Linköping",
                                "region": "Östergötland County"}
    assert body["network"] == {"asn": "AS29518", "org": "Bredband2 AB"}

    # The same client info in the session's participant list, for both participants.
    session_id = body["sessionId"]
    people = crawler.get(f"/v2/sessions/{session_id}/participants").json()["data"]
    by_id = {p["participantId"]: p for p in people["participants"]}
    assert set(by_id) == {"alice", "bob"}
    for participant in by_id.values():
        assert participant["deviceInfo"]["deviceName"] == "Chromium"
        assert participant["sdkInfo"]["sdkName"] == "callquality-collector"
        assert participant["location"]["city"] == "Linköping"
    crawler.close()
