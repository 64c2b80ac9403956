"""Fleet analytics through the API (issue 16): known synthetic participant-sessions posted
through POST /v2/stats give their poor-stream rates back per group, exactly; another
tenant's sessions never count; a late report corrects its participant-session.

Until the client info of issue 15 is on main, the dimensions a client can set are the codec
and the room, so the groups are codecs (Opus: 300 participant-sessions, 1 % poor; PCMU: 100,
30 % poor).
"""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any

import pytest
from support.items import T0
from support.server import RunningServer, Tenant

INTERVALS = 2  # 5-s intervals per participant-session: 10 s, 1/6 participant-minute
PER_ROOM = 10


def _audio(room: str, pid: str, ts: int, codec: str, poor: bool) -> dict[str, Any]:
    """5 s of received audio; a poor one loses 25 % of its packets (> 10 %: poor, and
    'network loss' > 2 %, scoring/classify.py)."""
    lost = 60 if poor else 0
    return {
        "roomId": room, "participantId": pid, "timestamp": ts,
        "sample": {
            "intervalMs": 5000,
            "audio": {
                "send": {"packets": 250, "packetsLost": 0, "bitrateBps": 32000.0,
                         "rttMs": 40.0, "jitterMs": 4.0},
                "recv": {"packets": 250 - lost, "packetsLost": lost, "bitrateBps": 32000.0,
                         "jitterMs": 4.0},
            },
            "codec": {"audio": codec},
        },
    }


def _post(server: RunningServer, tenant: Tenant, items: list[dict[str, Any]]) -> None:
    with server.client(tenant) as client:
        for start in range(0, len(items), 500):
            answer = client.post("/v2/stats", json=items[start:start + 500])
            assert answer.status_code == 202, answer.text


def _fleet(codec: str, count: int, poor: int, prefix: str) -> tuple[list[dict[str, Any]],
                                                                  list[tuple[str, str]]]:
    """``count`` participant-sessions of ``codec``, the first ``poor`` of them poor."""
    items, who = [], []
    tag = uuid.uuid4().hex[:6]
    for n in range(count):
        room = f"{prefix}-{codec}-{tag}-{n // PER_ROOM}"
        pid = f"p{n}"
        who.append((room, pid))
        items += [_audio(room, pid, T0 + i * 5000, codec, n < poor)
                  for i in range(1, INTERVALS + 1)]
    return items, who


def _quality(server: RunningServer, tenant: Tenant, **params: Any) -> Any:
    with server.client(tenant) as client:
        answer = client.get("/v2/analytics/quality", params={
            "from": T0 - 3_600_000, "to": T0 + 3_600_000, **params})
    assert answer.status_code == 200, answer.text
    return answer


@pytest.fixture(scope="module")
def fleet(server: RunningServer) -> dict[str, Any]:
    tenant, other = server.new_tenant(), server.new_tenant()
    opus, opus_who = _fleet("opus", 300, 3, "a")
    pcmu, _ = _fleet("PCMU", 100, 30, "a")
    _post(server, tenant, opus + pcmu)
    noise, _ = _fleet("PCMU", 50, 50, "b")  # another tenant's: all poor
    _post(server, other, noise)
    return {"tenant": tenant, "other": other, "opus_who": opus_who}


def _by_codec(body: Any) -> dict[str, Any]:
    return {g["key"]["codec"]: g for g in body["data"]}


def test_poor_stream_rates_come_back_per_codec_exactly(
    server: RunningServer, fleet: dict[str, Any]
) -> None:
    groups = _by_codec(_quality(server, fleet["tenant"], groupBy="codec").json())
    assert set(groups) == {"opus", "PCMU"}
    assert groups["opus"]["participantSessions"] == 300
    assert groups["opus"]["poorStreams"] == 3
    assert groups["opus"]["poorStreamRate"] == 0.01
    assert groups["PCMU"]["participantSessions"] == 100
    assert groups["PCMU"]["poorStreamRate"] == 0.3
    assert groups["PCMU"]["poorTimeShare"] == 0.3  # poor streams were poor throughout
    # 10 s each: 300 x 10 s = 50 participant-minutes
    assert groups["opus"]["participantMinutes"] == 50.0
    assert groups["PCMU"]["participantMinutes"] == pytest.approx(16.7)


def test_the_poor_sessions_cause_is_network_loss(
    server: RunningServer, fleet: dict[str, Any]
) -> None:
    groups = _by_codec(_quality(server, fleet["tenant"], groupBy="codec").json())
    assert groups["PCMU"]["topCauses"] == [
        {"cause": "network loss", "participantSessions": 30, "share": 1.0}]


def test_mos_percentiles_are_those_of_the_participant_sessions(
    server: RunningServer, fleet: dict[str, Any]
) -> None:
    """Opus: 297 clean, 3 at 25 % loss; the p5 (rank 14.95 of 300) is a clean one's, the
    p50 too. PCMU: 30 of 100 poor, so its p5 is a poor one's, far below its p50."""
    groups = _by_codec(_quality(server, fleet["tenant"], groupBy="codec").json())
    opus, pcmu = groups["opus"]["audioMos"], groups["PCMU"]["audioMos"]
    assert opus["p50"] == opus["p5"] > 4.0
    assert pcmu["p50"] > 4.0 > 3.0 > pcmu["p5"]


