"""One interval's per-stream deltas → the normalized Sample, per media kind and direction.

Several streams of one kind and direction (simulcast layers, one inbound stream per remote
participant behind an SFU) are combined: packets, losses, bytes and freezes add up; jitter and
RTT are averaged over the streams that report them; resolution and frame rate are those of the
largest stream that carried media in the interval (the top simulcast layer, the biggest tile).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from statistics import fmean

from callquality.ingest.rtcstats import (
    INBOUND,
    OUTBOUND,
    REMOTE_INBOUND,
    REMOTE_OUTBOUND,
    ParsedReport,
    RtpStream,
)
from callquality.ingest.sample import DirectionStats, MediaStats, Sample


@dataclass(frozen=True, slots=True)
class StreamDelta:
    """One stream over the interval: counter deltas, and the seconds they took."""

    stream: RtpStream
    deltas: dict[str, float]  # only counters with a valid delta; empty for a new stream
    dt_s: float | None  # positive elapsed seconds by the stats' own clock, else None (no rates)
    new: bool  # first seen (or restarted) in this report: a baseline, contributes no deltas

    def delta(self, name: str) -> float | None:
        """The counter's delta over the interval, if known."""
        return self.deltas.get(name)

    def rate(self, name: str) -> float | None:
        """The counter's delta per second, if both are known."""
        d = self.deltas.get(name)
        return d / self.dt_s if d is not None and self.dt_s is not None else None

    def value(self, name: str) -> float | None:
        """The stream's current (non-cumulative) value of a field."""
        return self.stream.values.get(name)


def build_sample(interval_ms: int, deltas: list[StreamDelta], parsed: ParsedReport) -> Sample:
    """The sample of one interval from its stream deltas."""
    media: dict[str, MediaStats | None] = {}
    codecs: dict[str, str | None] = {}
    for kind in ("audio", "video"):
        of_kind = [d for d in deltas if d.stream.kind == kind]
        send = _send(kind, of_kind, parsed)
        recv = _recv(kind, of_kind, parsed)
        media[kind] = MediaStats(send=send, recv=recv) if send or recv else None
        codecs[kind] = _codec(of_kind)
    return Sample(
        interval_ms=interval_ms,
        audio=media["audio"],
        video=media["video"],
        codec_audio=codecs["audio"],
        codec_video=codecs["video"],
    )


def _send(kind: str, ds: list[StreamDelta], parsed: ParsedReport) -> DirectionStats | None:
    out = [d for d in ds if d.stream.type == OUTBOUND]
    remote = [d for d in ds if d.stream.type == REMOTE_INBOUND]
    if not out and not remote:
        return None
    rtts = [r for r in (_rtt_s(d) for d in remote) if r is not None]
    rtt_s = fmean(rtts) if rtts else parsed.pair_rtt_s
    top = _largest(out, "bytesSent")
    width, height, fps = _picture(top, "framesEncoded") if kind == "video" else (None, None, None)
    return DirectionStats(
        packets=_count(d.delta("packetsSent") for d in out),
        packets_lost=_count(d.delta("packetsLost") for d in remote),
        bitrate_bps=_bits(d.rate("bytesSent") for d in out),
        rtt_ms=rtt_s * 1000.0 if rtt_s is not None else None,
        jitter_ms=_mean_ms(d.value("jitter") for d in remote),
        width=width,
        height=height,
        frame_rate=fps,
        quality_limitation_reason=(
            top.stream.quality_limitation_reason if top is not None and kind == "video" else None
        ),
        available_outgoing_bitrate_bps=parsed.available_outgoing_bitrate_bps if out else None,
    )


