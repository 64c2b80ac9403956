"""Dumps through process_report, checked against jitsi rtcstats-server's own features.

``*.expected-features.json`` holds what jitsi's extractor computed from the same dumps. Where its
definitions differ from ours the test checks the difference is exactly the one docs/dumps.md
explains ("Comparison with jitsi's features").
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_dumps import FIREFOX, INTERNALS_144, RTCSTATSDUMP_144, SAFARI
from test_dumps_legacy import CHROME96, LEGACY_P2P

from callquality.domain.sample import Sample
from callquality.ingest.dumps import DumpReport, read_dump, read_dump_info
from callquality.ingest.report import process_report


def samples(reports: list[DumpReport]) -> Iterator[tuple[str, Sample]]:
    states: dict[str, dict[str, Any]] = {}
    for r in reports:
        sample, states[r.peer_connection_id] = process_report(
            states.get(r.peer_connection_id), r.timestamp_ms, r.report
        )
        if sample is not None:
            yield r.peer_connection_id, sample


def expected(path: Path) -> dict[str, Any]:
    doc = json.loads(path.with_name(path.stem + ".expected-features.json").read_text())
    pc: dict[str, Any] = doc["expectedExtractData"]["features"]["aggregates"]["PC_0"]
    return pc


def final_counters(reports: list[DumpReport], stats_type: str) -> dict[int, dict[str, Any]]:
    """The last value of each stream's counters, by SSRC."""
    last: dict[int, dict[str, Any]] = {}
    for r in reports:
        for o in r.report:
            if o["type"] == stats_type and "ssrc" in o:
                last[o["ssrc"]] = o
    return last


def recv_totals(pc_samples: list[Sample]) -> tuple[int, int]:
    packets = lost = 0
    for s in pc_samples:
        for kind in ("audio", "video"):
            media = s.media(kind)
            if media is not None and media.recv is not None:
                packets += media.recv.packets or 0
                lost += media.recv.packets_lost or 0
    return packets, lost


def mean_send_rtt_ms(pc_samples: list[Sample]) -> float:
    rtts = [
        media.send.rtt_ms
        for s in pc_samples
        for kind in ("audio", "video")
        if (media := s.media(kind)) is not None
        and media.send is not None
        and media.send.rtt_ms is not None
    ]
    return statistics.mean(rtts)


@pytest.mark.parametrize("path", [FIREFOX, SAFARI], ids=lambda p: p.name)
def test_reader_final_counters_are_jitsis_track_packets(path: Path) -> None:
    reports = list(read_dump(path.read_bytes()))
    tracks = {t["ssrc"]: t for t in expected(path)["tracks"]["receiverTracks"]}
    inbound = final_counters(reports, "inbound-rtp")
    # jitsi counts every stats object with packetsReceived and no packetsSent as received:
    # Firefox's remote-inbound-rtp (the far end's view of what we sent) is one of them.
    remote = final_counters(reports, "remote-inbound-rtp")
    for ssrc, track in tracks.items():
        ours = inbound.get(ssrc) or remote[ssrc]
        assert (ours["packetsReceived"], ours.get("packetsLost", 0)) == (
            track["packets"],
            track["packetsLost"],
        )
    aggregates = expected(path)["trackAggregates"]
    assert sum(t["packets"] for t in tracks.values()) == aggregates["totalPacketsReceived"]


@pytest.mark.parametrize("path", [FIREFOX, SAFARI], ids=lambda p: p.name)
def test_jitsis_mean_rtt_recomputed_from_our_reports_rounds_to_its_value(path: Path) -> None:
    assert round(_jitsi_rtt_s(path), 2) == expected(path)["transportAggregates"]["meanRtt"]


