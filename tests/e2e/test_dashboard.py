"""The dashboard in real Chromium: the demo session at a laptop's and a phone's size, the
averages as the API gives them (with no request per row), the keyboard, focus and errors."""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from browser_kit import (  # noqa: F401 (fixtures)
    DOC_SCREENSHOTS,
    artifact,
    chromium,
    new_page,
    sqlite_server,
)
from conftest import FIXTURES
from playwright.sync_api import Page
from support.server import RunningServer

from callquality.service.demo import PEOPLE, seed_demo_session

pytestmark = pytest.mark.browser

SCORE = re.compile(r"^\d\.\d\d$")
CHARTS = "() => document.querySelectorAll('.chart canvas').length >= 6"
SUMMARY = "[data-card=cause]"  # appears once the server's summary has arrived
QUALITY_LEGEND = "[data-chart=quality] .series-stat[data-series='{}'] .avg"


@pytest.fixture(scope="module")
def demo(sqlite_server: RunningServer) -> tuple[str, str]:  # noqa: F811
    """(crawler token, session id) of the demo session, seeded as `serve --demo` does."""
    tenant = sqlite_server.new_tenant()
    session_id = seed_demo_session(sqlite_server.engine, sqlite_server.settings, tenant.api_key)  # type: ignore[arg-type]
    return tenant.token(roles=("crawler",)), session_id


def _sample(loss_pct: float, rtt_ms: float) -> dict[str, Any]:
    packets = 250  # 5 s of 20 ms Opus frames
    lost = round(packets * loss_pct / 100)
    return {
        "intervalMs": 5000,
        "audio": {
            "send": {"packets": packets, "packetsLost": lost, "bitrateBps": 32000, "rttMs": rtt_ms,
                     "jitterMs": 4.0},
            "recv": {"packets": packets - lost, "packetsLost": lost, "bitrateBps": 32000,
                     "jitterMs": 4.0},
        },
        "video": {
            "send": {"packets": 700, "packetsLost": 0, "bitrateBps": 900000, "rttMs": rtt_ms,
                     "width": 640, "height": 360, "frameRate": 25},
            "recv": {"packets": 700, "packetsLost": 0, "bitrateBps": 900000,
                     "width": 640, "height": 360, "frameRate": 25},
        },
        "codec": {"audio": "opus", "video": "VP8"},
    }


@pytest.fixture(scope="module")
def fleet(sqlite_server: RunningServer) -> tuple[str, list[str]]:  # noqa: F811
    """(crawler token, room ids) of a tenant with five one-minute calls of two participants,
    each room on a worse network than the one before (so that each has its own averages)."""
    tenant = sqlite_server.new_tenant()
    start_ms = int(time.time() * 1000) - 30 * 60 * 1000
    rooms = [f"room-{i}" for i in range(5)]
    items = [
        {"roomId": room, "participantId": pid, "participantName": pid.title(),
         "timestamp": start_ms + i * 120_000 + t * 1000,
         "sample": _sample(loss_pct=i * 2.0 + (1.0 if pid == "bob" else 0.0), rtt_ms=40 + 60 * i)}
        for i, room in enumerate(rooms)
        for pid in ("alice", "bob")
        for t in range(5, 65, 5)
    ]
    with sqlite_server.client(token=tenant.token(roles=("rtc",))) as client:
        answer = client.post("/v2/stats", json=items)
    assert answer.status_code == 202, answer.text
    return tenant.token(roles=("crawler",)), rooms


def _api(server: RunningServer, token: str, path: str) -> Any:
    with server.client(token=token) as client:
        answer = client.get(path)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _record_api_requests(page: Page) -> list[str]:
    """The path and query of every request the page makes to /v2/, in order."""
    seen: list[str] = []

    def note(request: Any) -> None:
        url = urlsplit(request.url)
        if url.path.startswith("/v2/"):
            seen.append(url.path + (f"?{url.query}" if url.query else ""))

    page.on("request", note)
    return seen


def _sign_in(page: Page, url: str, token: str) -> None:
    page.goto(f"{url}/dashboard#/sessions")  # the Overview is the first page
    page.fill("#token-input", token)
    page.click("#signin-form button")
    page.wait_for_selector("#sessions-body tr[data-session]")


