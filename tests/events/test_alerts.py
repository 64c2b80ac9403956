"""Alert rules judged as reports arrive: "audio MOS < 3.0 over 30 s" fires once on a call
whose received audio loses 15 %, resolves once after it, and never fires on a clean call;
absent data fires from the sweep; Janus events are judged, imports never; bad rules are
400s naming the field."""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from conftest import FIXTURES
from servers import events_db_fixture, events_server_fixture  # noqa: F401 (fixtures)
from support.items import sample_item
from support.receiver import Receiver, receiving
from support.server import RunningServer, Tenant

RULE = {"name": "bad audio", "metric": "audioMos", "operator": "<", "threshold": 3.0,
        "windowS": 30, "severity": "critical"}
# 5-s steps: 30 s clean, 60 s with 15 % of alice's received audio lost, 60 s clean.
CLEAN, LOSSY, AFTER = 6, 12, 12
LOST_OF_250 = 38  # 15 % of the 250 packets a 5-s sample carries (support/items.py)


def _alerts(rec: Receiver) -> list[dict[str, Any]]:
    return [b for b in rec.bodies() if b["webhookType"].startswith("quality-alert")]


def _post_call(client: Any, room: str, lossy: bool, *, until_end: bool = False) -> int:
    steps = CLEAN + LOSSY + (0 if until_end else AFTER)
    start = int(time.time() * 1000) - steps * 5000
    for step in range(steps):
        lost = LOST_OF_250 if lossy and CLEAN <= step < CLEAN + LOSSY else 0
        items = [sample_item(room, "alice", start + step * 5000, audio_recv_lost=lost),
                 sample_item(room, "bob", start + step * 5000)]
        assert client.post("/v2/stats", json=items).status_code == 202
    return start


def _setup(server: RunningServer, rec: Receiver, rule: dict[str, Any],
           tenant: Tenant | None = None) -> Any:
    client = server.client(tenant or server.new_tenant())
    webhook = client.post("/v2/webhooks", json={"url": rec.url}).json()
    made = client.post("/v2/alertRules", json={**rule, "webhookIds": [webhook["id"]]})
    assert made.status_code == 201, made.text
    if "hysteresis" not in rule:
        assert made.json()["hysteresis"] == pytest.approx(0.05 * rule["threshold"])
    return client


def test_audio_mos_rule_fires_once_on_15_percent_loss_and_resolves_once_after(
    events_server: RunningServer,
) -> None:
    with receiving() as rec:
        client = _setup(events_server, rec, RULE)
        start = _post_call(client, "lossy-room", lossy=True)
        rec.wait_for(lambda got: len([r for r in got if "alert" in r.json["webhookType"]]) >= 2)
        assert client.post("/v2/sessions/end", json={"roomId": "lossy-room"}).status_code == 200
        rec.wait_for(lambda got: got[-1].json["webhookType"] == "session-ended")
    alerts = _alerts(rec)
    assert [a["webhookType"] for a in alerts] == ["quality-alert", "quality-alert-resolved"]
    fired, resolved = (a["data"] for a in alerts)
    assert fired["participantId"] == resolved["participantId"] == "alice"  # bob was clean
    assert fired["alertId"] == resolved["alertId"] and resolved["reason"] == "recovered"
    assert fired["value"] < 3.0 <= 3.15 <= resolved["value"]
    assert (fired["metric"], fired["severity"], fired["ruleName"]) == (
        "audioMos", "critical", "bad audio")
    # It fired once the 30-s window was mostly lossy, after the loss began, and resolved
    # once the window was mostly clean again, after the loss ended.
    from datetime import datetime

    def ms(iso: str) -> int:
        return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)

    loss_from, loss_to = start + CLEAN * 5000, start + (CLEAN + LOSSY) * 5000
    assert loss_from < ms(fired["start"]) <= loss_from + 30_000
    assert loss_to < ms(resolved["end"]) <= loss_to + 30_000
    # The session events around it are all there, the alerts between joined and left.
    kinds = [b["webhookType"] for b in rec.bodies()]
    assert kinds.index("quality-alert") > kinds.index("participant-joined")
    assert kinds.count("session-ended") == 1


