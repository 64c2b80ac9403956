"""Fleet analytics by the client's context (issues 15 and 16): synthetic participant-sessions
posted through POST /v2/stats with a ``client`` and a raw report naming their connection
give their poor-stream rates back per browser, OS and connection, exactly, from the
summaries and from the daily rollups; another tenant's never count.

300 Chrome on Windows over a server-reflexive candidate, 3 of them (1 %) poor; 100 Safari on
iOS through a TURN server over TCP, 30 of them (30 %) poor.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from support.items import T0
from support.server import RunningServer, Tenant

DAY_MS = 86_400_000
D0 = (T0 // DAY_MS) * DAY_MS
CHROME_WINDOWS = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like "
                  "Gecko) Chrome/131.0.0.0 Safari/537.36")
SAFARI_IOS = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
              "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1")


def _connection_report(candidate_type: str, relay_protocol: str | None) -> list[dict[str, Any]]:
    """A getStats() report with only the selected pair and its local candidate."""
    local: dict[str, Any] = {"id": "L1", "type": "local-candidate", "timestamp": T0,
                             "candidateType": candidate_type, "protocol": "udp"}
    if relay_protocol:
        local["relayProtocol"] = relay_protocol
    return [
        {"id": "T1", "type": "transport", "timestamp": T0, "selectedCandidatePairId": "CP1"},
        {"id": "CP1", "type": "candidate-pair", "timestamp": T0, "localCandidateId": "L1",
         "remoteCandidateId": "R1", "state": "succeeded", "nominated": True},
        local,
    ]


def _audio(room: str, pid: str, ts: int, poor: bool) -> dict[str, Any]:
    """5 s of received audio; a poor one loses 25 % of its packets (tests/api/test_analytics)."""
    lost = 60 if poor else 0
    return {
        "roomId": room, "participantId": pid, "timestamp": ts,
        "sample": {"intervalMs": 5000, "audio": {
            "send": {"packets": 250, "packetsLost": 0, "bitrateBps": 32000.0, "rttMs": 40.0,
                     "jitterMs": 4.0},
            "recv": {"packets": 250 - lost, "packetsLost": lost, "bitrateBps": 32000.0,
                     "jitterMs": 4.0}}},
    }


def _fleet(user_agent: str, candidate: str, relay: str | None, count: int, poor: int
           ) -> list[dict[str, Any]]:
    tag = uuid.uuid4().hex[:6]
    items = []
    for n in range(count):
        room, pid = f"c-{tag}-{n // 10}", f"p{n}"
        items.append({"roomId": room, "participantId": pid, "timestamp": T0,
                      "client": {"userAgent": user_agent},
                      "report": _connection_report(candidate, relay)})
        items += [_audio(room, pid, T0 + i * 5000, n < poor) for i in (1, 2)]
    return items


def _post(server: RunningServer, tenant: Tenant, items: list[dict[str, Any]]) -> None:
    with server.client(tenant) as client:
        for start in range(0, len(items), 600):
            answer = client.post("/v2/stats", json=items[start:start + 600])
            assert answer.status_code == 202, answer.text


@pytest.fixture(scope="module")
def fleet(server: RunningServer) -> Tenant:
    tenant, other = server.new_tenant(), server.new_tenant()
    _post(server, tenant, _fleet(CHROME_WINDOWS, "srflx", None, 300, 3)
          + _fleet(SAFARI_IOS, "relay", "tcp", 100, 30))
    _post(server, other, _fleet(SAFARI_IOS, "relay", "tcp", 20, 20))  # all poor
    return tenant


# One hour around the calls: from the summaries; three whole days: from the daily rollups.
PERIODS = [(T0 - 3_600_000, T0 + 3_600_000), (D0 - DAY_MS, D0 + 2 * DAY_MS)]


def _groups(server: RunningServer, tenant: Tenant, group_by: str, period: tuple[int, int],
            **filters: str) -> dict[tuple[Any, ...], tuple[int, int, float]]:
    with server.client(tenant) as client:
        answer = client.get("/v2/analytics/quality", params={
            "from": period[0], "to": period[1], "groupBy": group_by, **filters})
    assert answer.status_code == 200, answer.text
    names = group_by.split(",")
    return {tuple(g["key"][n] for n in names):
            (g["participantSessions"], g["poorStreams"], g["poorStreamRate"])
            for g in answer.json()["data"]}


@pytest.mark.parametrize("period", PERIODS, ids=["summaries", "rollups"])
def test_poor_rates_come_back_per_browser_and_os_exactly(
    server: RunningServer, fleet: Tenant, period: tuple[int, int]
) -> None:
    assert _groups(server, fleet, "browser,os", period) == {
        ("Chrome", "Windows"): (300, 3, 0.01),
        ("Mobile Safari", "iOS"): (100, 30, 0.3),
    }
    assert _groups(server, fleet, "browser", period) == {
        ("Chrome",): (300, 3, 0.01), ("Mobile Safari",): (100, 30, 0.3)}
    assert _groups(server, fleet, "device", period) == {
        ("desktop",): (300, 3, 0.01), ("mobile",): (100, 30, 0.3)}


@pytest.mark.parametrize("period", PERIODS, ids=["summaries", "rollups"])
def test_poor_rates_come_back_per_connection_exactly(
    server: RunningServer, fleet: Tenant, period: tuple[int, int]
) -> None:
    assert _groups(server, fleet, "connection", period) == {
        ("srflx",): (300, 3, 0.01), ("relay/tcp",): (100, 30, 0.3)}
    assert _groups(server, fleet, "day", period, connection="relay/tcp") == {
        (T0 // DAY_MS,): (100, 30, 0.3)}
    assert _groups(server, fleet, "os", period, browser="Chrome") == {
        ("Windows",): (300, 3, 0.01)}
    # country and ASN come from GeoIP, which this server has not: unknown for all
    assert _groups(server, fleet, "country", period) == {("unknown",): (400, 33, 0.0825)}
