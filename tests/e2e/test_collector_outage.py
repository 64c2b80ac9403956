"""The collector when the server is away: a restart mid-call, failing answers, page exit."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import support.server as support_server
from browser_kit import (  # noqa: F401 (fixtures)
    PageHost,
    chromium,
    new_page,
    open_call_page,
    page_host,
    sqlite_server,
    wait_until,
)
from playwright.sync_api import Page, Route
from sqlalchemy import select
from support.server import RunningServer, serve

from callquality.config import Settings
from callquality.store.db import read_transaction
from callquality.store.schema import samples

pytestmark = pytest.mark.browser

OUTAGE_S = 7


def _now_ms() -> int:
    return int(time.time() * 1000)


def _timestamps(server: RunningServer, session_id: str, participant_id: str) -> list[int]:
    """The stored reports' timestamps of one participant."""
    with read_transaction(server.engine) as conn:  # type: ignore[arg-type]
        rows = conn.execute(
            select(samples.c.timestamp_ms)
            .where(
                samples.c.session_id == session_id, samples.c.participant_id == participant_id
            )
            .order_by(samples.c.timestamp_ms)
        )
        return [int(r[0]) for r in rows]


def _collector(page: Page) -> dict[str, Any]:
    stats: dict[str, Any] = page.evaluate("collectorStats()")
    return stats


def test_the_queue_fills_the_gap_of_a_server_restart(
    new_page: Any, page_host: PageHost, tmp_path: Path, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    port = support_server.free_port()
    monkeypatch.setattr(support_server, "free_port", lambda: port)  # the same port twice
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'cq.db'}")
    room = f"e2e-restart-{uuid.uuid4().hex[:8]}"
    page = new_page()
    with serve(settings) as first:
        tenant = first.new_tenant()
        open_call_page(page, page_host, f"{first.url}/collector.js")
        page.evaluate(
            "o => startCall(o)",
            {
                "endpoint": first.url,
                "roomId": room,
                "intervalMs": 1000,
                "tokens": {"a": tenant.token(roles=("rtc",)), "b": tenant.token(roles=("rtc",))},
                "options": {"backoffMs": 250, "maxBackoffMs": 1000},
            },
        )
        wait_until(page, lambda: _collector(page)["a"]["sent"] >= 3, 15, "nothing sent")
    down_ms = _now_ms()
    page.wait_for_timeout(OUTAGE_S * 1000)
    during = _collector(page)
    up_ms = _now_ms()
    for side in ("a", "b"):
        assert during[side]["queued"] >= OUTAGE_S - 2, during
        assert during[side]["failures"] >= 2, during

    with serve(settings) as second:
        drained = wait_until(
            page,
            lambda: (s := _collector(page))["a"]["queued"] == s["b"]["queued"] == 0 and s,
            15,
            "the queue did not drain after the restart",
        )
        assert drained["a"]["dropped"] == drained["b"]["dropped"] == 0
        crawler = second.client(token=tenant.token(roles=("crawler",)))
        (session,) = crawler.get("/v2/sessions/", params={"roomId": room}).json()["data"]
        for participant in ("alice", "bob"):
            stamps = _timestamps(second, session["id"], participant)
            inside = [t for t in stamps if down_ms < t < up_ms]
            assert len(inside) >= OUTAGE_S - 2, (participant, inside)
            # One report a second throughout: no hole where the server was away.
            around = [t for t in stamps if down_ms - 2000 <= t <= up_ms + 2000]
            gaps = [b - a for a, b in zip(around, around[1:], strict=False)]
            assert max(gaps) <= 2000, (participant, gaps)
        stats = crawler.get(f"/v2/sessions/{session['id']}/stats?interval=5").json()["stats"]
        outage = [b for b in stats if down_ms < _ms(b["time"]) + 5000 and _ms(b["time"]) < up_ms]
        assert len(outage) >= OUTAGE_S // 5, "no bucket in the outage"
        for bucket in outage:
            assert bucket["averageSendAudioBitrate"] is not None, bucket
            assert bucket["averageRecvVideoBitrate"] is not None, bucket
            assert isinstance(bucket["qualityScore"]["audio"], float), bucket
    page.evaluate("pcs.a.close(); pcs.b.close()")


def _ms(iso: str) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


RETRY_PAGE = """<!doctype html><meta charset="utf-8"><title>retry</title>
<script src="{collector}"></script>
<script>
  window.start = (o) => {{
    window.pc = new RTCPeerConnection();
    window.h = callquality.monitor(window.pc, Object.assign({{
      endpoint: {endpoint}, token: 'tok-1', roomId: 'r1', participantId: 'p1',
      intervalMs: 300, backoffMs: 100, maxBackoffMs: 400, maxQueue: 4}}, o));
  }};
</script>"""


class FakeServer:
    """Answers POST /v2/stats through a Playwright route, with a status the test sets."""

    def __init__(self) -> None:
        self.status = 503
        self.retry_after: str | None = "1"
        self.requests: list[tuple[float, int, str | None, list[dict[str, Any]]]] = []

    def __call__(self, route: Route) -> None:
        request = route.request
        if request.method == "OPTIONS":
            route.fulfill(status=204, headers=self._cors())
            return
        items = json.loads(request.post_data or "[]")
        self.requests.append(
            (time.monotonic(), self.status, request.headers.get("authorization"), items)
        )
        headers = self._cors()
        if self.retry_after is not None:
            headers["Retry-After"] = self.retry_after
        body = {"accepted": len(items), "duplicates": 0} if self.status < 300 else {
            "statusCode": self.status, "error": "test", "message": "from the test"}
        route.fulfill(status=self.status, headers=headers, json=body)

    @staticmethod
    def _cors() -> dict[str, str]:
        return {
            "Access-Control-Allow-Origin": "*",
            "Access-Control-Allow-Headers": "Authorization, Content-Type",
            "Access-Control-Expose-Headers": "Retry-After",
        }

    def count(self, status: int) -> int:
        return sum(1 for r in self.requests if r[1] == status)


