"""Dumps through process_report, checked against jitsi rtcstats-server's own features.

``*.expected-features.json`` holds what jitsi's extractor computed from the same dumps. Where its
definitions differ from ours the test checks the difference is exactly the one docs/dumps.md
explains ("Comparison with jitsi's features").
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_dumps import FIREFOX, INTERNALS_144, RTCSTATSDUMP_144, SAFARI

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