def _open_session(page: Page) -> None:
    """Wait until the session page has its charts, its summary and its averages."""
    page.wait_for_function(CHARTS)
    page.wait_for_selector(SUMMARY)
    legend = QUALITY_LEGEND.format("Audio MOS")
    page.wait_for_function(
        f"() => /^\\d\\.\\d\\d$/.test(document.querySelector({legend!r})?.textContent)"
    )


def _screenshot(page: Page, name: str) -> None:
    path = artifact(name)
    page.screenshot(path=path)
    if os.environ.get("CALLQUALITY_DOC_SCREENSHOTS") == "1":
        DOC_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOC_SCREENSHOTS / name)


def _two(v: float | None) -> str:
    assert isinstance(v, float | int), "the API gave no average to compare with"
    return f"{v:.2f}"


def _cause(summary: dict[str, Any]) -> str:
    """The dashboard's one rule for 'Likely cause' (format.js causeText)."""
    if summary.get("likelyCause"):
        return str(summary["likelyCause"])
    if summary.get("badSeconds"):
        return "unclear"
    return "none" if summary.get("measuredSeconds") else "–"


def test_the_demo_session_on_a_laptop(
    sqlite_server: RunningServer, new_page: Any, demo: tuple[str, str]  # noqa: F811
) -> None:
    token, session_id = demo
    page = new_page(1280, 800)
    _sign_in(page, sqlite_server.url, token)
    assert page.evaluate("sessionStorage.getItem('callquality.token')") == token
    row = page.locator(f'tr[data-session="{session_id}"]')
    assert SCORE.match(row.locator(".avg-audio").inner_text())
    assert SCORE.match(row.locator(".avg-video").inner_text())

    # The search by room id.
    page.fill("#search-room", "no-such-room")
    page.click("#search-form button")
    page.wait_for_selector("#sessions-empty:not([hidden])")
    assert page.is_hidden("#sessions-table")
    page.fill("#search-room", "demo-room")
    page.click("#search-form button")
    page.wait_for_selector(f'tr[data-session="{session_id}"]')

    row.locator("a").click()
    _open_session(page)
    names = page.eval_on_selector_all(
        "#participants-body tr", "rows => rows.map(r => r.dataset.participant)"
    )
    assert sorted(names) == sorted(p[0] for p in PEOPLE)
    audio = {
        pid: float(page.inner_text(f'#participants-body tr[data-participant="{pid}"] .p-audio'))
        for pid in names
    }
    assert min(audio, key=audio.__getitem__) == "p-chloe"  # the one on a train
    assert page.locator("#events li").count() >= 2 * len(names) - 1
    assert SCORE.match(page.inner_text("[data-card=audio] .value"))
    # "Audio below 3.5" sums the participants' time: it says so.
    assert "participant time" in page.inner_text("[data-card=below] .detail")
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
    page.click(f'#sessions-body tr[data-session="{session_id}"] a')
    _open_session(page)
    page.wait_for_function(  # the charts take the column's width
        "() => [...document.querySelectorAll('.chart canvas')]"
        ".every(c => c.clientWidth >= 200 && c.clientWidth <= 390)"
    )
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scroll
    _screenshot(page, "dashboard-phone.png")
    page.screenshot(path=artifact("dashboard-phone-full.png"), full_page=True)


def test_the_sessions_list_shows_the_list_apis_averages_with_no_stats_request_per_row(
    sqlite_server: RunningServer, new_page: Any, fleet: tuple[str, list[str]]  # noqa: F811
) -> None:
    token, rooms = fleet
    listed = _api(sqlite_server, token, "/v2/sessions/?perPage=20")["data"]
    assert sorted(s["roomId"] for s in listed) == rooms
    page = new_page()
    requests = _record_api_requests(page)
    _sign_in(page, sqlite_server.url, token)
    page.wait_for_selector(f"#sessions-body tr[data-session] >> nth={len(rooms) - 1}")
    page.wait_for_timeout(500)  # anything the page would still fetch per row, it has asked for

    shown = set()
    for s in listed:
        row = page.locator(f'tr[data-session="{s["id"]}"]')
        shown.add((row.locator(".avg-audio").inner_text(), row.locator(".avg-video").inner_text()))
        assert row.locator(".avg-audio").inner_text() == _two(s["qualityScore"]["audio"])
        assert row.locator(".avg-video").inner_text() == _two(s["qualityScore"]["video"])
    assert len(shown) == len(rooms)  # five different calls, five different rows of averages
    # One request checks the token, one reads the list; none per row.
    assert [r.split("?")[0] for r in requests] == ["/v2/sessions/", "/v2/sessions/"], requests
    assert not [r for r in requests if "/stats" in r]