def test_retries_follow_retry_after_the_queue_is_bounded_and_4xx_is_dropped(
    sqlite_server: RunningServer, new_page: Any, page_host: PageHost  # noqa: F811
) -> None:
    page = new_page()
    fake = FakeServer()
    page.route("**/v2/stats", fake)
    url = page_host.add(
        "/retry.html",
        RETRY_PAGE.format(
            collector=f"{sqlite_server.url}/collector.js",
            endpoint=json.dumps(sqlite_server.url + "/"),
        ),
    )
    page.goto(url)
    # Bad arguments give an inert handle and a console warning, never an exception.
    inert = page.evaluate(
        "() => [callquality.monitor(null, {}).stats(), callquality.monitor(new RTCPeerConnection(),"
        " {endpoint: 'x'}).stats()]"
    )
    assert all(s["stopped"] and s["lastError"] for s in inert), inert
    page.evaluate("start({})")

    # 503 with Retry-After: 1 s between attempts, whatever the 100 ms backoff says.
    wait_until(page, lambda: fake.count(503) >= 3, 10, "too few attempts")
    times = [r[0] for r in fake.requests]
    assert all(b - a >= 0.9 for a, b in zip(times, times[1:], strict=False)), times
    stats = page.evaluate("h.stats()")
    assert stats["queued"] <= 4 and stats["dropped"] >= 1 and stats["sent"] == 0, stats
    assert stats["failures"] >= 3 and stats["lastError"] == "HTTP 503"

    # 429 is retried too.
    fake.status = 429
    wait_until(page, lambda: fake.count(429) >= 1, 5, "no attempt after 429")

    # Accepted: the queue drains, oldest first, in order.
    fake.status, fake.retry_after = 202, None
    page.evaluate("h.flush()")
    stats = wait_until(
        page, lambda: (s := page.evaluate("h.stats()"))["queued"] == 0 and s["sent"] and s, 5, ""
    )
    accepted = [item for r in fake.requests if r[1] == 202 for item in r[3]]
    assert stats["sent"] == len(accepted)
    stamps = [item["timestamp"] for item in accepted]
    assert stamps == sorted(stamps)
    item = accepted[0]
    assert (item["roomId"], item["participantId"]) == ("r1", "p1")
    assert item["peerConnectionId"].startswith("pc-")
    # The fake connection's only stats object is a peer-connection, a type the server does
    # not read: the collector (fields 'read', the default) leaves it out of the report.
    assert item["report"] == []
    assert all(r[2] == "tok-1" for r in fake.requests)  # the token, in Authorization
    assert all(r[3] for r in fake.requests)  # no empty batch

    # 401: the batch is dropped, not retried.
    fake.status = 401
    wait_until(page, lambda: fake.count(401) >= 1, 5, "no request after 401")
    page.wait_for_timeout(200)
    rejected = fake.requests[[r[1] for r in fake.requests].index(401)][3]
    stats = page.evaluate("h.stats()")
    assert stats["rejected"] >= len(rejected), stats
    later = [r for r in fake.requests if r[1] == 401][1:]
    first_stamps = {i["timestamp"] for i in rejected}
    assert all(not first_stamps & {i["timestamp"] for i in r[3]} for r in later)

    # stop(): nothing more.
    page.evaluate("h.stop()")
    # A request the collector sent just before stop() may still be on its way (CI once saw
    # one land after it): let it land, then nothing more may come.
    page.wait_for_timeout(1000)
    before = len(fake.requests)
    page.wait_for_timeout(1000)
    assert len(fake.requests) == before


def test_page_exit_sends_the_newest_reports_with_keepalive(
    sqlite_server: RunningServer, new_page: Any, page_host: PageHost  # noqa: F811
) -> None:
    tenant = sqlite_server.new_tenant()
    room = f"e2e-exit-{uuid.uuid4().hex[:8]}"
    page = new_page()
    fake = FakeServer()
    fake.retry_after = "60"  # nothing is retried before the page leaves
    page.route("**/v2/stats", fake)
    open_call_page(page, page_host, f"{sqlite_server.url}/collector.js")
    page.evaluate(
        "o => startCall(o)",
        {
            "endpoint": sqlite_server.url,
            "roomId": room,
            "intervalMs": 500,
            "tokens": {"a": tenant.token(roles=("rtc",)), "b": tenant.token(roles=("rtc",))},
        },
    )
    wait_until(page, lambda: _collector(page)["a"]["queued"] >= 4, 10, "no queue")
    queued = _collector(page)
    assert queued["a"]["sent"] == queued["b"]["sent"] == 0
    left_ms = _now_ms()
    page.unroute("**/v2/stats")
    page.goto("about:blank")  # pagehide: one keepalive request per monitor
    crawler = sqlite_server.client(token=tenant.token(roles=("crawler",)))

    def stored() -> dict[str, Any] | None:
        listed = crawler.get("/v2/sessions/", params={"roomId": room}).json()["data"]
        ok = listed and len(listed[0]["participants"]) == 2
        return listed[0] if ok else None

    session = wait_until(page, stored, 10, "nothing arrived on page exit")
    for participant in ("alice", "bob"):
        newest = _timestamps(sqlite_server, session["id"], participant)[-1]
        assert newest >= left_ms - 1500, (participant, newest, left_ms)