def test_another_tenants_sessions_are_never_counted(
    server: RunningServer, fleet: dict[str, Any]
) -> None:
    mine = _quality(server, fleet["tenant"], groupBy="day").json()["data"]
    assert sum(g["participantSessions"] for g in mine) == 400
    theirs = _quality(server, fleet["other"], groupBy="codec").json()["data"]
    assert [(g["key"]["codec"], g["participantSessions"], g["poorStreamRate"])
            for g in theirs] == [("PCMU", 50, 1.0)]


def test_a_day_group_is_the_day_of_the_sessions_start(
    server: RunningServer, fleet: dict[str, Any]
) -> None:
    (day,) = _quality(server, fleet["tenant"], groupBy="day").json()["data"]
    assert day["key"]["day"] == T0 // 86_400_000
    assert day["time"].endswith("T00:00:00.000Z")
    assert day["poorStreams"] == 33


def test_a_filter_and_two_dimensions_split_the_groups(
    server: RunningServer, fleet: dict[str, Any]
) -> None:
    body = _quality(server, fleet["tenant"], groupBy="day,codec", codec="PCMU").json()
    assert [(g["key"]["codec"], g["participantSessions"]) for g in body["data"]] == [
        ("PCMU", 100)]
    video = _quality(server, fleet["tenant"], groupBy="codec", kind="video").json()
    assert video["data"] == []  # audio-only participant-sessions have no video stream


def test_groups_are_paginated(server: RunningServer, fleet: dict[str, Any]) -> None:
    body = _quality(server, fleet["tenant"], groupBy="room", perPage=7, page=2).json()
    assert body["pageInfo"] == {"currentPage": 2, "perPage": 7, "lastPage": 6, "total": 40}
    assert len(body["data"]) == 7


def test_the_worst_participant_sessions_link_to_their_sessions(
    server: RunningServer, fleet: dict[str, Any]
) -> None:
    with server.client(fleet["tenant"]) as client:
        body = client.get("/v2/analytics/worst", params={
            "from": T0 - 3_600_000, "to": T0 + 3_600_000, "perPage": 5}).json()
        assert body["pageInfo"]["total"] == 400
        first = body["data"][0]
        assert first["poorShare"] == 1.0
        assert first["likelyCause"] == "network loss"
        session = client.get(first["links"]["get_session"].removeprefix(server.url))
    assert session.status_code == 200
    assert first["participantId"] in {p["participantId"] for p in session.json()["participants"]}


def test_a_late_report_corrects_its_participant_session(server: RunningServer) -> None:
    tenant = server.new_tenant()
    items, who = _fleet("opus", 10, 0, "late")
    _post(server, tenant, items)
    (before,) = _quality(server, tenant, groupBy="codec").json()["data"]
    assert before["poorStreams"] == 0
    room, pid = who[0]
    # three poor intervals arriving late, before the two clean ones: 15 of 25 s poor
    _post(server, tenant, [_audio(room, pid, T0 - i * 5000, "opus", True) for i in range(3)])
    (after,) = _quality(server, tenant, groupBy="codec").json()["data"]
    assert after["participantSessions"] == 10
    assert after["poorStreams"] == 1
    assert after["poorTimeShare"] == round(15 / 115, 4)


def test_csv_cells_that_could_run_as_formulas_are_quoted(server: RunningServer) -> None:
    tenant = server.new_tenant()
    _post(server, tenant, [_audio("=HYPERLINK(1)", "p", T0 + 5000, "opus", False)])
    text = _quality(server, tenant, groupBy="room", format="csv").text
    (row,) = list(csv.DictReader(io.StringIO(text)))
    assert row["key.room"] == "'=HYPERLINK(1)"
    assert row["participantSessions"] == "1"


@pytest.mark.parametrize(("params", "named"), [
    ({"groupBy": "planet"}, "groupBy"),
    ({"groupBy": "day,hour,codec"}, "groupBy"),
    ({"from": "yesterday"}, "from"),
    ({"from": "2026-01-01T00:00:00"}, "time zone"),
    ({"kind": "smell"}, "kind"),
    ({"day": "monday"}, "day"),
])
def test_bad_parameters_are_a_400_naming_them(
    server: RunningServer, params: dict[str, str], named: str
) -> None:
    tenant = server.new_tenant()
    with server.client(tenant) as client:
        answer = client.get("/v2/analytics/quality", params=params)
    assert answer.status_code == 400, answer.text
    assert named in answer.json()["message"]


def test_a_participant_bound_token_may_not_read_the_fleet(server: RunningServer) -> None:
    tenant = server.new_tenant()
    token = tenant.token(participant_id="p1", roles=("crawler",))
    with server.client(token=token) as client:
        assert client.get("/v2/analytics/quality").status_code == 403