def test_poor_stream_share_fires_and_resolves_by_the_summarys_classification(
    events_server: RunningServer,
) -> None:
    rule = {"metric": "poorStreamSharePct", "operator": ">", "threshold": 50, "windowS": 30}
    with receiving() as rec:
        client = _setup(events_server, rec, rule)
        _post_call(client, "poor-share-room", lossy=True)
        rec.wait_for(lambda got: len([r for r in got if "alert" in r.json["webhookType"]]) >= 2)
        client.post("/v2/sessions/end", json={"roomId": "poor-share-room"})
        rec.wait_for(lambda got: got[-1].json["webhookType"] == "session-ended")
    alerts = _alerts(rec)
    assert [(a["webhookType"], a["data"]["participantId"]) for a in alerts] == [
        ("quality-alert", "alice"), ("quality-alert-resolved", "alice")]
    # 15 % received audio loss is poor audio (scoring/classify.py: loss > 10 %).
    assert alerts[0]["data"]["value"] > 50 >= 47.5 >= alerts[1]["data"]["value"]


def test_audio_mos_rule_does_not_fire_on_a_clean_call(events_server: RunningServer) -> None:
    with receiving() as rec:
        client = _setup(events_server, rec, RULE)
        _post_call(client, "clean-room", lossy=False)
        assert client.post("/v2/sessions/end", json={"roomId": "clean-room"}).status_code == 200
        rec.wait_for(lambda got: bool(got) and got[-1].json["webhookType"] == "session-ended")
    assert _alerts(rec) == []


def test_an_alert_firing_when_its_session_ends_is_resolved_by_the_end(
    events_server: RunningServer,
) -> None:
    with receiving() as rec:
        client = _setup(events_server, rec, RULE)
        _post_call(client, "ends-lossy", lossy=True, until_end=True)
        rec.wait_for(lambda got: any(r.json["webhookType"] == "quality-alert" for r in got))
        assert client.post("/v2/sessions/end", json={"roomId": "ends-lossy"}).status_code == 200
        rec.wait_for(lambda got: got[-1].json["webhookType"] == "session-ended")
    alerts = _alerts(rec)
    assert [(a["webhookType"], a["data"].get("reason")) for a in alerts] == [
        ("quality-alert", None), ("quality-alert-resolved", "session-ended")]
    kinds = [b["webhookType"] for b in rec.bodies()]
    assert kinds.index("quality-alert-resolved") < kinds.index("session-ended")


def test_no_stats_from_a_participant_of_an_ongoing_session_fires_and_resolves(
    events_server: RunningServer,
) -> None:
    with receiving() as rec:
        client = _setup(events_server, rec, {"metric": "noStatsS", "operator": ">",
                                             "threshold": 2, "hysteresis": 0.5})

        def report(*who: str) -> None:
            now = int(time.time() * 1000)
            items = [sample_item("quiet-room", p, now, interval_ms=1000) for p in who]
            assert client.post("/v2/stats", json=items).status_code == 202

        report("alice", "bob")
        deadline = time.time() + 20
        while not _alerts(rec) and time.time() < deadline:  # bob goes on, alice is silent
            time.sleep(0.5)
            report("bob")
        fired = _alerts(rec)
        assert [(a["webhookType"], a["data"]["participantId"]) for a in fired] == [
            ("quality-alert", "alice")]
        assert fired[0]["data"]["value"] > 2
        report("alice", "bob")  # alice is back
        rec.wait_for(lambda got: any(r.json["webhookType"] == "quality-alert-resolved"
                                     for r in got))
        assert [a["webhookType"] for a in _alerts(rec)] == ["quality-alert",
                                                             "quality-alert-resolved"]