def _recv(kind: str, ds: list[StreamDelta], parsed: ParsedReport) -> DirectionStats | None:
    inbound = [d for d in ds if d.stream.type == INBOUND]
    if not inbound:
        return None
    # The receiver's own round trip: remote-outbound-rtp.roundTripTime (RTCP XR DLRR, when
    # the sender sends it), else the selected candidate pair's. A receive-only participant
    # has no send side, and its experienced delay must still reach its audio score.
    receiver_rtts = [
        r
        for r in (d.value("roundTripTime") for d in ds if d.stream.type == REMOTE_OUTBOUND)
        if r
    ]
    rtt_s = fmean(receiver_rtts) if receiver_rtts else parsed.pair_rtt_s
    bitrate = _bits(d.rate("bytesReceived") for d in inbound)
    if bitrate is None and all(d.value("bytesReceived") is None for d in inbound):
        # aiortc has no bytesReceived: use the sender's own byte count from its RTCP SR.
        bitrate = _bits(d.rate("bytesSent") for d in ds if d.stream.type == REMOTE_OUTBOUND)
    freeze_s = _sum(d.delta("totalFreezesDuration") for d in inbound)
    video = kind == "video"
    width, height, fps = _picture(_largest(inbound, "bytesReceived"), "framesDecoded")
    return DirectionStats(
        packets=_count(d.delta("packetsReceived") for d in inbound),
        packets_lost=_count(d.delta("packetsLost") for d in inbound),
        bitrate_bps=bitrate,
        rtt_ms=rtt_s * 1000.0 if rtt_s is not None else None,
        jitter_ms=_mean_ms(d.value("jitter") for d in inbound),
        width=width if video else None,
        height=height if video else None,
        frame_rate=fps if video else None,
        freeze_count=_count(d.delta("freezeCount") for d in inbound) if video else None,
        freeze_duration_ms=freeze_s * 1000.0 if video and freeze_s is not None else None,
        concealed_ratio=None if video else _concealed_ratio(inbound),
    )


def _rtt_s(d: StreamDelta) -> float | None:
    """This interval's mean RTT of one remote-inbound stream, else its latest RTT."""
    measurements = d.delta("roundTripTimeMeasurements")
    total = d.delta("totalRoundTripTime")
    if measurements and total is not None:
        return total / measurements
    rtt = d.value("roundTripTime")
    if rtt is None:
        return None
    # Safari and Firefox say 0 before the first RTCP receiver report has been answered.
    if rtt == 0 and not d.value("roundTripTimeMeasurements"):
        return None
    return rtt


def _largest(ds: list[StreamDelta], bytes_counter: str) -> StreamDelta | None:
    """The stream with the largest picture among those that carried bytes in the interval."""
    if not ds:
        return None
    active = [d for d in ds if (d.delta(bytes_counter) or 0) > 0] or ds
    return max(
        active,
        key=lambda d: (
            (d.value("frameWidth") or 0) * (d.value("frameHeight") or 0),
            d.delta(bytes_counter) or 0,
        ),
    )


def _picture(
    d: StreamDelta | None, frames_counter: str
) -> tuple[int | None, int | None, float | None]:
    if d is None:
        return None, None, None
    width, height = d.value("frameWidth"), d.value("frameHeight")
    fps = d.value("framesPerSecond")
    if fps is None:
        fps = d.rate(frames_counter)
    return (
        int(width) if width else None,  # 0 means no frame yet (Safari's track stats)
        int(height) if height else None,
        fps,
    )


def _concealed_ratio(inbound: list[StreamDelta]) -> float | None:
    concealed = _sum(d.delta("concealedSamples") for d in inbound)
    received = _sum(d.delta("totalSamplesReceived") for d in inbound)
    if concealed is None or not received:
        return None
    return min(1.0, concealed / received)


def _codec(ds: list[StreamDelta]) -> str | None:
    ordered = sorted(ds, key=lambda d: (d.stream.type != OUTBOUND, d.stream.type != INBOUND))
    return next((d.stream.codec for d in ordered if d.stream.codec), None)


def _sum(values: Iterable[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def _count(values: Iterable[float | None]) -> int | None:
    total = _sum(values)
    return round(total) if total is not None else None


def _bits(bytes_per_s: Iterable[float | None]) -> float | None:
    total = _sum(bytes_per_s)
    return total * 8.0 if total is not None else None


def _mean_ms(seconds: Iterable[float | None]) -> float | None:
    known = [v for v in seconds if v is not None]
    return fmean(known) * 1000.0 if known else None
