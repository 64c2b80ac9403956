"""One interval's per-stream deltas → the normalized Sample, per media kind and direction.

Several streams of one kind and direction (simulcast layers, one inbound stream per remote
participant behind an SFU) are combined: packets, losses, bytes and freezes add up; jitter and
RTT are averaged over the streams that report them; resolution and frame rate are those of the
largest stream that carried media in the interval (the top simulcast layer, the biggest tile).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from callquality.domain.sample import DirectionStats, MediaStats, Sample
from callquality.ingest.rtcstats import ParsedReport, RtpStream
from callquality.ingest.stats_fields import (
    INBOUND,
    OUTBOUND,
    REMOTE_INBOUND,
    REMOTE_OUTBOUND,
)


@dataclass(slots=True)  # not frozen, for the reason given at RtpStream
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
    # The streams of each kind and type, in report order.
    groups: dict[tuple[str, str], list[StreamDelta]] = {}
    for d in deltas:
        groups.setdefault((d.stream.kind, d.stream.type), []).append(d)
    media: dict[str, MediaStats | None] = {}
    codecs: dict[str, str | None] = {}
    for kind in ("audio", "video"):
        out = groups.get((kind, OUTBOUND), [])
        inbound = groups.get((kind, INBOUND), [])
        send = _send(kind, out, groups.get((kind, REMOTE_INBOUND), []), parsed)
        recv = _recv(kind, inbound, groups.get((kind, REMOTE_OUTBOUND), []), parsed)
        media[kind] = MediaStats(send, recv) if send or recv else None
        codecs[kind] = _codec(kind, out, inbound, deltas)
    return Sample(interval_ms, media["audio"], media["video"], codecs["audio"], codecs["video"])


def _send(
    kind: str, out: list[StreamDelta], remote: list[StreamDelta], parsed: ParsedReport
) -> DirectionStats | None:
    if not out and not remote:
        return None
    rtts = []
    for d in remote:
        if (r := _rtt_s(d)) is not None:
            rtts.append(r)
    rtt_s = _fmean(rtts) if rtts else parsed.pair_rtt_s
    muted_ratio = None
    if kind == "video":
        top = _largest(out, "bytesSent")
        width, height, fps = _picture(top, "framesEncoded")
        reason = top.stream.quality_limitation_reason if top is not None else None
    else:
        width = height = fps = reason = None
        muted_ratio = _microphone_muted(out)
    # Positional, in the order of DirectionStats' fields: keywords cost a third more.
    return DirectionStats(
        _count(out, "packetsSent"),  # packets
        _count(remote, "packetsLost"),  # packets_lost
        _bits(out, "bytesSent"),  # bitrate_bps
        rtt_s * 1000.0 if rtt_s is not None else None,  # rtt_ms
        _mean_ms(remote, "jitter"),  # jitter_ms
        width,
        height,
        fps,  # frame_rate
        None,  # freeze_count
        None,  # freeze_duration_ms
        None,  # concealed_ratio
        None,  # silent_concealed_ratio
        muted_ratio,
        reason,  # quality_limitation_reason
        parsed.available_outgoing_bitrate_bps if out else None,
    )


def _recv(
    kind: str, inbound: list[StreamDelta], remote: list[StreamDelta], parsed: ParsedReport
) -> DirectionStats | None:
    if not inbound:
        return None
    # The receiver's own round trip: remote-outbound-rtp.roundTripTime (RTCP XR DLRR, when
    # the sender sends it), else the selected candidate pair's. A receive-only participant
    # has no send side, and its experienced delay must still reach its audio score.
    receiver_rtts = []
    for d in remote:
        if r := d.stream.values.get("roundTripTime"):
            receiver_rtts.append(r)
    rtt_s = _fmean(receiver_rtts) if receiver_rtts else parsed.pair_rtt_s
    bitrate = _bits(inbound, "bytesReceived")
    if bitrate is None and all(d.value("bytesReceived") is None for d in inbound):
        # aiortc has no bytesReceived: use the sender's own byte count from its RTCP SR.
        bitrate = _bits(remote, "bytesSent")
    if kind == "video":
        width, height, fps = _picture(_largest(inbound, "bytesReceived"), "framesDecoded")
        freeze_count = _count(inbound, "freezeCount")
        freeze_s = _sum(inbound, "totalFreezesDuration")
        freeze_ms = freeze_s * 1000.0 if freeze_s is not None else None
        concealed_ratio = silent_ratio = muted_ratio = None
    else:
        width = height = fps = freeze_count = freeze_ms = None
        concealed_ratio, silent_ratio, muted_ratio = _concealment(inbound)
    return DirectionStats(  # positional, as in _send
        _count(inbound, "packetsReceived"),  # packets
        _count(inbound, "packetsLost"),  # packets_lost
        bitrate,  # bitrate_bps
        rtt_s * 1000.0 if rtt_s is not None else None,  # rtt_ms
        _mean_ms(inbound, "jitter"),  # jitter_ms
        width,
        height,
        fps,  # frame_rate
        freeze_count,
        freeze_ms,  # freeze_duration_ms
        concealed_ratio,
        silent_ratio,  # silent_concealed_ratio
        muted_ratio,
        None,  # quality_limitation_reason
        None,  # available_outgoing_bitrate_bps
    )


def _rtt_s(d: StreamDelta) -> float | None:
    """This interval's mean RTT of one remote-inbound stream, else its latest RTT."""
    measurements = d.deltas.get("roundTripTimeMeasurements")
    total = d.deltas.get("totalRoundTripTime")
    if measurements and total is not None:
        return total / measurements
    rtt = d.stream.values.get("roundTripTime")
    if rtt is None:
        return None
    # Safari and Firefox say 0 before the first RTCP receiver report has been answered.
    if rtt == 0 and not d.stream.values.get("roundTripTimeMeasurements"):
        return None
    return rtt


