"""A real aiortc loopback call: its getStats() output goes through process_report."""

from __future__ import annotations

import asyncio
import datetime
import json
import math
from array import array
from typing import Any

import pytest

from callquality.ingest.aiortc_compat import aiortc_report_to_dicts
from callquality.ingest.report import process_report
from callquality.ingest.sample import Sample

aiortc = pytest.importorskip("aiortc")
from aiortc.contrib.media import MediaBlackhole  # noqa: E402
from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack  # noqa: E402

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
