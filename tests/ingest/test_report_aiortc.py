"""A real aiortc loopback call: its getStats() output goes through process_report."""

from __future__ import annotations

import asyncio
import datetime
import json
import math
from array import array
from typing import Any

import aiortc  # a test dependency (pyproject [test]): never skipped
import pytest
from aiortc.contrib.media import MediaBlackhole
from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack

from callquality.domain.sample import Sample
from callquality.ingest.aiortc_compat import aiortc_report_to_dicts
from callquality.ingest.report import process_report

# 20 ms of a 400 Hz tone at 8 kHz (AudioStreamTrack's format, s16 mono): exactly 8 periods.
_TONE = array("h", (int(8000 * math.sin(2 * math.pi * 400 * i / 8000)) for i in range(160)))


class ToneTrack(AudioStreamTrack):
    """aiortc's audio test track, but a tone: silence encodes to 3-byte Opus frames."""

    async def recv(self) -> Any:
        frame = await super().recv()
        frame.planes[0].update(_TONE.tobytes())
        return frame


CALL_S = 5.0
EVERY_S = 1.0

Reports = list[tuple[float, list[dict[str, Any]]]]


async def loopback_call() -> tuple[Reports, Reports]:
    """Two peer connections in one loop, audio and video from a to b; reports of both."""
    a, b = aiortc.RTCPeerConnection(), aiortc.RTCPeerConnection()
    sink = MediaBlackhole()
    b.on("track", sink.addTrack)
    a.addTrack(ToneTrack())
    a.addTrack(VideoStreamTrack())
    try:
        await a.setLocalDescription(await a.createOffer())
        await b.setRemoteDescription(a.localDescription)
        await b.setLocalDescription(await b.createAnswer())
        await a.setRemoteDescription(b.localDescription)
        await sink.start()
        sent: Reports = []
        received: Reports = []
        for _ in range(int(CALL_S / EVERY_S)):
            await asyncio.sleep(EVERY_S)
            for pc, out in ((a, sent), (b, received)):
                report = aiortc_report_to_dicts(await pc.getStats())
                # The API receives JSON: make sure the converted report is plain JSON.
                out.append((_now_ms(), json.loads(json.dumps(report))))
        return sent, received
    finally:
        await sink.stop()
        await a.close()
        await b.close()


def _now_ms() -> float:
    return datetime.datetime.now(datetime.UTC).timestamp() * 1000.0


def samples(reports: Reports) -> list[Sample]:
    state: dict[str, Any] | None = None
    out = []
    for t, report in reports:
        sample, state = process_report(state, t, report)
        if sample is not None:
            out.append(sample)
    return out


@pytest.fixture(scope="module")
def call() -> tuple[list[Sample], list[Sample]]:
    sent, received = asyncio.run(asyncio.wait_for(loopback_call(), 60))
    return samples(sent), samples(received)


@pytest.mark.slow
def test_aiortc_sender_has_non_zero_audio_and_video_bitrates(
    call: tuple[list[Sample], list[Sample]],
) -> None:
    sent, _ = call
    assert len(sent) == int(CALL_S / EVERY_S) - 1
    last = sent[-1]
    assert last.audio is not None and last.audio.send is not None
    assert last.video is not None and last.video.send is not None
    # Opus at 20 ms frames: 50 packets/s; aiortc's encoder targets 96 kbit/s for a tone.
    assert 5_000 < (last.audio.send.bitrate_bps or 0) < 200_000
    assert 40 <= (last.audio.send.packets or 0) <= 60
    assert 1_000 < (last.video.send.bitrate_bps or 0) < 5_000_000
    assert (last.video.send.packets or 0) > 0


@pytest.mark.slow
def test_aiortc_sender_learns_rtt_and_loss_from_receiver_reports(
    call: tuple[list[Sample], list[Sample]],
) -> None:
    sent, _ = call
    last = sent[-1]
    assert last.video is not None and last.video.send is not None
    assert last.video.send.rtt_ms is not None and 0 <= last.video.send.rtt_ms < 100
    assert last.video.send.packets_lost == 0
    assert last.video.send.jitter_ms is not None and last.video.send.jitter_ms < 100


