"""Chrome's legacy (goog*) stats and the first rtcstats layout, read from real dumps.

The legacy objects are rebuilt as the W3C dictionaries live ingest reads (``legacy.py``,
docs/dumps.md "Chrome's legacy stats"); these tests check the rebuilt reports against the raw
legacy values they come from, and the dumps' own structure. Figures through process_report
against jitsi's extractor are in test_dump_features.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from test_dumps import FIXTURES, by_pc

from callquality.ingest.dumps import DumpReport, detect_format, open_dump, read_dump
from callquality.ingest.dumps.legacy import number, standardize

CHROME96 = FIXTURES / "rtcstats" / "chrome96-standard-stats-p2p-add-transceiver.rtcstats"
LEGACY_P2P = FIXTURES / "rtcstats" / "google-legacy-stats-p2p.rtcstats"
CHROME48 = FIXTURES / "rtcstats-legacy" / "fippo-clienttest-chrome48.json"
LEGACY = [CHROME96, LEGACY_P2P, CHROME48]

# file → (format, browser, {peer connection: reports})
EXPECTED: dict[Path, tuple[str, str, dict[str, int]]] = {
    # The Chrome 96 dump's connectionInfo says Chrome 99 (jitsi stitched it from another
    # dump's header); nothing in the file says 96, so the user agent it carries wins.
    CHROME96: ("jitsi-rtcstats", "Chrome 99", {"PC_0": 3, "PC_1": 3}),
    # No user agent at all: the goog* fields say Chrome, without a version.
    LEGACY_P2P: ("jitsi-rtcstats", "Chrome", {"PC_0": 78, "PC_1": 44}),
    CHROME48: ("rtcstats-v1", "Chrome 48", {"PC_0": 13, "PC_1": 13}),
}


def raw_lines(path: Path) -> list[list[Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.mark.parametrize("path", LEGACY, ids=lambda p: p.name)
def test_every_legacy_dump_reads_with_its_format_browser_and_report_counts(path: Path) -> None:
    fmt, browser, counts = EXPECTED[path]
    dump = open_dump(path.read_bytes())
    assert detect_format(path.read_bytes()[:4096]) == fmt
    assert (dump.info.format, dump.info.browser) == (fmt, browser)
    reports = list(dump.reports())
    assert {pc: len(rs) for pc, rs in by_pc(reports).items()} == counts
    assert dump.info.report_count == len(reports)
    assert all(r.legacy for r in reports)


def test_the_chrome48_dump_holds_its_26_getstats_reports() -> None:
    doc = json.loads(CHROME48.read_text())
    events = [e for pc in doc["peerConnections"].values() for e in pc if e["type"] == "getStats"]
    assert len(events) == 26
    reports = list(read_dump(CHROME48.read_bytes()))
    assert len(reports) == 26
    # Each report's time is its stats' own timestamp (epoch ms), not the ISO event time.
    first = doc["peerConnections"]["PC_0"][
        next(i for i, e in enumerate(doc["peerConnections"]["PC_0"]) if e["type"] == "getStats")
    ]
    assert reports[0].timestamp_ms == max(o["timestamp"] for o in first["value"].values())


@pytest.mark.parametrize("path", LEGACY, ids=lambda p: p.name)
def test_rebuilt_reports_hold_only_standard_rtp_stats(path: Path) -> None:
    for r in read_dump(path.read_bytes()):
        types = {o["type"] for o in r.report}
        assert "ssrc" not in types and not types & {"inboundrtp", "outboundrtp", "candidatepair"}
        assert types & {"outbound-rtp", "inbound-rtp"}, r.timestamp_ms
        for o in r.report:
            if o["type"] in ("outbound-rtp", "inbound-rtp", "remote-inbound-rtp"):
                assert o["kind"] in ("audio", "video") and isinstance(o["ssrc"], int)
                for value in o.values():
                    assert not isinstance(value, str) or value in (
                        o["id"],
                        o["type"],
                        o["kind"],
                        o.get("codecId"),
                        o.get("localId"),
                        o.get("qualityLimitationReason"),
                    )


def _last_legacy(path: Path, pc_id: str) -> dict[str, dict[str, Any]]:
    """The last raw legacy object of each ssrc id, as the jitsi dump's deltas build it."""
    objects: dict[str, dict[str, Any]] = {}
    for item in raw_lines(path):
        if item[0] == "getstats" and item[1] == pc_id:
            for stats_id, delta in item[2].items():
                if isinstance(delta, dict):
                    objects.setdefault(stats_id, {}).update(delta)
    return {k: v for k, v in objects.items() if v.get("type") == "ssrc"}


