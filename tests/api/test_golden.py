"""The API's answers on fixed inputs, byte for byte: a refactor must not change them.

The golden answers were taken before the application layer moved (issue 13). Regenerate them
only for a deliberate change of the figures: ``CQ_UPDATE_GOLDEN=1 pytest tests/api/test_golden.py``
(on SQLite), and say in the commit what changed and why.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES
from support.compare import rounded
from support.items import T0, sample_item
from support.server import RunningServer, Tenant

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("CQ_UPDATE_GOLDEN") == "1"
DUMPS = ("webrtc-internals/chrome144-two-pcs.json", "rtcstats/google-standard-stats-sfu.rtcstats",
         "rtcstats/firefox-standard-stats-sfu.rtcstats", "rtcstats/safari-standard-stats.rtcstats")


def _normalise(text: str, server: RunningServer, ids: dict[str, str]) -> str:
    text = text.replace(server.url, "http://SERVER")

    def placeholder(match: re.Match[str]) -> str:
        return ids.setdefault(match.group(0), f"ID{len(ids)}")

    return re.sub(r"(?<![A-Za-z0-9])[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
                  r"|(?<![A-Za-z0-9])[0-9a-f]{24}(?![A-Za-z0-9])"
                  r"|(?<![A-Za-z0-9])[0-9a-f]{32}(?![A-Za-z0-9])",  # an API key (userId)
                  placeholder, text)


def _answers(server: RunningServer, tenant: Tenant, session_id: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with server.client(tenant) as client:
        for path, params in (
            (f"/v2/sessions/{session_id}", {}),
            (f"/v2/sessions/{session_id}/participants", {}),
            (f"/v2/sessions/{session_id}/stats", {}),
            (f"/v2/sessions/{session_id}/stats", {"interval": 5, "extended": "true"}),
            (f"/v2/sessions/{session_id}/stats", {"interval": 300}),
            (f"/v2/sessions/{session_id}/stats", {"format": "csv", "interval": 30}),
            (f"/v2/sessions/{session_id}/summary", {}),
        ):
            response = client.get(path, params=params)
            key = path.replace(session_id, "{id}") + "?" + "&".join(
                f"{k}={v}" for k, v in params.items()
            )
            out[key] = {"status": response.status_code, "body": response.text}
        participants = client.get(f"/v2/sessions/{session_id}/participants").json()["data"][
            "participants"
        ]
        for participant in participants:
            pid = participant["participantId"]
            response = client.get(
                f"/v2/sessions/{session_id}/participant/{pid}/stats",
                params={"interval": 10, "extended": "true"},
            )
            out[f"/participant/{pid}/stats"] = {"status": response.status_code,
                                                "body": response.text}
    return out


def _check(name: str, server: RunningServer, answers: dict[str, Any]) -> None:
    ids: dict[str, str] = {}
    text = _normalise(json.dumps(answers, indent=1, sort_keys=True), server, ids)
    path = GOLDEN / f"{name}.json"
    if UPDATE and server.settings.database_url.startswith("sqlite"):
        path.write_text(text + "\n")
    expected = path.read_text().rstrip("\n")
    assert _comparable(json.loads(text)) == _comparable(json.loads(expected)), (
        f"{name}: the API's answers changed"
    )


def _cell(text: str) -> Any:
    try:
        return rounded(float(text))
    except ValueError:
        return text


def _comparable(answers: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, answer in answers.items():
        body = answer["body"]
        if "format=csv" in key:
            parsed: Any = [[_cell(c) for c in line.split(",")] for line in body.splitlines()]
        else:
            parsed = rounded(json.loads(body))
        out[key] = (answer["status"], parsed)
    return out


def test_posted_samples_answer_as_before(server: RunningServer) -> None:
    tenant = server.new_tenant()
    items = []
    for i in range(40):
        t = T0 + i * 5000
        items.append(sample_item("golden", "alice", t, name="Alice", rtt_ms=30 + i,
                                 audio_recv_lost=i % 7, video_recv_lost=i % 5))
        if 8 <= i < 30:
            items.append(sample_item("golden", "bob", t + 1200, name="=Bob", rtt_ms=120.0,
                                     jitter_ms=25.0, audio_send_lost=12))
    with server.client(tenant) as client:
        response = client.post("/v2/stats", json=items)
        assert response.status_code == 202, response.text
        session_id = response.json()["sessionIds"][0]
    _check("samples", server, _answers(server, tenant, session_id))


@pytest.mark.parametrize("dump", DUMPS, ids=[Path(d).stem for d in DUMPS])
def test_imported_dumps_answer_as_before(server: RunningServer, dump: str) -> None:
    tenant = server.new_tenant()
    path = FIXTURES / dump
    with server.client(tenant) as client, path.open("rb") as f:
        response = client.post("/v2/sessions/import", files={"file": (path.name, f)},
                               data={"roomId": "golden"})
    assert response.status_code == 201, response.text
    _check(f"import-{Path(dump).stem}", server,
           _answers(server, tenant, response.json()["sessionId"]))


def test_raw_reports_answer_as_before(server: RunningServer) -> None:
    tenant = server.new_tenant()
    snapshots = json.loads((FIXTURES / "chromium-156-loopback-getstats.json").read_text())
    items = [{"roomId": "golden-raw", "participantId": side, "timestamp": snap["t"],
              "peerConnectionId": f"pc-{side}", "report": snap[side]}
             for snap in snapshots for side in ("a", "b")]
    with server.client(tenant) as client:
        response = client.post("/v2/stats", json=items)
        assert response.status_code == 202, response.text
        session_id = response.json()["sessionIds"][0]
    _check("raw", server, _answers(server, tenant, session_id))