def _jitsi_rtt_s(path: Path) -> float:
    """jitsi's definition: Firefox, remote-inbound-rtp roundTripTime; others, selected pair's."""
    firefox = read_dump_info(path.read_bytes()).browser == "Firefox 118"
    rtts = []
    for r in read_dump(path.read_bytes()):
        objs = {o["id"]: o for o in r.report}
        for o in r.report:
            if firefox and o["type"] == "remote-inbound-rtp" and "roundTripTime" in o:
                rtts.append(o["roundTripTime"])
            pair = objs.get(o.get("selectedCandidatePairId", ""), {})
            if not firefox and o["type"] == "transport" and "currentRoundTripTime" in pair:
                rtts.append(pair["currentRoundTripTime"])
    return statistics.mean(rtts)


@pytest.mark.parametrize("path", [FIREFOX, SAFARI], ids=lambda p: p.name)
def test_loss_percentage_through_process_report_agrees_with_jitsi(path: Path) -> None:
    reports = list(read_dump(path.read_bytes()))
    packets, lost = recv_totals([s for _, s in samples(reports)])
    # Ours: lost / (received + lost) over the intervals; jitsi: lost / received over the whole
    # counters, rounded to 2 decimals. Intervals start at each stream's first report, so the
    # packets before it are in no interval: exactly final − first seen counter, per stream.
    first: dict[int, int] = {}
    for r in reports:
        for o in r.report:
            if o["type"] == "inbound-rtp" and "packetsReceived" in o:
                first.setdefault(o["ssrc"], o["packetsReceived"])
    finals = final_counters(reports, "inbound-rtp")
    assert packets == sum(finals[ssrc]["packetsReceived"] - n for ssrc, n in first.items())
    aggregates = expected(path)["trackAggregates"]
    assert lost == aggregates["totalReceivedPacketsLost"]
    ours_pct = 100 * lost / (packets + lost)
    assert ours_pct == pytest.approx(aggregates["receivedPacketsLostPct"], abs=0.01)


@pytest.mark.parametrize("path", [FIREFOX, SAFARI], ids=lambda p: p.name)
def test_mean_rtt_through_process_report_agrees_with_jitsi(path: Path) -> None:
    ours_ms = mean_send_rtt_ms([s for _, s in samples(list(read_dump(path.read_bytes())))])
    jitsi_ms = 1000 * expected(path)["transportAggregates"]["meanRtt"]  # rounded to 10 ms
    assert ours_ms == pytest.approx(jitsi_ms, abs=5 + 1)
    # Against jitsi's unrounded value: the same RTCP round trips (Firefox), or the ICE pair's
    # (Safari), a millisecond apart at most.
    assert ours_ms == pytest.approx(1000 * _jitsi_rtt_s(path), abs=1)


def _by_pc(pairs: Iterator[tuple[str, Sample]]) -> dict[str, list[Sample]]:
    out: dict[str, list[Sample]] = {}
    for pc_id, sample in pairs:
        out.setdefault(pc_id, []).append(sample)
    return out


def test_chrome144_dumps_give_the_same_samples_over_their_common_time() -> None:
    internals = list(read_dump(INTERNALS_144.read_bytes()))
    end_ms = max(r.timestamp_ms for r in internals)
    dump = [r for r in read_dump(RTCSTATSDUMP_144.read_bytes()) if r.timestamp_ms <= end_ms]
    a, b = _by_pc(samples(internals)), _by_pc(samples(dump))
    assert a.keys() == b.keys() == {"92-1", "94-1"}
    for pc_id in a:
        assert a[pc_id] == b[pc_id]
        assert recv_totals(a[pc_id]) == recv_totals(b[pc_id])
        assert recv_totals(a[pc_id])[0] > 10_000
        assert mean_send_rtt_ms(a[pc_id]) == pytest.approx(mean_send_rtt_ms(b[pc_id]))


# --- Chrome's legacy stats, against jitsi's extractor -------------------------------------------

