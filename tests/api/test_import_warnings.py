"""An import's warnings stay with its session: the session and its summary say them, so a
dump in which almost no media flowed never reads as a clean call (issue 18)."""

from __future__ import annotations

from conftest import FIXTURES
from support.server import RunningServer


def test_the_warnings_of_an_import_are_in_the_session_and_its_summary(
    server: RunningServer,
) -> None:
    tenant = server.new_tenant()
    path = FIXTURES / "rtcstats" / "jvb-sample.rtcstats"
    with server.client(tenant) as client, path.open("rb") as f:
        answer = client.post("/v2/sessions/import", files={"file": (path.name, f)})
        assert answer.status_code == 201, answer.text
        imported = answer.json()
        assert imported["warnings"], "the videobridge sample carries media in one interval"
        session_id = imported["sessionId"]
        session = client.get(f"/v2/sessions/{session_id}").json()
        summary = client.get(f"/v2/sessions/{session_id}/summary").json()
        listed = client.get("/v2/sessions/").json()["data"][0]
    assert session["warnings"] == imported["warnings"]
    assert summary["warnings"] == imported["warnings"]
    assert listed["warnings"] == imported["warnings"]


def test_a_session_of_live_reports_has_no_warnings(server: RunningServer) -> None:
    tenant = server.new_tenant()
    item = {"roomId": "live", "participantId": "p", "timestamp": 1_795_000_000_000,
            "sample": {"intervalMs": 5000, "audio": {"send": {"bitrateBps": 32000}}}}
    with server.client(tenant) as client:
        session_id = client.post("/v2/stats", json=item).json()["sessionIds"][0]
        assert client.get(f"/v2/sessions/{session_id}").json()["warnings"] == []
        assert client.get(f"/v2/sessions/{session_id}/summary").json()["warnings"] == []