@pytest.mark.parametrize(("body", "field"), [
    ({**RULE, "metric": "audioMOS"}, "metric: unknown metric 'audioMOS'"),
    ({**RULE, "metric": None}, "metric: unknown metric None"),
    ({**RULE, "operator": "=="}, "operator: unknown operator '=='"),
    ({**RULE, "threshold": "3"}, "threshold: a finite number"),
    ({**RULE, "windowS": 2}, "windowS: whole seconds from 5"),
    ({**RULE, "scope": "room"}, "roomId: a rule of scope 'room'"),
    ({**RULE, "scope": "galaxy"}, "scope: use one of"),
    ({**RULE, "severity": "fatal"}, "severity: use one of"),
    ({**RULE, "webhookIds": ["wh_nope"]}, "webhookIds[0]: no webhook 'wh_nope'"),
    ({**RULE, "hysteresis": -1}, "hysteresis: must not be negative"),
    ({**RULE, "metric": "noStatsS", "operator": "<"}, "noStatsS takes '>'"),
    ({**RULE, "colour": "red"}, "colour"),
])
def test_a_bad_rule_is_a_400_naming_the_field(
    events_server: RunningServer, body: dict[str, Any], field: str
) -> None:
    client = events_server.client(events_server.new_tenant())
    answer = client.post("/v2/alertRules", json=body)
    assert answer.status_code == 400, answer.text
    assert field in answer.json()["message"]
    assert client.get("/v2/alertRules").json()["data"] == []  # nothing stored


def test_rules_belong_to_their_api_key(events_server: RunningServer) -> None:
    owner = events_server.client(events_server.new_tenant())
    other = events_server.client(events_server.new_tenant())
    rule = owner.post("/v2/alertRules", json=RULE).json()
    assert other.get(f"/v2/alertRules/{rule['id']}").status_code == 404
    assert other.delete(f"/v2/alertRules/{rule['id']}").status_code == 404
    changed = owner.patch(f"/v2/alertRules/{rule['id']}", json={"threshold": 2.5})
    assert changed.status_code == 200 and changed.json()["threshold"] == 2.5
    assert changed.json()["hysteresis"] == pytest.approx(0.125)
    assert owner.delete(f"/v2/alertRules/{rule['id']}").status_code == 204
    assert owner.get("/v2/alertRules").json()["data"] == []


JANUS = orjson.loads((Path(__file__).parents[1] / "ingest" / "data" / "janus-events.json")
                     .read_bytes())


def _janus_posts_ending_now() -> list[Any]:
    """The captured Janus requests (a VideoRoom and an EchoTest call through 5 % loss), moved
    in time so that the last event is a second old: the sessions are ongoing."""
    posts = copy.deepcopy([p["body"] for p in JANUS["posts"]])
    events = [e for body in posts for e in (body if isinstance(body, list) else [body])]
    shift_us = int(time.time() * 1e6) - 1_000_000 - max(e["timestamp"] for e in events)
    for event in events:
        event["timestamp"] += shift_us
    return posts