def aggregates(path: Path, pc_id: str) -> dict[str, Any]:
    doc = json.loads(path.with_name(path.stem + ".expected-features.json").read_text())
    pc: dict[str, Any] = doc["expectedExtractData"]["features"]["aggregates"][pc_id]
    return pc


def legacy_features(pc_id: str) -> dict[str, Any]:
    """The older extractor's output for the legacy dump (src/test/results/): one entry per pc."""
    doc = json.loads(LEGACY_P2P.with_name(LEGACY_P2P.stem + ".expected-features.json").read_text())
    (entry,) = [e for e in doc if e["connId"] == pc_id]
    features: dict[str, Any] = entry["connectionFeatures"]
    return features


def pc_reports(path: Path, pc_id: str) -> list[DumpReport]:
    return [r for r in read_dump(path.read_bytes()) if r.peer_connection_id == pc_id]


def pc_samples(path: Path, pc_id: str) -> list[Sample]:
    return [s for pc, s in samples(pc_reports(path, pc_id)) if pc == pc_id]


def sent_totals(pc_samples: list[Sample]) -> tuple[int, int]:
    packets = lost = 0
    for s in pc_samples:
        for kind in ("audio", "video"):
            media = s.media(kind)
            if media is not None and media.send is not None:
                packets += media.send.packets or 0
                lost += media.send.packets_lost or 0
    return packets, lost


def pair_rtts_s(reports: list[DumpReport]) -> list[float]:
    """jitsi's RTT for Chrome: the selected candidate pair's, in every report."""
    return [
        o["currentRoundTripTime"]
        for r in reports
        for o in r.report
        if o["type"] == "candidate-pair" and o.get("selected") and "currentRoundTripTime" in o
    ]


@pytest.mark.parametrize("pc_id", ["PC_0", "PC_1"])
def test_chrome96_final_legacy_counters_are_jitsis_packet_totals(pc_id: str) -> None:
    reports = pc_reports(CHROME96, pc_id)
    track = aggregates(CHROME96, pc_id)["trackAggregates"]
    received = sum(o["packetsReceived"] for o in final_counters(reports, "inbound-rtp").values())
    sent = sum(o["packetsSent"] for o in final_counters(reports, "outbound-rtp").values())
    assert (received, sent) == (track["totalPacketsReceived"], track["totalPacketsSent"])
    lost = sum(o.get("packetsLost", 0) for o in final_counters(reports, "inbound-rtp").values())
    assert lost == track["totalReceivedPacketsLost"] == 0


@pytest.mark.parametrize("pc_id", ["PC_0", "PC_1"])
def test_chrome96_intervals_count_what_came_after_each_streams_first_report(pc_id: str) -> None:
    reports = pc_reports(CHROME96, pc_id)
    packets, lost = sent_totals(pc_samples(CHROME96, pc_id))
    first: dict[int, int] = {}
    for r in reports:
        for o in r.report:
            if o["type"] == "outbound-rtp":
                first.setdefault(o["ssrc"], o["packetsSent"])
    finals = final_counters(reports, "outbound-rtp")
    assert packets == sum(finals[ssrc]["packetsSent"] - n for ssrc, n in first.items())
    assert lost == 0 == aggregates(CHROME96, pc_id)["trackAggregates"]["totalSentPacketsLost"]


def test_chrome96_mean_rtt_is_jitsis_from_the_same_pairs_and_ours_from_the_intervals() -> None:
    """jitsi read Chrome's legacy googRtt as it is, in ms: meanRtt 40.33 (its standard-stats
    dumps say seconds). Recomputed from our rebuilt pairs: the same mean of 48, 38 and 35 ms.
    Ours is the mean over the two intervals, so without the first report's 48 ms."""
    reports = pc_reports(CHROME96, "PC_1")
    jitsi_ms = aggregates(CHROME96, "PC_1")["transportAggregates"]["meanRtt"]
    assert round(1000 * statistics.mean(pair_rtts_s(reports)), 2) == jitsi_ms == 40.33
    assert mean_send_rtt_ms(pc_samples(CHROME96, "PC_1")) == pytest.approx((38 + 35) / 2)
    # PC_0's pair says googRtt "0" throughout: not measured, unknown here (jitsi: 0).
    assert pair_rtts_s(pc_reports(CHROME96, "PC_0")) == []
    assert aggregates(CHROME96, "PC_0")["transportAggregates"]["meanRtt"] == 0


