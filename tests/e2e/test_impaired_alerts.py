"""The issue's alert on real impaired calls: "audio MOS < 3.0 over 30 s" fires once on the
harness's 15 %-loss call and resolves once after the loss, and never fires on the clean call.

Two aiortc calls (tests/support/calls.py: two peer connections in this process, Opus both
ways, every packet through the harness's ImpairedPath), recorded at once to keep CI short,
audio only (the rule reads audio): ``clean`` (30 s, nothing injected) and ``lossy`` (50 s:
15 % of RTP/RTCP packets dropped each way for the first 28 s, then nothing while the call
goes on). Each poll's reports are POSTed to a real server, as a collector would; the rule
notifies a real webhook receiver on a loopback port.

"After it" is the documented hysteresis (docs/webhooks.md): the rule resolves once the 30-s
window's mean MOS is back at 3.15 or more, which 15 %-loss audio (aiortc reports no
concealment, so the E-model takes the network loss) followed by clean audio reaches some
12-14 s after the loss ends (measured), while the call goes on: ``reason: recovered``, not the
session's end.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from support.calls import RecordedCall, post_call, record_aiortc_calls
from support.receiver import Receiver, receiving
from support.server import RunningServer, serve

from callquality.config import Settings

pytestmark = pytest.mark.slow

RULE = {"name": "bad audio", "metric": "audioMos", "operator": "<", "threshold": 3.0,
        "windowS": 30}
LOSS_FOR_S = 28
SPECS: dict[str, dict[str, Any]] = {
    "clean": {"secs": 30, "video": False},
    "lossy": {"loss": 0.15, "loss_for_s": LOSS_FOR_S, "secs": 50, "video": False, "seed": 15},
}


@pytest.fixture(scope="module")
def calls() -> dict[str, RecordedCall]:
    recorded = record_aiortc_calls(SPECS, together=True)
    for call in recorded.values():
        print(call.summary())
    return recorded


@pytest.fixture(scope="module")
def alert_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A server on its own SQLite file (its delivery worker alone on it), loopback
    receivers allowed."""
    db = tmp_path_factory.mktemp("impaired-alerts") / "cq.db"
    with serve(Settings(database_url=f"sqlite:///{db}", webhook_allow_private_urls=True,
                        webhook_poll_s=0.05)) as running:
        yield running


def _ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


def _alerts(rec: Receiver, room: str) -> list[dict[str, Any]]:
    return [b for b in rec.bodies() if b["webhookType"].startswith("quality-alert")
            and b["data"]["meetingId"] == room]


def test_the_mos_rule_fires_once_on_the_15_percent_loss_call_resolves_once_after_and_never_on_the_clean_call(  # noqa: E501
    alert_server: RunningServer, calls: dict[str, RecordedCall]
) -> None:
    clean, lossy = calls["clean"], calls["lossy"]
    assert lossy.loss_ended_ms is not None
    # Long enough for 30-s windows to be judged (80 % coverage: 24 s of samples).
    assert clean.snapshots[-1].t_ms - clean.t0_ms >= 28_000
    tenant = alert_server.new_tenant()
    client = alert_server.client(tenant)
    rooms = {name: f"alert-{name}-{uuid.uuid4().hex[:6]}" for name in calls}
    with receiving() as rec:
        webhook = client.post("/v2/webhooks", json={"url": rec.url}).json()
        made = client.post("/v2/alertRules", json={**RULE, "webhookIds": [webhook["id"]]})
        assert made.status_code == 201, made.text
        sessions = {name: post_call(client, call, rooms[name]) for name, call in calls.items()}
        rec.wait_for(lambda got: len([r for r in got if r.json["webhookType"]
                                      == "quality-alert-resolved"]) >= 2, timeout_s=30)
        for room in rooms.values():
            assert client.post("/v2/sessions/end", json={"roomId": room}).status_code == 200
        rec.wait_for(lambda got: [r.json["webhookType"] for r in got].count("session-ended")
                     == 2, timeout_s=30)

    # The clean call: judged (its audio was clean throughout), never fired.
    assert _alerts(rec, rooms["clean"]) == []
    for p in clean.participants:
        stats = client.get(f"/v2/sessions/{sessions['clean']}/participant/{p}/stats",
                           params={"interval": 5}).json()["stats"]
        scores = [s["qualityScore"]["audio"] for s in stats]
        assert scores and None not in scores and min(scores) > 3.15, (p, scores)

    # The lossy call: each participant received the loss; each fired once, resolved once.
    got = _alerts(rec, rooms["lossy"])
    print("lossy call alerts (s from the first poll; the loss ended at",
          (lossy.loss_ended_ms - lossy.t0_ms) / 1000, "s):",
          [(a["webhookType"], a["data"]["participantId"], a["data"]["value"],
            (_ms(a["data"]["end"] or a["data"]["start"]) - lossy.t0_ms) / 1000) for a in got])
    for p in lossy.participants:
        mine = [a for a in got if a["data"]["participantId"] == p]
        assert [(a["webhookType"], a["data"].get("reason")) for a in mine] == [
            ("quality-alert", None), ("quality-alert-resolved", "recovered")], (p, mine)
        fired, resolved = (a["data"] for a in mine)
        assert fired["alertId"] == resolved["alertId"]
        assert fired["value"] < 3.0 and resolved["value"] >= 3.15, (fired, resolved)
        # Fired during the loss, once a window was covered; resolved after it, within
        # one window.
        assert lossy.t0_ms + 20_000 <= _ms(fired["start"]) <= lossy.loss_ended_ms, fired
        assert lossy.loss_ended_ms < _ms(resolved["end"]) <= lossy.loss_ended_ms + 30_000
    assert len(got) == 2 * len(lossy.participants)