def test_the_session_page_makes_one_stats_request_and_its_card_and_legend_agree(
    sqlite_server: RunningServer, new_page: Any, demo: tuple[str, str]  # noqa: F811
) -> None:
    token, session_id = demo
    session = _api(sqlite_server, token, f"/v2/sessions/{session_id}")
    page = new_page()
    _sign_in(page, sqlite_server.url, token)
    requests = _record_api_requests(page)
    page.click(f'#sessions-body tr[data-session="{session_id}"] a')
    _open_session(page)
    page.wait_for_timeout(500)

    stats = [r for r in requests if "/stats" in r]
    assert len(stats) == 1 and "/participant/" not in stats[0], requests
    assert sorted(r.split("?")[0].rsplit("/", 1)[-1] for r in requests) == sorted(
        [session_id, "stats", "summary"]
    ), requests
    # The session's average: on the card, in the quality chart's legend, in the list's row.
    audio, video = _two(session["qualityScore"]["audio"]), _two(session["qualityScore"]["video"])
    assert page.inner_text("[data-card=audio] .value") == audio
    assert page.inner_text("[data-card=video] .value") == video
    assert page.inner_text(QUALITY_LEGEND.format("Audio MOS")) == audio
    assert page.inner_text(QUALITY_LEGEND.format("Video")) == video
    assert "session avg" in page.inner_text("[data-chart=quality] .chart-stats")
    # Each participant's average, from the same session object.
    for p in session["participants"]:
        row = f'#participants-body tr[data-participant="{p["participantId"]}"]'
        assert page.inner_text(f"{row} .p-audio") == _two(p["qualityScore"]["audio"])
        assert page.inner_text(f"{row} .p-video") == _two(p["qualityScore"]["video"])

    # One participant: one more stats request, and the legend gives that participant's average.
    chloe = next(p for p in session["participants"] if p["participantId"] == "p-chloe")
    page.click('#participants-body tr[data-participant="p-chloe"] .row-button')
    page.wait_for_function(
        "() => document.querySelector('[data-chart=quality] .chart-stats')"
        ".textContent.includes('participant avg')"
    )
    chloe_audio = _two(chloe["qualityScore"]["audio"])
    assert page.inner_text(QUALITY_LEGEND.format("Audio MOS")) == chloe_audio
    assert page.inner_text("[data-card=audio] .value") == audio  # the card stays the session's
    stats = [r for r in requests if "/stats" in r]
    assert len(stats) == 2 and "/participant/p-chloe/stats" in stats[1], requests