@pytest.mark.parametrize("pc_id", ["PC_0", "PC_1"])
def test_legacy_p2p_packets_sent_and_lost_are_jitsis_exactly(pc_id: str) -> None:
    """The stream's first reports say 0 packets sent, so every packet is in an interval."""
    features = legacy_features(pc_id)
    by_kind = {"audio": [0, 0], "video": [0, 0]}
    for s in pc_samples(LEGACY_P2P, pc_id):
        for kind, totals in by_kind.items():
            media = s.media(kind)
            if media is not None and media.send is not None:
                totals[0] += media.send.packets or 0
                totals[1] += media.send.packets_lost or 0
    assert by_kind == {
        "audio": [features["statsAudioPacketsSentTotal"], features["statsAudioPacketsLostTotal"]],
        "video": [features["statsVideoPacketsSentTotal"], features["statsVideoPacketsLostTotal"]],
    }


@pytest.mark.parametrize("pc_id", ["PC_0", "PC_1"])
def test_legacy_p2p_jitsis_rtt_and_bitrates_recomputed_from_our_reports(pc_id: str) -> None:
    """jitsi: mean selected-pair RTT (s, 2 decimals), and mean of 8·Δbytes/Δms over the pair
    (kbit/s, floored): the same figures from our rebuilt candidate pairs."""
    reports = pc_reports(LEGACY_P2P, pc_id)
    features = legacy_features(pc_id)
    assert round(statistics.mean(pair_rtts_s(reports)), 2) == features["statsMeanRoundTripTime"]
    send, recv = _pair_kbps(reports)
    assert (math.floor(send), math.floor(recv)) == (
        features["statsMeanSendingBitrate"],
        features["statsMeanReceivingBitrate"],
    )


def _pair_kbps(reports: list[DumpReport]) -> tuple[float, float]:
    send: list[float] = []
    recv: list[float] = []
    previous: tuple[float, dict[str, Any]] | None = None
    for r in reports:
        pair = next((o for o in r.report if o["type"] == "candidate-pair"), None)
        if pair is None:
            continue
        if previous is not None:
            dt_ms = r.timestamp_ms - previous[0]
            for out, name in ((send, "bytesSent"), (recv, "bytesReceived")):
                rate = 8 * (pair[name] - previous[1][name]) / dt_ms
                if rate > 0:  # jitsi drops counter resets
                    out.append(rate)
        previous = (r.timestamp_ms, pair)
    return statistics.mean(send), statistics.mean(recv)


@pytest.mark.parametrize("pc_id", ["PC_0", "PC_1"])
def test_legacy_p2p_mean_rtt_through_process_report_agrees_with_jitsi(pc_id: str) -> None:
    """Ours is the streams' RTCP round trip (googRtt of ssrc_*_send), the pair's STUN one only
    before the first RTCP answer: within 2 ms of jitsi's unrounded pair mean (the same path
    measured two ways), and within jitsi's 2-decimal rounding (5 ms) + 1 ms of its figure."""
    ours_ms = mean_send_rtt_ms(pc_samples(LEGACY_P2P, pc_id))
    jitsi_ms = 1000 * statistics.mean(pair_rtts_s(pc_reports(LEGACY_P2P, pc_id)))
    assert ours_ms == pytest.approx(jitsi_ms, abs=2)
    assert ours_ms == pytest.approx(1000 * legacy_features(pc_id)["statsMeanRoundTripTime"], abs=6)


