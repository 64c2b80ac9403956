"""The dashboard's Overview in real Chromium (issue 16): its charts are drawn from the
analytics API's numbers (read back through the DOM), and a filter change updates the URL and
the charts. Until issue 15's client info is on main the dimension a client sets is the codec:
Opus participant-sessions 10 % poor, PCMU 50 % poor, over the last three days."""

from __future__ import annotations

import os
import shutil
import time
from typing import Any

import httpx
import pytest
from browser_kit import (  # noqa: F401 (fixtures)
    DOC_SCREENSHOTS,
    artifact,
    chromium,
    new_page,
    sqlite_server,
)
from support.server import RunningServer

pytestmark = pytest.mark.browser
DAY_MS = 86_400_000


def _item(room: str, pid: str, ts: int, codec: str, poor: bool) -> dict[str, Any]:
    lost = 60 if poor else 0  # 24 % loss: poor audio, cause "network loss"
    return {"roomId": room, "participantId": pid, "timestamp": ts, "sample": {
        "intervalMs": 5000,
        "audio": {"send": {"packets": 250, "packetsLost": 0, "rttMs": 40.0, "jitterMs": 4.0},
                  "recv": {"packets": 250 - lost, "packetsLost": lost, "jitterMs": 4.0}},
        "codec": {"audio": codec}}}


@pytest.fixture(scope="module")
def fleet(sqlite_server: RunningServer) -> str:  # noqa: F811
    tenant = sqlite_server.new_tenant()
    now = int(time.time() * 1000)
    items = []
    for day in range(3):
        start = now - (day + 1) * DAY_MS + 3_600_000
        for codec, count, poor in (("opus", 20, 2 + day), ("PCMU", 10, 5)):
            for n in range(count):
                room = f"r-{codec}-{day}-{n // 5}"
                items += [_item(room, f"p{n}", start + i * 5000, codec, n < poor)
                          for i in range(1, 3)]
    with httpx.Client(base_url=sqlite_server.url,
                      headers={"Authorization": tenant.token()}) as client:
        assert client.post("/v2/stats", json=items).status_code == 202
    return tenant.token(roles=("crawler",))


def _api(server: RunningServer, token: str, path: str) -> Any:
    with httpx.Client(base_url=server.url, headers={"Authorization": token}) as client:
        answer = client.get(path)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _points(page: Any, selector: str) -> Any:
    return page.evaluate(f"JSON.parse(document.querySelector({selector!r}).dataset.points)")


def _pct(rate: float) -> float:
    return round(rate * 1000) / 10


def test_the_overview_draws_the_apis_numbers_and_its_filters_live_in_the_url(
    sqlite_server: RunningServer, new_page: Any, fleet: str  # noqa: F811
) -> None:
    token = fleet
    page = new_page(1280, 900)
    started = time.monotonic()
    page.goto(f"{sqlite_server.url}/dashboard")
    page.fill("#token-input", token)
    page.click("#signin-form button")
    page.wait_for_selector("#view-overview[data-loaded]")
    assert time.monotonic() - started < 5  # the page, sign-in and 8 requests
    assert page.evaluate("document.querySelectorAll('#view-overview canvas').length") >= 6

    now = int(time.time() * 1000)
    window = f"from={now - 7 * DAY_MS}&to={now}"
    days = _api(sqlite_server, token, f"/v2/analytics/quality?groupBy=day&{window}")["data"]
    trend = _points(page, "#ov-trend")
    assert trend["sessions"] == [d["participantSessions"] for d in days]
    assert trend["rate"] == [_pct(d["poorStreamRate"]) for d in days]
    assert sum(trend["sessions"]) == 90

    codecs = _api(sqlite_server, token, f"/v2/analytics/quality?groupBy=codec&{window}")["data"]
    bars = _points(page, "[data-chart=codec]")
    assert bars["key"] == [g["key"]["codec"] for g in codecs] == ["opus", "PCMU"]
    assert bars["rate"] == [_pct(g["poorStreamRate"]) for g in codecs] == [15.0, 50.0]
    assert page.get_attribute("[data-chart=codec] li[data-key=PCMU]", "data-sessions") == "30"
    # top cause and the worst sessions link into the session view
    assert page.get_attribute("#ov-causes li", "data-cause") == "network loss"
    link = page.get_attribute("#ov-worst-body tr a", "href")
    assert link is not None and link.startswith("#/sessions/")
    page.screenshot(path=artifact("dashboard-overview.png"), full_page=True)
    if os.environ.get("CALLQUALITY_DOC_SCREENSHOTS") == "1":  # as test_dashboard.py does
        shutil.copyfile(artifact("dashboard-overview.png"), DOC_SCREENSHOTS / "overview.png")

    # A filter: the URL says it, and the charts are redrawn from the filtered answers.
    before = page.get_attribute("#view-overview", "data-loaded")
    page.fill("#ov-codec", "PCMU")
    page.click("#overview-form button")
    page.wait_for_function(
        f"() => document.querySelector('#view-overview').dataset.loaded !== {before!r}")
    assert page.evaluate("location.hash") == "#/?codec=PCMU"
    assert _points(page, "[data-chart=codec]") == {"key": ["PCMU"], "rate": [50.0]}
    assert sum(_points(page, "#ov-trend")["sessions"]) == 30

    # The shared URL opens the same view.
    other = new_page(1280, 900)
    other.goto(f"{sqlite_server.url}/dashboard#/?codec=PCMU&kind=audio")
    other.fill("#token-input", token)
    other.click("#signin-form button")
    other.wait_for_selector("#view-overview[data-loaded]")
    assert other.input_value("#ov-codec") == "PCMU"
    assert other.input_value("#ov-kind") == "audio"
    assert _points(other, "[data-chart=codec]") == {"key": ["PCMU"], "rate": [50.0]}

    page.click("#ov-worst-body tr a")
    page.wait_for_selector("#view-session:not([hidden])")