def _largest(ds: list[StreamDelta], bytes_counter: str) -> StreamDelta | None:
    """The stream with the largest picture among those that carried bytes in the interval."""
    if len(ds) <= 1:  # the usual case: nothing to compare
        return ds[0] if ds else None
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
    values = d.stream.values
    width, height = values.get("frameWidth"), values.get("frameHeight")
    fps = values.get("framesPerSecond")
    if fps is None:
        fps = d.rate(frames_counter)
    return (
        int(width) if width else None,  # 0 means no frame yet (Safari's track stats)
        int(height) if height else None,
        fps,
    )


# A microphone that sent digital silence: its media-source's mean square level (Δ
# totalAudioEnergy / Δ totalSamplesDuration) below 10^-10 (−100 dBov). Chromium feeds a disabled
# track's silence to WebRTC, so its energy stops growing (0.0 exactly, in our muted calls).
SILENT_MEAN_SQUARE = 1.0e-10


def _microphone_muted(out: list[StreamDelta]) -> float | None:
    """1.0 when the sent audio's source was silent over the interval, 0.0 when not."""
    energy = _sum(out, "sourceTotalAudioEnergy")
    duration = _sum(out, "sourceTotalSamplesDuration")
    if energy is None or not duration:
        return None
    return 1.0 if energy / duration < SILENT_MEAN_SQUARE else 0.0


# A received audio stream, judged by its own counters over the interval (docs/metrics.md,
# "Concealment and muted audio"). Opus sends a packet every 20 ms while there is speech and,
# with DTX, one every 400 ms in silence (RFC 7587 §3.1.3, libopus): a stream that received
# (or lost) fewer packets than 90 % of one per 20 ms of audio used DTX for part of the
# interval, and its concealment is mostly comfort noise, not loss; one with at most 10 % of
# them, or whose concealment was at least half silent samples, or whose packets carried at
# most 8 bytes of payload on average (the 3-byte Opus frames of digital silence a disabled
# Chromium track sends; speech takes tens of bytes, G.711 always 160), carried no speech at
# all (the sender muted, or silent).
PACKET_MS = 20.0
DTX_PACKET_SHARE = 0.9
SILENT_PACKET_SHARE = 0.1
SILENT_CONCEALED_SHARE = 0.5
SILENT_PAYLOAD_BYTES = 8.0


