"""A real call in headless Chromium, monitored by /collector.js, read back over the API and on
the dashboard; on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from browser_kit import (  # noqa: F401 (fixtures)
    PageHost,
    artifact,
    chromium,
    new_page,
    open_call_page,
    page_host,
    wait_until,
)
from sqlalchemy import func, select
from support.server import RunningServer

from callquality.store.db import read_transaction
from callquality.store.schema import samples

pytestmark = pytest.mark.browser

BITRATES = (
    "averageSendAudioBitrate",
    "averageRecvAudioBitrate",
    "averageSendVideoBitrate",
    "averageRecvVideoBitrate",
)
NUMBER = re.compile(r"^\d+(\.\d+)?$")


def _complete(bucket: dict[str, Any]) -> bool:
    score = bucket["qualityScore"]
    return all(bucket[k] is not None for k in BITRATES) and all(
        isinstance(score[k], float) for k in ("audio", "video")
    )


def _stored(server: RunningServer, session_id: str) -> tuple[int, int]:
    """(rows, newest timestamp_ms) of the session's stored reports."""
    with read_transaction(server.engine) as conn:  # type: ignore[arg-type]
        rows, newest = conn.execute(
            select(func.count(), func.max(samples.c.timestamp_ms)).where(
                samples.c.session_id == session_id
            )
        ).one()
    return int(rows), int(newest)


def test_a_monitored_call_is_in_the_stats_and_on_the_dashboard_and_stops_at_close(
    server: RunningServer, new_page: Any, page_host: PageHost  # noqa: F811
) -> None:
    backend = "postgresql" if server.settings.database_url.startswith("postgresql") else "sqlite"
    tenant = server.new_tenant()
    room = f"e2e-call-{uuid.uuid4().hex[:8]}"
    page = new_page()
    # The page's origin is not the server's: the collector posts cross-origin, through CORS
    # preflights, as it does from a customer's site.
    open_call_page(page, page_host, f"{server.url}/collector.js")
    tokens = {
        side: tenant.token(roles=("rtc",), room_id=room, participant_id=pid)
        for side, pid in (("a", "alice"), ("b", "bob"))
    }
    page.evaluate(
        "o => startCall(o)",
        {"endpoint": server.url, "roomId": room, "intervalMs": 1000, "tokens": tokens},
    )
    crawler_token = tenant.token(roles=("crawler",))
    crawler = server.client(token=crawler_token)

    def complete_session() -> tuple[str, list[dict[str, Any]]] | None:
        listed = crawler.get("/v2/sessions/", params={"roomId": room}).json()["data"]
        if not listed:
            return None
        session_id = listed[0]["id"]
        answer = crawler.get(f"/v2/sessions/{session_id}/stats", params={"interval": 5})
        stats = answer.json()["stats"]
        return (session_id, stats) if sum(map(_complete, stats)) >= 1 else None

    page.wait_for_timeout(7000)
    session_id, stats = wait_until(page, complete_session, 15, "no bucket with audio and video")
    bucket = next(b for b in stats if _complete(b))
    assert 1.0 <= bucket["qualityScore"]["audio"] <= 4.5
    assert 1.0 <= bucket["qualityScore"]["video"] <= 5.0
    assert bucket["averageSendVideoBitrate"] > 10_000  # fake 320×240 video, bit/s
    session = crawler.get(f"/v2/sessions/{session_id}").json()
    names = {p["participantId"]: p["name"] for p in session["participants"]}
    assert names == {"alice": "Alice", "bob": "Bob"}
    alice = crawler.get(f"/v2/sessions/{session_id}/participant/alice/stats?interval=5").json()
    assert any(_complete(b) for b in alice["stats"])

    collector = page.evaluate("collectorStats()")
    for side in ("a", "b"):
        assert collector[side]["sent"] >= 6, collector
        assert collector[side]["failures"] == collector[side]["dropped"] == 0, collector
    assert collector["a"]["peerConnectionId"] == "alice-pc"
    assert collector["b"]["peerConnectionId"].startswith("pc-")  # generated
    posts = page.evaluate("fetchLog")
    assert posts and all(p["url"] == f"{server.url}/v2/stats" for p in posts)

    # The dashboard, signed in with a link carrying the token, charts the live session.
    board = new_page()
    board.goto(f"{server.url}/dashboard#token={crawler_token}")
    board.goto(f"{server.url}/dashboard#/sessions")  # the sessions list (#/ is the Overview)
    board.click(f'#sessions-body tr[data-session="{session_id}"] a')
    board.wait_for_function(  # a function, not a string: the dashboard's CSP forbids eval
        "() => document.querySelectorAll('#view-session .chart canvas').length >= 6 && "
        "document.querySelector('[data-chart=quality] .avg') !== null"
    )
    charts = board.eval_on_selector_all(
        "#view-session .chart", "els => els.map(e => e.dataset.chart)"
    )
    assert charts == ["quality", "loss", "rtt", "jitter", "video-bitrate", "audio-bitrate"]
    for chart in charts:
        assert board.locator(f"[data-chart='{chart}'] canvas").count() >= 1
    legend = board.eval_on_selector_all(
        "[data-chart=quality] .series-stat",
        "els => els.map(e => [e.dataset.series, e.querySelector('.avg').textContent])",
    )
    assert [name for name, _ in legend] == ["Audio MOS", "Video"]
    assert all(NUMBER.match(value) for _, value in legend), legend
    assert board.locator("#participants-body tr").count() == 2
    assert board.evaluate("sessionStorage.getItem('callquality.token')") == crawler_token
    assert board.evaluate("localStorage.length") == 0
    assert "token=" not in board.url  # taken out of the address bar
    board.screenshot(path=artifact(f"dashboard-live-call-{backend}.png"), full_page=True)

    # Closing the peer connections stops the monitors: nothing is sampled or sent after.
    closed = page.evaluate(
        """async () => {
          await Promise.all([handles.a.flush(), handles.b.flush()]);
          const at = {t: performance.now(), ms: Date.now()};
          pcs.a.close();
          pcs.b.close();
          return at;
        }"""
    )
    rows_at_close, _ = _stored(server, session_id)
    page.wait_for_timeout(3000)
    late = page.evaluate("t => fetchLog.filter(p => p.t > t)", closed["t"])
    assert late == [], f"requests after pc.close(): {late}"
    rows, newest = _stored(server, session_id)
    assert rows == rows_at_close and newest <= closed["ms"]
    final = page.evaluate("collectorStats()")
    assert final["a"]["stopped"] and final["b"]["stopped"] and final["a"]["queued"] == 0
    assert page.evaluate("pcs.a.signalingState") == "closed"  # close() itself still works
