"""The numbers ingest reads from each W3C getStats() stats type, and their bounds.

One table for the reader (``rtcstats.py``, which checks each number when present), for what
collector.js sends (``read_fields.py``) and for the typed decoding of a report's stats.
"""

from __future__ import annotations

from callquality.domain.bounds import COUNTER_MAX, FRAME_RATE_MAX, PIXELS_MAX

INBOUND = "inbound-rtp"
OUTBOUND = "outbound-rtp"
REMOTE_INBOUND = "remote-inbound-rtp"
REMOTE_OUTBOUND = "remote-outbound-rtp"
RTP_TYPES = frozenset({INBOUND, OUTBOUND, REMOTE_INBOUND, REMOTE_OUTBOUND})

# The numeric fields read from each stats type; each is checked when present.
_RTP_COMMON = ("timestamp",)
NUMERIC_FIELDS: dict[str, tuple[str, ...]] = {
    OUTBOUND: _RTP_COMMON
    + ("packetsSent", "bytesSent", "framesEncoded", "frameWidth", "frameHeight", "framesPerSecond"),
    INBOUND: _RTP_COMMON
    + (
        "packetsReceived",
        "bytesReceived",
        "packetsLost",
        "jitter",
        "framesDecoded",
        "frameWidth",
        "frameHeight",
        "framesPerSecond",
        "freezeCount",
        "totalFreezesDuration",
        "concealedSamples",
        "silentConcealedSamples",
        "totalSamplesReceived",
        "totalAudioEnergy",
        "totalSamplesDuration",
    ),
    REMOTE_INBOUND: _RTP_COMMON
    + (
        "packetsLost",
        "jitter",
        "roundTripTime",
        "totalRoundTripTime",
        "roundTripTimeMeasurements",
        "mozRtt",
    ),
    REMOTE_OUTBOUND: _RTP_COMMON
    + ("packetsSent", "bytesSent", "remoteTimestamp", "roundTripTime", "roundTripTimeMeasurements"),
    # Chromium before ~M110 and Safari 17 keep frame and audio counters on a "track" object.
    "track": (
        "frameWidth",
        "frameHeight",
        "framesPerSecond",
        "framesDecoded",
        "freezeCount",
        "totalFreezesDuration",
        "concealedSamples",
        "silentConcealedSamples",
        "totalSamplesReceived",
        "totalAudioEnergy",
        "totalSamplesDuration",
    ),
    # The sender's microphone (webrtc-stats media-source): its energy tells a muted track.
    "media-source": ("audioLevel", "totalAudioEnergy", "totalSamplesDuration"),
    "candidate-pair": ("currentRoundTripTime", "availableOutgoingBitrate"),
    "codec": ("clockRate",),
}
# The largest magnitude of each numeric field (docs/api.md, "Bounds"): counters and times
# below 2^53, frame sizes and rates as domain/bounds.py has them.
_MAXIMA: dict[str, float] = {
    "frameWidth": PIXELS_MAX,
    "frameHeight": PIXELS_MAX,
    "framesPerSecond": FRAME_RATE_MAX,
}
NUMERIC_MAXIMA: dict[str, tuple[tuple[str, float], ...]] = {
    stats_type: tuple((name, _MAXIMA.get(name, COUNTER_MAX - 1)) for name in names)
    for stats_type, names in NUMERIC_FIELDS.items()
}
# RFC 3550 §6.4.1: the cumulative number of packets lost is signed (duplicates lower it).
# Timestamps are instants, not counters; an implausible one is ignored, not rejected.
SIGNED_FIELDS = frozenset({"packetsLost", "timestamp", "remoteTimestamp"})