def _concealment(
    inbound: list[StreamDelta],
) -> tuple[float | None, float | None, float | None]:
    """(audible concealed ratio, silent concealed ratio, muted ratio) over the received samples.

    Audible concealment is concealedSamples − silentConcealedSamples of streams that carried
    speech without DTX; a DTX stream counts its network loss instead (its concealment is
    comfort noise), a silent stream counts nothing. Where the browser does not report
    silentConcealedSamples, all concealment is audible and no stream is judged.
    """
    received_total = audible = silent_total = muted = 0.0
    known = False
    for d in inbound:
        received = d.deltas.get("totalSamplesReceived")
        concealed = d.deltas.get("concealedSamples")
        if not received or concealed is None:
            continue
        known = True
        received_total += received
        silent = d.deltas.get("silentConcealedSamples")
        if silent is None:
            audible += concealed
            continue
        silent = min(silent, concealed)
        silent_total += silent
        share = _packet_share(d)
        if (
            silent >= SILENT_CONCEALED_SHARE * received
            or (share is not None and share <= SILENT_PACKET_SHARE)
            or _silent_payload(d)
        ):
            muted += received
        elif share is not None and share < DTX_PACKET_SHARE:
            packets = d.deltas.get("packetsReceived") or 0.0
            lost = d.deltas.get("packetsLost") or 0.0
            audible += received * lost / (packets + lost) if packets + lost > 0 else 0.0
        else:
            audible += concealed - silent
    if not known:
        return None, None, None
    return (
        min(1.0, audible / received_total),
        min(1.0, silent_total / received_total),
        min(1.0, muted / received_total),
    )


def _silent_payload(d: StreamDelta) -> bool:
    """Whether the stream's packets carried silence frames only (≤ 8 bytes each on average)."""
    packets = d.deltas.get("packetsReceived")
    payload = d.deltas.get("bytesReceived")
    if not packets or payload is None:
        return False
    return payload <= SILENT_PAYLOAD_BYTES * packets


def _packet_share(d: StreamDelta) -> float | None:
    """Packets received or lost over the packets of one per 20 ms of the audio received."""
    duration_s = d.deltas.get("totalSamplesDuration")
    if duration_s is None:
        duration_s = d.dt_s
    if not duration_s:
        return None
    packets = (d.deltas.get("packetsReceived") or 0.0) + (d.deltas.get("packetsLost") or 0.0)
    return packets / (duration_s * 1000.0 / PACKET_MS)


def _codec(
    kind: str, out: list[StreamDelta], inbound: list[StreamDelta], deltas: list[StreamDelta]
) -> str | None:
    """The codec of the kind's outbound streams, else of its inbound ones, else of any."""
    for d in out:
        if d.stream.codec:
            return d.stream.codec
    for d in inbound:
        if d.stream.codec:
            return d.stream.codec
    return next((d.stream.codec for d in deltas if d.stream.kind == kind and d.stream.codec), None)


# The helpers below loop rather than use comprehensions: they run on lists of one or two
# streams, where a comprehension's own setup costs more than the work (CPython 3.11).


def _sum(ds: list[StreamDelta], counter: str) -> float | None:
    """The streams' total delta of a counter, if any of them knows it."""
    total: float = 0  # from 0 and in order, as sum() adds
    known = False
    for d in ds:
        if (v := d.deltas.get(counter)) is not None:
            total += v
            known = True
    return total if known else None


def _count(ds: list[StreamDelta], counter: str) -> int | None:
    """The streams' total delta of a counter, rounded, if any of them knows it."""
    total = _sum(ds, counter)
    return round(total) if total is not None else None


def _bits(ds: list[StreamDelta], bytes_counter: str) -> float | None:
    """The streams' total bitrate from a byte counter, if any of them has a rate."""
    total: float = 0  # as _sum
    known = False
    for d in ds:
        if (v := d.deltas.get(bytes_counter)) is not None and d.dt_s is not None:
            total += v / d.dt_s  # StreamDelta.rate
            known = True
    return total * 8.0 if known else None


def _mean_ms(ds: list[StreamDelta], name: str) -> float | None:
    """The streams' mean value of a field in seconds, as milliseconds."""
    known = []
    for d in ds:
        if (v := d.stream.values.get(name)) is not None:
            known.append(v)
    return _fmean(known) * 1000.0 if known else None


def _fmean(values: list[float]) -> float:
    # statistics.fmean's own arithmetic, without its generality: small lists, often of one.
    return math.fsum(values) / len(values)