def test_the_likely_cause_follows_one_rule_on_the_card_and_in_the_rows(
    sqlite_server: RunningServer, new_page: Any  # noqa: F811
) -> None:
    """A call whose video is bad with no cause in sight (a 1280x720 picture starved at
    100 kbit/s on a clean network; docs/models.md judges a picture against libwebrtc's bitrate
    for its size, so a small one is no longer bad by its size) reads 'unclear' on the card and
    in that participant's row alike (issue 21: the card said 'unclear' while the rows said
    'none'); a clean participant reads 'none'."""
    tenant = sqlite_server.new_tenant()
    start_ms = int(time.time() * 1000) - 10 * 60 * 1000
    tiny = {"packets": 100, "packetsLost": 0, "bitrateBps": 100000, "width": 1280,
            "height": 720, "frameRate": 25}
    items = [
        {"roomId": "tiny-video", "participantId": "p-tiny", "timestamp": start_ms + t * 1000,
         "sample": {"intervalMs": 5000, "video": {"send": {**tiny, "rttMs": 50.0}, "recv": tiny},
                    "codec": {"video": "VP8"}}}
        for t in range(5, 65, 5)
    ] + [
        {"roomId": "tiny-video", "participantId": "p-clean", "timestamp": start_ms + t * 1000,
         "sample": _sample(loss_pct=0.0, rtt_ms=30.0)}
        for t in range(5, 65, 5)
    ]
    with sqlite_server.client(tenant) as client:
        assert client.post("/v2/stats", json=items).status_code == 202
    token = tenant.token(roles=("crawler",))
    session_id = _api(sqlite_server, token, "/v2/sessions/")["data"][0]["id"]
    summary = _api(sqlite_server, token, f"/v2/sessions/{session_id}/summary")
    expected = {p["participantId"]: _cause(p) for p in summary["participants"]}
    assert expected == {"p-tiny": "unclear", "p-clean": "none"}  # what the rule gives here

    page = new_page()
    _sign_in(page, sqlite_server.url, token)
    page.click(f'#sessions-body tr[data-session="{session_id}"] a')
    page.wait_for_selector(SUMMARY)
    page.wait_for_function("() => [...document.querySelectorAll('#participants-body .p-cause')]"
                           ".every(e => e.textContent !== '–')")
    assert page.inner_text("[data-card=cause] .value") == _cause(summary["session"]) == "unclear"
    shown = {
        pid: page.inner_text(f'#participants-body tr[data-participant="{pid}"] .p-cause')
        for pid in expected
    }
    assert shown == expected


def test_keyboard_alone_signs_in_opens_a_session_and_charts_a_participant(
    sqlite_server: RunningServer, new_page: Any, demo: tuple[str, str]  # noqa: F811
) -> None:
    token, session_id = demo
    page = new_page()
    page.goto(f"{sqlite_server.url}/dashboard#/sessions")
    focused: Callable[[], Any] = lambda: page.evaluate(  # noqa: E731
        "() => ({id: document.activeElement.id, tag: document.activeElement.tagName,"
        " text: document.activeElement.textContent.trim(),"
        " href: document.activeElement.getAttribute('href')})"
    )
    page.wait_for_function("() => document.activeElement.id === 'token-input'")
    page.keyboard.insert_text(token)
    page.keyboard.press("Tab")
    assert focused()["tag"] == "BUTTON"
    page.keyboard.press("Enter")
    page.wait_for_selector(f'tr[data-session="{session_id}"]')
    assert focused()["id"] == "sessions-title"  # focus moved to the new view's heading

    for _ in range(30):  # Tab through the form to the session's link
        page.keyboard.press("Tab")
        if focused()["href"] == f"#/sessions/{session_id}":
            break
    else:
        raise AssertionError(f"no Tab stop on the session's link; focus is on {focused()}")
    page.keyboard.press("Enter")
    page.wait_for_selector("#view-session:not([hidden])")
    assert focused()["id"] == "session-title"
    page.wait_for_function("() => document.activeElement.textContent === 'demo-room'")
    _open_session(page)

    for _ in range(40):  # on to the first participant's button
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.classList.contains('row-button')"):
            break
    else:
        raise AssertionError(f"no Tab stop on a participant; focus is on {focused()}")
    pid = page.evaluate("document.activeElement.closest('tr').dataset.participant")
    page.keyboard.press("Enter")
    page.wait_for_selector(f'#participants-body tr.selected[data-participant="{pid}"]')
    assert page.evaluate("document.activeElement.getAttribute('aria-pressed')") == "true"
    assert page.input_value("#participant-select") == pid
    page.keyboard.press("Space")  # the same button again: back to the whole session
    page.wait_for_function("() => !document.querySelector('#participants-body tr.selected')")
    assert page.input_value("#participant-select") == ""

    page.go_back()  # the browser's back: the list again, focus on its heading
    page.wait_for_selector("#view-sessions:not([hidden])")
    page.wait_for_function("() => document.activeElement.id === 'sessions-title'")