def _by_id(report: DumpReport) -> dict[str, dict[str, Any]]:
    return {o["id"]: o for o in report.report}


def test_a_send_ssrc_becomes_outbound_rtp_and_remote_inbound_rtp_with_seconds() -> None:
    raw = _last_legacy(LEGACY_P2P, "PC_0")["ssrc_876450406_send"]
    assert (raw["packetsSent"], raw["googRtt"], raw["packetsLost"]) == ("3366", "65", "0")
    last = _by_id(
        [r for r in read_dump(LEGACY_P2P.read_bytes()) if r.peer_connection_id == "PC_0"][-1]
    )
    out, remote = last["ssrc_876450406_send"], last["ssrc_876450406_send-remote"]
    assert out == {
        "id": "ssrc_876450406_send", "type": "outbound-rtp", "kind": "audio", "ssrc": 876450406,
        "timestamp": out["timestamp"], "codecId": "ssrc_876450406_send-codec",
        "packetsSent": 3366, "bytesSent": 209695,
    }  # fmt: skip
    assert remote["localId"] == out["id"] and remote["packetsLost"] == 0
    assert remote["roundTripTime"] == pytest.approx(0.065)  # googRtt is milliseconds
    assert last["ssrc_876450406_send-codec"]["mimeType"] == "audio/opus"


def test_a_recv_ssrc_becomes_inbound_rtp_with_its_picture_and_jitter_in_seconds() -> None:
    raw = _last_legacy(LEGACY_P2P, "PC_0")
    last = _by_id(
        [r for r in read_dump(LEGACY_P2P.read_bytes()) if r.peer_connection_id == "PC_0"][-1]
    )
    video = last["ssrc_891790093_recv"]
    assert (video["type"], video["kind"]) == ("inbound-rtp", "video")
    assert (video["packetsReceived"], video["packetsLost"]) == (959, 212)
    assert (video["frameWidth"], video["frameHeight"], video["framesPerSecond"]) == (640, 360, 26)
    assert video["framesDecoded"] == int(raw["ssrc_891790093_recv"]["framesDecoded"])
    audio = last["ssrc_4051566705_recv"]
    assert audio["jitter"] == pytest.approx(
        int(raw["ssrc_4051566705_recv"]["googJitterReceived"]) / 1000
    )


def test_the_active_candidate_pair_becomes_the_selected_one_with_its_rtt() -> None:
    for r in read_dump(CHROME96.read_bytes()):
        pairs = [o for o in r.report if o["type"] == "candidate-pair"]
        assert len(pairs) == 1  # only googActiveConnection "true" is kept
        assert pairs[0]["selected"] is True and pairs[0]["id"] == "Conn-0-1-0"
    pc1 = [r for r in read_dump(CHROME96.read_bytes()) if r.peer_connection_id == "PC_1"]
    rtts = [next(o for o in r.report if o["type"] == "candidate-pair")["currentRoundTripTime"]
            for r in pc1]  # fmt: skip
    assert rtts == pytest.approx([0.048, 0.038, 0.035])  # googRtt "48", "38", "35"


