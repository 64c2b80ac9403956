"""Dump files imported over HTTP and with the CLI become sessions served like live data."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FIXTURES
from support.server import RunningServer, Tenant

DUMPS = sorted(
    [*FIXTURES.glob("webrtc-internals/*.json"), *FIXTURES.glob("rtcstats/*.rtcstats")]
)


def upload(server: RunningServer, tenant: Tenant, path: Path, **form: str) -> dict[str, object]:
    with server.client(tenant) as client, path.open("rb") as f:
        response = client.post(
            "/v2/sessions/import", files={"file": (path.name, f)}, data=form
        )
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


@pytest.mark.parametrize("path", DUMPS, ids=[p.name for p in DUMPS])
def test_every_fixture_dump_imports_with_audio_and_video(
    server: RunningServer, path: Path
) -> None:
    tenant = server.new_tenant()
    body = upload(server, tenant, path)
    with server.client(tenant) as client:
        stats = client.get(
            f"/v2/sessions/{body['sessionId']}/stats", params={"interval": 10}
        ).json()["stats"]
    assert stats, "the imported session has a time series"
    for kind in ("Audio", "Video"):
        rates = [
            s[f"average{d}{kind}Bitrate"] for s in stats for d in ("Send", "Recv")
            if s[f"average{d}{kind}Bitrate"] is not None
        ]
        assert rates and max(rates) > 0, f"no {kind} bitrate in {path.name}"
    assert any(s["qualityScore"]["audio"] is not None for s in stats)
    assert any(s["qualityScore"]["video"] is not None for s in stats)


def totals(server: RunningServer, tenant: Tenant, session_id: object) -> dict[str, float]:
    with server.client(tenant) as client:
        stats = client.get(f"/v2/sessions/{session_id}/stats", params={"interval": 3600}).json()
    (entry,) = stats["stats"]
    return {k: v for k, v in entry.items() if isinstance(v, int | float)}


def test_the_two_chrome_144_files_give_the_same_numbers(server: RunningServer) -> None:
    tenant = server.new_tenant()
    internals = upload(server, tenant, FIXTURES / "webrtc-internals/chrome144-two-pcs.json")
    rtcstats = upload(server, tenant, FIXTURES / "rtcstats/chrome144-two-pcs.rtcstats")
    assert internals["peerConnections"] == rtcstats["peerConnections"]
    a = totals(server, tenant, internals["sessionId"])
    b = totals(server, tenant, rtcstats["sessionId"])
    for key in ("recvAudioPacketLost", "recvVideoPacketLost", "sendAudioPacketLost",
                "sendVideoPacketLost"):
        assert a[key] == b[key], key
    # The RTCStatsDump runs two polls (~2 s) longer; means over ~1 min agree closely.
    assert a["averageAudioRtt"] == pytest.approx(b["averageAudioRtt"], abs=0.5)
    assert a["averageSendVideoBitrate"] == pytest.approx(b["averageSendVideoBitrate"], rel=0.05)


def test_a_room_can_be_chosen(server: RunningServer) -> None:
    tenant = server.new_tenant()
    body = upload(server, tenant, FIXTURES / "rtcstats/safari-standard-stats.rtcstats",
                  roomId="support-ticket-42")
    assert body["roomId"] == "support-ticket-42" and body["browser"]


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"hello world", "not a known dump format"),
        (b'{"PeerConnections": {"1-1": {"stats": ', "webrtc-internals"),
        (b"RTCStatsDump\n{}\n[\"getstats\", ", "line"),
        (b"", "empty"),
    ],
)
def test_a_bad_file_is_a_400_naming_the_place_and_imports_nothing(
    server: RunningServer, content: bytes, words: str
) -> None:
    tenant = server.new_tenant()
    with server.client(tenant) as client:
        response = client.post("/v2/sessions/import", files={"file": ("bad.txt", content)})
        listed = client.get("/v2/sessions/").json()["pageInfo"]["total"]
    assert response.status_code == 400, response.text
    assert words.lower() in response.json()["message"].lower()
    assert listed == 0


def test_a_truncated_dump_imports_nothing(server: RunningServer) -> None:
    tenant = server.new_tenant()
    whole = (FIXTURES / "rtcstats/firefox-standard-stats-sfu.rtcstats").read_bytes()
    with server.client(tenant) as client:
        response = client.post(
            "/v2/sessions/import", files={"file": ("cut.rtcstats", whole[: len(whole) // 2 + 7])}
        )
        assert response.status_code == 400 and "line" in response.json()["message"]
        assert client.get("/v2/sessions/").json()["pageInfo"]["total"] == 0


def test_the_cli_imports_with_a_progress_bar(tmp_path: Path) -> None:
    cli = Path(sys.executable).parent / "callquality"
    done = subprocess.run(
        [str(cli), "import", str(FIXTURES / "webrtc-internals/chrome86-two-pcs.json"),
         "--data-dir", str(tmp_path), "--room-id", "old-chrome"],
        capture_output=True, text=True, timeout=120, check=True,
    )
    assert "imported" in done.stdout and "room old-chrome" in done.stdout
    session_id = done.stdout.split("into session ")[1].split()[0]
    table = subprocess.run(
        [str(cli), "stats", session_id, "--data-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=60, check=True,
    )
    assert "MOS" in table.stdout and session_id in table.stdout
    bad = subprocess.run(
        [str(cli), "import", str(FIXTURES / "README.md"), "--data-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=60,
    )
    assert bad.returncode == 1 and "import failed" in bad.stderr


def test_a_number_beyond_a_float_in_a_dump_is_a_400_naming_the_field(
    server: RunningServer,
) -> None:
    """The dump reader takes any JSON integer; one too large for a float is refused with
    the field named, and nothing is imported (it was an OverflowError: a 500)."""
    tenant = server.new_tenant()
    whole = (FIXTURES / "rtcstats/firefox-standard-stats-sfu.rtcstats").read_text()
    # The first packetsReceived, 0, becomes a 401-digit integer.
    huge = whole.replace('"packetsReceived":', '"packetsReceived":' + "9" * 400, 1)
    assert huge != whole
    with server.client(tenant) as client:
        response = client.post(
            "/v2/sessions/import", files={"file": ("huge.rtcstats", huge.encode())}
        )
        assert response.status_code == 400, response.text
        assert "packetsReceived" in response.json()["message"]
        assert client.get("/v2/sessions/").json()["pageInfo"]["total"] == 0
