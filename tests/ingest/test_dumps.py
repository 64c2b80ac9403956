"""The dump readers on real dumps: every file reads, and the two Chrome 144 dumps agree."""

from __future__ import annotations

import io
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES

from callquality.ingest.dumps import (
    DumpReport,
    detect_format,
    open_dump,
    read_dump,
    read_dump_info,
)

INTERNALS_144 = FIXTURES / "webrtc-internals" / "chrome144-two-pcs.json"
INTERNALS_86 = FIXTURES / "webrtc-internals" / "chrome86-two-pcs.json"
RTCSTATSDUMP_144 = FIXTURES / "rtcstats" / "chrome144-two-pcs.rtcstats"
FIREFOX = FIXTURES / "rtcstats" / "firefox-standard-stats-sfu.rtcstats"
SAFARI = FIXTURES / "rtcstats" / "safari-standard-stats.rtcstats"

ALL_RTP = {("inbound-rtp", k) for k in ("audio", "video")} | {
    ("outbound-rtp", k) for k in ("audio", "video")
}
INBOUND_ONLY = {("inbound-rtp", "audio"), ("inbound-rtp", "video")}

# file → (format, browser, {peer connection: the RTP streams the call had})
EXPECTED: dict[Path, tuple[str, str, dict[str, set[tuple[str, str]]]]] = {
    INTERNALS_144: ("webrtc-internals", "Chrome 144", {"92-1": ALL_RTP, "94-1": ALL_RTP}),
    INTERNALS_86: ("webrtc-internals", "Chrome 86", {"18084-8": ALL_RTP, "18084-9": INBOUND_ONLY}),
    RTCSTATSDUMP_144: ("rtcstatsdump", "Chrome 144", {"92-1": ALL_RTP, "94-1": ALL_RTP}),
    FIREFOX: ("jitsi-rtcstats", "Firefox 118", {"PC_0": ALL_RTP}),
    SAFARI: ("jitsi-rtcstats", "Safari 17", {"PC_0": ALL_RTP}),
}


def by_pc(reports: list[DumpReport]) -> dict[str, list[DumpReport]]:
    out: dict[str, list[DumpReport]] = defaultdict(list)
    for r in reports:
        out[r.peer_connection_id].append(r)
    return out


def stats_of(report: DumpReport, stats_type: str, kind: str) -> list[dict[str, Any]]:
    return [
        o
        for o in report.report
        if o["type"] == stats_type and (o.get("kind") or o.get("mediaType")) == kind
    ]


@pytest.mark.parametrize("path", list(EXPECTED), ids=lambda p: p.name)
def test_every_fixture_reads_with_its_format_and_browser(path: Path) -> None:
    fmt, browser, pcs = EXPECTED[path]
    info = read_dump_info(path.read_bytes())
    assert detect_format(path.read_bytes()[:64]) == fmt
    assert (info.format, info.browser) == (fmt, browser)
    assert set(info.peer_connection_ids) == set(pcs)
    assert info.url


@pytest.mark.parametrize("path", list(EXPECTED), ids=lambda p: p.name)
def test_every_peer_connection_has_its_rtp_streams_in_time_order(path: Path) -> None:
    _, _, pcs = EXPECTED[path]
    with path.open("rb") as f:
        reports = list(read_dump(f))
    grouped = by_pc(reports)
    assert set(grouped) == set(pcs)
    for pc_id, expected_streams in pcs.items():
        rs = grouped[pc_id]
        assert len(rs) > 30
        times = [r.timestamp_ms for r in rs]
        assert all(b > a for a, b in zip(times, times[1:], strict=False)), pc_id
        seen = {
            (o["type"], o.get("kind") or o.get("mediaType"))
            for r in rs
            for o in r.report
            if o["type"] in ("inbound-rtp", "outbound-rtp")
        }
        assert seen == expected_streams, pc_id
        for r in rs:
            for o in r.report:
                assert isinstance(o["id"], str) and isinstance(o["type"], str)
                assert isinstance(o["timestamp"], int | float)


@pytest.mark.parametrize("path", list(EXPECTED), ids=lambda p: p.name)
def test_info_counts_the_reports_and_their_time_span(path: Path) -> None:
    dump = open_dump(path.read_bytes())
    reports = list(dump.reports())
    assert dump.info.report_count == len(reports)
    assert dump.info.start_ms == min(r.timestamp_ms for r in reports)
    assert dump.info.end_ms == max(r.timestamp_ms for r in reports)
    assert list(dump.reports()) == reports  # re-iterable, same result


@pytest.mark.parametrize("path", list(EXPECTED), ids=lambda p: p.name)
def test_cumulative_counters_never_decrease(path: Path) -> None:
    for rs in by_pc(list(read_dump(path.read_bytes()))).values():
        last: dict[tuple[str, str], float] = {}
        for r in rs:
            for o in r.report:
                for counter in ("packetsSent", "packetsReceived", "bytesSent", "bytesReceived"):
                    if o["type"].endswith("rtp") and isinstance(o.get(counter), int | float):
                        key = (o["id"], counter)
                        assert o[counter] >= last.get(key, 0), key
                        last[key] = o[counter]


def test_progress_reports_growing_byte_counts_up_to_the_size() -> None:
    data = SAFARI.read_bytes()
    seen: list[int] = []
    list(read_dump(io.BytesIO(data), progress=seen.append))
    assert seen and seen == sorted(seen) and seen[-1] == len(data)