def test_janus_events_are_judged_by_the_alert_rules(events_server: RunningServer) -> None:
    """POST /v2/ingest/janus judges the rules as POST /v2/stats does: the captured calls'
    5 % loss fires "received audio loss > 1 % over 10 s" once for each receiving
    participant (bob's subscription in the VideoRoom, the EchoTest's caller), and the
    sessions' end resolves them."""
    rule = {"metric": "audioPacketLossPct", "operator": ">", "threshold": 1.0, "windowS": 10}
    bob = str(JANUS["calls"][0]["feeds"]["bob"])
    with receiving() as rec:
        tenant = events_server.new_tenant()
        client = _setup(events_server, rec, rule, tenant)
        janus = events_server.client(token=tenant.token(roles=("janus",)))
        for body in _janus_posts_ending_now():
            answer = janus.post("/v2/ingest/janus", json=body)
            assert answer.status_code == 202, answer.text
        rec.wait_for(lambda got: len([r for r in got if r.json["webhookType"] == "quality-alert"
                                      ]) >= 2)
        fired = {(a["data"]["meetingId"], a["data"]["participantId"]): a["data"]["value"]
                 for a in _alerts(rec)}
        assert set(fired) == {("4321", bob), ("janus-echotest-6203100306994143",
                                                "janus-6203100306994143")}, fired
        assert all(value > 1.0 for value in fired.values())
        for room in ("4321", "janus-echotest-6203100306994143"):
            assert client.post("/v2/sessions/end", json={"roomId": room}).status_code == 200
        rec.wait_for(lambda got: [r.json["webhookType"] for r in got].count("session-ended") == 2)
    assert sorted((a["webhookType"], a["data"].get("reason")) for a in _alerts(rec)) == [
        ("quality-alert", None), ("quality-alert", None),
        ("quality-alert-resolved", "session-ended"), ("quality-alert-resolved", "session-ended")]


def _recent_reports() -> list[tuple[int, list[dict[str, Any]]]]:
    """The receiving peer connection of the real Chromium call fixture (8 polls, 14 s),
    moved in time so that its last poll is a second old."""
    snapshots = orjson.loads((FIXTURES / "chromium-156-loopback-getstats.json").read_bytes())
    shift = int(time.time() * 1000) - 1000 - snapshots[-1]["t"]
    out = []
    for snap in snapshots:
        report = copy.deepcopy(snap["b"])
        for stats in report:
            if "timestamp" in stats:
                stats["timestamp"] += shift
        out.append((snap["t"] + shift, report))
    return out


def _rtcstats_dump(reports: list[tuple[int, list[dict[str, Any]]]]) -> bytes:
    """An RTCStatsDump (format 3, uncompressed) of these reports of one peer connection."""
    lines: list[Any] = [["create", None, {}, reports[0][0] - 100]]
    last = reports[0][0] - 100
    for t, report in reports:
        lines.append(["getStats", "pc-b", {s["id"]: s for s in report}, t - last])
        last = t
    return b"\n".join([b"RTCStatsDump", b'{"fileFormat": 3}', *map(orjson.dumps, lines)])


def test_an_imported_dump_is_not_judged_by_the_alert_rules(
    events_server: RunningServer,
) -> None:
    """An import is a post-mortem: the rules judge what arrives live, never a dump, even one
    of a call that ended a second ago. The same reports sent live fire the rule."""
    always = {"metric": "audioMos", "operator": "<", "threshold": 4.6, "windowS": 5}
    reports = _recent_reports()
    with receiving() as rec:
        client = _setup(events_server, rec, always)
        imported = client.post("/v2/sessions/import", data={"roomId": "imported-room"},
                               files={"file": ("call.rtcstats", _rtcstats_dump(reports))})
        assert imported.status_code == 201, imported.text
        assert imported.json()["samplesWithMedia"] > 0
        # Ongoing by the server's clock, as the live one: only the path differs.
        session = client.get(f"/v2/sessions/{imported.json()['sessionId']}").json()
        assert session["status"] == "ongoing", session
        for t, report in reports:
            answer = client.post("/v2/stats", json={
                "roomId": "live-room", "participantId": "pc-b", "timestamp": t,
                "report": report})
            assert answer.status_code == 202, answer.text
        rec.wait_for(lambda got: any(r.json["webhookType"] == "quality-alert" for r in got))
        # Events reach an endpoint in the order they were written: once the live room's
        # end is here, whatever the import wrote before it is here too.
        assert client.post("/v2/sessions/end", json={"roomId": "live-room"}).status_code == 200
        rec.wait_for(lambda got: any(r.json["webhookType"] == "session-ended" for r in got))
    assert {a["data"]["meetingId"] for a in _alerts(rec)} == {"live-room"}
