"""The normalized per-interval sample: what every source (raw getStats(), SFU, dump) becomes.

A sample describes one participant's peer connection over the interval of ``interval_ms``
that ends at ``timestamp_ms``. Every measured field is optional: ``None`` means unknown,
never zero. Field names carry their unit (CONTRACT.md, docs/metrics.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["audio", "video"]
Direction = Literal["send", "recv"]


# Not frozen (nor MediaStats and Sample), as ingest/rtcstats.py's RtpStream: several are
# built per report, and a frozen dataclass's __init__ sets every field through
# object.__setattr__, about four times the cost (issue 19). Nothing changes them once built.
@dataclass(slots=True)
class DirectionStats:
    """One media kind in one direction over the interval.

    ``send.packets_lost`` is what the remote end reported lost of what was sent;
    ``recv.packets_lost`` is what this end lost of what it received.
    """

    packets: int | None = None
    packets_lost: int | None = None
    bitrate_bps: float | None = None
    # send: round trip of what was sent (the contract's RTT); recv: the receiver's own
    # measurement (remote-outbound-rtp, else ICE), used to score receive-only participants
    rtt_ms: float | None = None
    jitter_ms: float | None = None  # recv: jitter of what was received; send: as the remote saw it
    width: int | None = None
    height: int | None = None
    frame_rate: float | None = None
    freeze_count: int | None = None  # recv video only: freezes in the interval
    freeze_duration_ms: float | None = None  # recv video only
    # recv audio only: audible concealment, (concealed − silent concealed) / received samples
    concealed_ratio: float | None = None
    silent_concealed_ratio: float | None = None  # recv audio only: silent concealed / received
    # recv audio only: share of the received samples on streams that carried no speech (their
    # sender muted, or silent in DTX), 0..1; 1 = nothing but silence was received
    muted_ratio: float | None = None
    quality_limitation_reason: str | None = None  # send video only (Chromium)
    available_outgoing_bitrate_bps: float | None = None  # send only, from the candidate pair

    @property
    def loss_pct(self) -> float | None:
        """Packets lost as a percentage of packets expected (sent or received + lost)."""
        if self.packets is None or self.packets_lost is None:
            return None
        expected = self.packets + self.packets_lost
        if expected <= 0:
            return None
        return 100.0 * self.packets_lost / expected


@dataclass(slots=True)
class MediaStats:
    """One media kind, both directions."""

    send: DirectionStats | None = None
    recv: DirectionStats | None = None


@dataclass(slots=True)
class Sample:
    """One interval of one participant's peer connection."""

    interval_ms: int
    audio: MediaStats | None = None
    video: MediaStats | None = None
    codec_audio: str | None = None  # e.g. "opus", "PCMU", "G722" (mimeType subtype)
    codec_video: str | None = None  # e.g. "VP8", "VP9", "H264", "AV1"
    extra: dict[str, float | str | None] = field(default_factory=dict)

    def media(self, kind: Kind) -> MediaStats | None:
        """The stats of one media kind."""
        return self.audio if kind == "audio" else self.video