@pytest.mark.slow
def test_aiortc_receiver_counts_packets_and_jitter_in_ms(
    call: tuple[list[Sample], list[Sample]],
) -> None:
    _, received = call
    last = received[-1]
    assert last.audio is not None and last.audio.recv is not None
    assert 40 <= (last.audio.recv.packets or 0) <= 60
    assert last.audio.recv.packets_lost == 0
    jitter = last.audio.recv.jitter_ms
    assert jitter is not None and 0 <= jitter < 100  # seconds → ms, not RTP timestamp units
    # aiortc has no bytesReceived: the bitrate comes from the sender's RTCP SR byte count.
    rates = [s.video.recv.bitrate_bps for s in received if s.video and s.video.recv]
    assert any(r is not None and r > 1_000 for r in rates)


def test_aiortc_stats_convert_to_w3c_dicts() -> None:
    from aiortc.stats import (
        RTCInboundRtpStreamStats,
        RTCRemoteInboundRtpStreamStats,
        RTCRemoteOutboundRtpStreamStats,
    )

    when = datetime.datetime(2026, 1, 2, 3, 4, 5, 600_000, tzinfo=datetime.UTC)
    ntp_zero = datetime.datetime(1900, 1, 1, tzinfo=datetime.UTC)
    report = {
        "in": RTCInboundRtpStreamStats(
            timestamp=when,
            type="inbound-rtp",
            id="inbound-rtp_1",
            ssrc=5,
            kind="video",
            transportId="t",
            packetsReceived=10,
            packetsLost=0,
            jitter=900,
        ),
        "ri": RTCRemoteInboundRtpStreamStats(
            timestamp=when,
            type="remote-inbound-rtp",
            id="remote-inbound-rtp_2",
            ssrc=6,
            kind="audio",
            transportId="t",
            packetsReceived=10,
            packetsLost=1,
            jitter=96,
            roundTripTime=0.02,
            fractionLost=64,
        ),
        "ro": RTCRemoteOutboundRtpStreamStats(
            timestamp=when,
            type="remote-outbound-rtp",
            id="remote-outbound-rtp_3",
            ssrc=5,
            kind="video",
            transportId="t",
            packetsSent=0,
            bytesSent=0,
            remoteTimestamp=ntp_zero,
        ),
    }
    inbound, remote_in, remote_out = aiortc_report_to_dicts(report)
    assert inbound["timestamp"] == when.timestamp() * 1000
    assert inbound["jitter"] == 900  # RTP units: ingest/rtcstats.py converts them, once
    assert remote_in["fractionLost"] == 0.25
    assert "remoteTimestamp" not in remote_out  # NTP time 0: sent before any RTP packet
    json.dumps([inbound, remote_in, remote_out], allow_nan=False)


def test_aiortc_clock_rates_can_be_given_per_kind() -> None:
    def stats(t: float, packets: int) -> dict[str, Any]:
        return {"id": "inbound-rtp_1", "type": "inbound-rtp", "kind": "audio", "ssrc": 1,
                "timestamp": t, "packetsReceived": packets, "packetsLost": 0, "jitter": 80}

    rates = {"audio": 8000.0}  # PCMU: 8 kHz
    _, state = process_report(None, 1000, aiortc_report_to_dicts({"x": stats(1000, 1)}, rates))
    sample, _ = process_report(state, 2000, aiortc_report_to_dicts({"x": stats(2000, 51)}, rates))
    assert sample is not None and sample.audio is not None and sample.audio.recv is not None
    assert sample.audio.recv.jitter_ms == pytest.approx(10.0)  # 80 units / 8 kHz


def test_converted_aiortc_jitter_is_not_converted_twice() -> None:
    def stats(t: float, packets: int) -> dict[str, Any]:
        return {
            "id": "inbound-rtp_1",
            "type": "inbound-rtp",
            "kind": "video",
            "ssrc": 1,
            "timestamp": t,
            "packetsReceived": packets,
            "packetsLost": 0,
            "jitter": 900,
        }

    _, state = process_report(None, 1000, aiortc_report_to_dicts({"x": stats(1000, 1)}))
    sample, _ = process_report(state, 2000, aiortc_report_to_dicts({"x": stats(2000, 31)}))
    assert sample is not None and sample.video is not None and sample.video.recv is not None
    assert sample.video.recv.jitter_ms == pytest.approx(10.0)