def test_a_bad_session_id_shows_its_error_alone(
    sqlite_server: RunningServer, new_page: Any, demo: tuple[str, str]  # noqa: F811
) -> None:
    token, session_id = demo
    page = new_page()
    _sign_in(page, sqlite_server.url, token)
    # A good session first: nothing of it stays.
    page.click(f'#sessions-body tr[data-session="{session_id}"] a')
    _open_session(page)
    page.evaluate("location.hash = '#/sessions/no-such-session'")
    page.wait_for_selector("#session-error:not([hidden])")
    lines = [line.strip() for line in page.inner_text("#view-session").splitlines() if line.strip()]
    assert lines == [
        "← Sessions", "No such session", "No such session for this token: no-such-session"
    ]
    for frame in ("#session-content", "#summary-cards", "#charts", "#participants-table",
                  "#session-controls", "#events", "#session-status"):
        assert page.is_hidden(frame), frame
    assert page.is_hidden("#view-sessions") and page.is_hidden("#view-signin")
    assert page.inner_text("#top-note") == ""  # not the room of the page before
    assert page.evaluate("document.activeElement.id") == "session-title"

    # The good session again shows its page in full.
    page.click("#back-link")
    page.click(f'#sessions-body tr[data-session="{session_id}"] a')
    _open_session(page)
    assert page.is_hidden("#session-error") and page.is_visible("#participants-table")
    assert page.inner_text("#top-note") == "demo-room"


def test_only_the_status_line_and_the_errors_are_live_regions(
    sqlite_server: RunningServer, new_page: Any, demo: tuple[str, str]  # noqa: F811
) -> None:
    token, session_id = demo
    page = new_page()
    _sign_in(page, sqlite_server.url, token)
    page.wait_for_function("() => /^\\d+ sessions?, page 1 of 1\\.$/"
                           ".test(document.querySelector('#status').textContent)")
    page.click(f'#sessions-body tr[data-session="{session_id}"] a')
    _open_session(page)
    live = page.eval_on_selector_all(
        "[aria-live], [role=status], [role=alert], [role=log]",
        "els => els.map(e => ({id: e.id, tables: e.querySelectorAll('table, canvas').length}))",
    )
    assert sorted(e["id"] for e in live) == sorted(
        ["status", "signin-error", "overview-error", "sessions-error", "session-error",
         "webhooks-error"]
    )
    assert all(e["tables"] == 0 for e in live)
    assert page.inner_text("#status") == "Session of room demo-room, ended."


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
    refusal = httpx.get(f"{sqlite_server.url}/v2/sessions/?perPage=1",
                        headers={"Authorization": rtc_only})
    assert refusal.status_code == 403
    page.fill("#token-input", rtc_only)
    page.click("#signin-form button")
    page.wait_for_function(
        "() => document.querySelector('#signin-error').textContent.includes('crawler')"
    )
    text = page.inner_text("#signin-error")
    assert text == refusal.json()["message"]  # the server's reason, once
    assert text.count("crawler") == 1
    assert page.evaluate("sessionStorage.length") == 0


def test_the_participant_table_shows_each_ones_connection(
    sqlite_server: RunningServer, new_page: Any  # noqa: F811
) -> None:
    """Raw Chromium reports carry the selected candidate pair: the row says its local
    candidate's type and protocol as the API's `connection` has them (issue 15)."""
    snapshots = json.loads((FIXTURES / "chromium-156-loopback-getstats.json").read_text())
    tenant = sqlite_server.new_tenant()
    shift = int(time.time() * 1000) - 10 * 60 * 1000 - snapshots[0]["t"]
    items = [{"roomId": "conn-room", "participantId": "sender", "peerConnectionId": "a",
              "timestamp": snap["t"] + shift, "report": snap["a"]} for snap in snapshots]
    with sqlite_server.client(tenant) as client:
        assert client.post("/v2/stats", json=items).status_code == 202
    token = tenant.token(roles=("crawler",))
    session_id = _api(sqlite_server, token, "/v2/sessions/")["data"][0]["id"]
    (person,) = _api(sqlite_server, token, f"/v2/sessions/{session_id}")["participants"]
    connection = person["connection"]
    assert connection["candidateType"] == "host"  # a loopback call

    page = new_page()
    _sign_in(page, sqlite_server.url, token)
    page.click(f'#sessions-body tr[data-session="{session_id}"] a')
    cell = '#participants-body tr[data-participant="sender"] .p-connection'
    page.wait_for_function(f"() => document.querySelector('{cell}')?.textContent.length > 1")
    assert page.inner_text(cell) == f"host ({connection['protocol']})" + (
        f", {connection['networkType']}" if connection["networkType"] else ""
    )