# --- The same Chrome 144 call, saved twice -----------------------------------------------------


def _matched_reports() -> list[tuple[DumpReport, DumpReport]]:
    """Pairs of (webrtc-internals, RTCStatsDump) reports of the same poll."""
    internals = list(read_dump(INTERNALS_144.read_bytes()))
    dump = {
        (r.peer_connection_id, round(r.timestamp_ms, 3)): r
        for r in read_dump(RTCSTATSDUMP_144.read_bytes())
    }
    return [(r, dump[(r.peer_connection_id, round(r.timestamp_ms, 3))]) for r in internals]


def test_every_webrtc_internals_poll_is_in_the_rtcstatsdump() -> None:
    pairs = _matched_reports()
    assert len(pairs) == 113


def test_chrome144_dumps_rebuild_identical_reports() -> None:
    for a, b in _matched_reports():
        objs_a = {o["id"]: o for o in a.report}
        objs_b = {o["id"]: {k: v for k, v in o.items()} for o in b.report}
        assert objs_a.keys() == objs_b.keys()
        for stats_id, obj in objs_a.items():
            # webrtc-internals drops the fields it derives itself ("[codec]"); the dump keeps them.
            other = {k: v for k, v in objs_b[stats_id].items() if not k.startswith("[")}
            assert obj == other, (a.peer_connection_id, a.timestamp_ms, stats_id)


@pytest.mark.parametrize("pc_id", ["92-1", "94-1"])
def test_chrome144_dumps_agree_on_final_packet_counts_and_rtt(pc_id: str) -> None:
    pairs = [(a, b) for a, b in _matched_reports() if a.peer_connection_id == pc_id]
    last_a, last_b = pairs[-1]
    for kind in ("audio", "video"):
        for stats_type, counters in (
            ("outbound-rtp", ("packetsSent",)),
            ("inbound-rtp", ("packetsReceived", "packetsLost")),
            ("remote-inbound-rtp", ("packetsLost",)),
        ):
            (sa,) = stats_of(last_a, stats_type, kind)
            (sb,) = stats_of(last_b, stats_type, kind)
            for counter in counters:
                assert sa[counter] == sb[counter] > -1, (kind, stats_type, counter)
        rtt_a = _rtts([a for a, _ in pairs], kind)
        rtt_b = _rtts([b for _, b in pairs], kind)
        assert rtt_a and sum(rtt_a) / len(rtt_a) == pytest.approx(sum(rtt_b) / len(rtt_b))


def _rtts(reports: list[DumpReport], kind: str) -> list[float]:
    return [
        s["roundTripTime"]
        for r in reports
        for s in stats_of(r, "remote-inbound-rtp", kind)
        if "roundTripTime" in s
    ]


def test_the_rtcstatsdump_runs_two_polls_past_the_webrtc_internals_download() -> None:
    internals = read_dump_info(INTERNALS_144.read_bytes())
    dump = read_dump_info(RTCSTATSDUMP_144.read_bytes())
    assert dump.end_ms is not None and internals.end_ms is not None
    assert 1900 < dump.end_ms - internals.end_ms < 2100


# --- The old webrtc-internals layout ------------------------------------------------------------


def test_chrome86_types_come_from_the_id_prefix() -> None:
    types = {
        o["id"].split("_")[0]: o["type"]
        for r in read_dump(INTERNALS_86.read_bytes())
        for o in r.report
    }
    assert types["RTCInboundRTPAudioStream"] == "inbound-rtp"
    assert types["RTCOutboundRTPVideoStream"] == "outbound-rtp"
    assert types["RTCRemoteInboundRtpVideoStream"] == "remote-inbound-rtp"
    assert types["RTCIceCandidatePair"] == "candidate-pair"
    assert types["RTCTransport"] == "transport"
    assert types["RTCPeerConnection"] == "peer-connection"
    assert types["RTCMediaStreamTrack"] == "track"


def test_chrome86_candidates_are_local_or_remote_by_is_remote() -> None:
    for r in read_dump(INTERNALS_86.read_bytes()):
        for o in r.report:
            if o["id"].startswith("RTCIceCandidate_"):
                expected = "remote-candidate" if o.get("isRemote") else "local-candidate"
                assert o["type"] == expected


def test_chrome86_polls_are_a_second_apart_and_span_the_call() -> None:
    rs = by_pc(list(read_dump(INTERNALS_86.read_bytes())))
    for pc_id, seconds in (("18084-8", 247), ("18084-9", 165)):
        times = [r.timestamp_ms for r in rs[pc_id]]
        assert (times[-1] - times[0]) / 1000 == pytest.approx(seconds, abs=1)
        gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
        assert min(gaps) > 500 and max(gaps) < 2500


def test_chrome86_final_counters_are_the_last_values_of_their_series() -> None:
    import json

    doc = json.loads(INTERNALS_86.read_text())
    series = doc["PeerConnections"]["18084-8"]["stats"]
    ssrc_key = next(k for k in series if k.startswith("RTCOutboundRTPVideoStream_"))
    stats_id = ssrc_key.rpartition("-")[0]
    expected = json.loads(series[f"{stats_id}-packetsSent"]["values"])[-1]
    last = [r for r in read_dump(INTERNALS_86.read_bytes()) if r.peer_connection_id == "18084-8"][
        -1
    ]
    (video,) = [o for o in last.report if o["id"] == stats_id]
    assert video["packetsSent"] == expected