def test_chrome48_pair_rtt_decaying_from_the_3000_ms_default_is_not_used() -> None:
    """libwebrtc then smoothed a pair's RTT 3:1 from 3000 ms: 2250, 1688, 1266... The dump's
    pairs have no responsesReceived to tell when it settled, so their RTT is unknown."""
    doc = json.loads(CHROME48.read_text())
    raw = [e["value"]["Conn-audio-1-0"]["googRtt"] for e in doc["peerConnections"]["PC_0"]
           if e["type"] == "getStats"]  # fmt: skip
    assert [int(v) for v in raw[:4]] == [2250, 1688, 1266, 949]
    assert all(
        0.75 * a - 1 <= b <= 0.75 * a + 1
        for a, b in zip(map(int, raw), map(int, raw[1:]), strict=False)
    )
    for r in read_dump(CHROME48.read_bytes()):
        for o in r.report:
            if o["type"] == "candidate-pair":
                assert "currentRoundTripTime" not in o
    # The RTCP round trip of the streams (googRtt of ssrc_*_send) is used: 1-3 ms on loopback.
    rtts = [
        o["roundTripTime"]
        for r in read_dump(CHROME48.read_bytes())
        for o in r.report
        if o["type"] == "remote-inbound-rtp" and "roundTripTime" in o
    ]
    assert rtts and max(rtts) <= 0.003


def test_chrome48_adapter_copies_in_old_spec_names_are_dropped_not_misread() -> None:
    """adapter.js stored 'rtcpstream_*' (type inboundrtp, isRemote) with googRtt in ms as
    roundTripTime; read as the spec's seconds, 1 ms would become 1 s."""
    doc = json.loads(CHROME48.read_text())
    value = [e for e in doc["peerConnections"]["PC_0"] if e["type"] == "getStats"][-1]["value"]
    assert value["rtpstream_ssrc_2153724675_send"]["roundTripTime"] == 1
    last = _by_id(
        [r for r in read_dump(CHROME48.read_bytes()) if r.peer_connection_id == "PC_0"][-1]
    )
    assert not any(k.startswith(("rtpstream_", "rtcpstream_", "mediatrack_")) for k in last)
    assert last["ssrc_2153724675_send-remote"]["roundTripTime"] == pytest.approx(0.001)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("12", 12), (" 7 ", 7), ("0.5", 0.5), (3, 3), (2.5, 2.5), ("", None), ("x.x.x.x", None),
     ("nan", None), ("inf", None), (True, None), (None, None), ("9" * 40, None), (-1, -1)],
)  # fmt: skip
def test_legacy_values_are_numbers_or_strings_of_numbers(value: object, expected: object) -> None:
    assert number(value) == expected


def test_a_legacy_counter_of_minus_one_is_unknown_not_a_negative_count() -> None:
    """Chrome 48 writes packetsLost -1 and googRtt "-1" before the first RTCP report."""
    report = [{"id": "ssrc_1_send", "type": "ssrc", "mediaType": "audio", "ssrc": "1",
               "packetsSent": "10", "bytesSent": "900", "packetsLost": -1, "googRtt": "-1",
               "googJitterReceived": "-1", "timestamp": 5.0}]  # fmt: skip
    rebuilt, legacy = standardize(report)
    assert legacy and [o["type"] for o in rebuilt] == ["outbound-rtp"]  # no remote side known


def test_a_report_with_standard_stats_keeps_them_and_ignores_its_legacy_objects() -> None:
    report = [
        {"id": "ssrc_1_send", "type": "ssrc", "mediaType": "audio", "packetsSent": "10"},
        {"id": "OT1", "type": "outbound-rtp", "kind": "audio", "packetsSent": 12},
    ]
    assert standardize(report) == (report, False)


def test_old_spec_names_without_legacy_objects_are_renamed() -> None:
    """Firefox ≤ 45 wrote inboundrtp/outboundrtp (isRemote for the far end), in the spec's units."""
    report = [{"id": "in", "type": "inboundrtp", "mediaType": "audio", "packetsReceived": 5},
              {"id": "out_rtcp", "type": "inboundrtp", "isRemote": True, "mozRtt": 20}]  # fmt: skip
    rebuilt, legacy = standardize(report)
    assert not legacy and [o["type"] for o in rebuilt] == ["inbound-rtp", "inbound-rtp"]