@pytest.mark.parametrize("pc_id", ["PC_0", "PC_1"])
def test_legacy_p2p_bitrates_are_the_pairs_less_packet_overheads(pc_id: str) -> None:
    """jitsi's bitrate counts the candidate pair's bytes: every RTP packet with its header,
    extensions and SRTP tag, plus RTCP and STUN. Ours counts payload bytes (bytesSent,
    bytesReceived): lower, by at most 60 bytes a packet (12 B header, ≤ 28 B of the header
    extensions Chrome sends, 10 B tag, and RTCP/STUN traffic)."""
    features = legacy_features(pc_id)
    ss = pc_samples(LEGACY_P2P, pc_id)
    seconds = sum(s.interval_ms for s in ss) / 1000
    for direction, jitsi_kbps in (("send", features["statsMeanSendingBitrate"]),
                                  ("recv", features["statsMeanReceivingBitrate"])):  # fmt: skip
        bits = packets = 0.0
        for s in ss:
            for kind in ("audio", "video"):
                media = s.media(kind)
                d = getattr(media, direction) if media is not None else None
                if d is not None and d.bitrate_bps is not None:
                    bits += d.bitrate_bps * s.interval_ms / 1000
                    packets += d.packets or 0
        ours_kbps = bits / seconds / 1000
        overhead_kbps = packets * 60 * 8 / seconds / 1000
        assert jitsi_kbps - overhead_kbps <= ours_kbps <= jitsi_kbps + 1, (direction, ours_kbps)


# --- The same call seen from a standard-stats dump ----------------------------------------------

def _ssrc_series(path: Path, stats_type: str, counter: str, ssrc: int) -> list[tuple[float, int]]:
    return [(r.timestamp_ms, o[counter]) for r in read_dump(path.read_bytes()) for o in r.report
            if o["type"] == stats_type and o.get("ssrc") == ssrc and counter in o]  # fmt: skip


@pytest.mark.parametrize(
    ("sender", "receiver", "ssrc"),
    [(LEGACY_P2P, FIREFOX, 876450406), (FIREFOX, LEGACY_P2P, 1426121629)],
    ids=["chrome-legacy-to-firefox", "firefox-to-chrome-legacy"],
)
def test_audio_across_the_bridge_agrees_with_the_standard_stats_dump_of_the_same_call(
    sender: Path, receiver: Path, ssrc: int
) -> None:
    """The legacy Chrome dump, Firefox's and Safari's are of one jitsi conference (one bridge,
    12 SSRCs in common): Chrome's audio SSRC 876450406 is in Firefox's inbound-rtp, Firefox's
    1426121629 in Chrome's legacy ssrc_*_recv. The bridge forwards audio packet by packet, so
    over their common minute the sender's packets per second (its own counters, from the
    legacy mapping on one side) and the receiver's agree; each side's rate comes from its own
    reports' times, so only packets in flight at the window's ends differ: within 1 %. Neither
    side lost any of them. (Byte counts are not compared: Safari and Firefox count different
    payload bytes for the same packets.)"""
    sent = _ssrc_series(sender, "outbound-rtp", "packetsSent", ssrc)
    received = _ssrc_series(receiver, "inbound-rtp", "packetsReceived", ssrc)
    start = max(sent[0][0], received[0][0])
    end = min(sent[-1][0], received[-1][0])
    assert end - start > 55_000  # about a minute in common

    def rate(series: list[tuple[float, int]]) -> float:
        inside = [p for p in series if start <= p[0] <= end]
        (t0, n0), (t1, n1) = inside[0], inside[-1]
        return (n1 - n0) / ((t1 - t0) / 1000)

    assert rate(sent) == pytest.approx(rate(received), rel=0.01)
    assert rate(sent) == pytest.approx(50, rel=0.02)  # Opus, 20 ms frames
    lost = _ssrc_series(receiver, "inbound-rtp", "packetsLost", ssrc)
    assert lost[-1][1] == 0
