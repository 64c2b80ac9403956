"""Raw getStats() reports → per-interval samples, one (participant, peer connection) at a time.

``process_report(state, timestamp_ms, report)`` is a pure function: the caller keeps ``state``
(plain JSON, a few hundred bytes per RTP stream) between reports, for example in a database row
written in the same transaction as the sample. The interval of a sample runs from the previous
accepted report to this one. docs/metrics.md, "Raw getStats() reports: how intervals are
derived", is the reference for every rule applied here.

State layout (version 1)::

    {"version": 1,
     "timestamp_ms": <report timestamp of the last accepted report>,
     "streams": {<stats id>: {"type": "outbound-rtp", "ssrc": 1234,
                              "timestamp_ms": <the stats' own timestamp>,
                              "counters": {"packetsSent": 400, "bytesSent": 23232, ...}}}}
"""

from __future__ import annotations

import math
from typing import Any

from callquality.domain.sample import Sample
from callquality.ingest.interval import StreamDelta, build_sample
from callquality.ingest.rtcstats import ReportError, RtpStream, parse_report
from callquality.ingest.stats_fields import (
    INBOUND,
    OUTBOUND,
    REMOTE_INBOUND,
    REMOTE_OUTBOUND,
)

__all__ = ["STATE_VERSION", "ReportError", "process_report"]

STATE_VERSION = 1

# The cumulative counters kept per stream type.
COUNTERS: dict[str, tuple[str, ...]] = {
    OUTBOUND: (
        "packetsSent",
        "bytesSent",
        "framesEncoded",
        "sourceTotalAudioEnergy",  # of its media-source: the microphone's energy
        "sourceTotalSamplesDuration",
    ),
    INBOUND: (
        "packetsReceived",
        "bytesReceived",
        "packetsLost",
        "framesDecoded",
        "freezeCount",
        "totalFreezesDuration",
        "concealedSamples",
        "silentConcealedSamples",
        "totalSamplesReceived",
        "totalAudioEnergy",
        "totalSamplesDuration",
    ),
    REMOTE_INBOUND: ("packetsLost", "totalRoundTripTime", "roundTripTimeMeasurements"),
    REMOTE_OUTBOUND: ("packetsSent", "bytesSent"),
}
# A stream whose main counters go down was reset (or its SSRC reused): it starts over.
_RESET_COUNTERS: dict[str, tuple[str, ...]] = {
    OUTBOUND: ("packetsSent", "bytesSent"),
    INBOUND: ("packetsReceived", "bytesReceived"),
    REMOTE_INBOUND: ("roundTripTimeMeasurements",),
    REMOTE_OUTBOUND: ("packetsSent", "bytesSent"),
}
# packetsLost may go down (RFC 3550 §6.4.1: duplicates count negatively); only rises above
# the highest value seen count as loss, so a dip and recovery is not counted twice.
_HIGH_WATER = frozenset({"packetsLost"})

StateDict = dict[str, Any]


def process_report(
    state: dict[str, Any] | None, timestamp_ms: float, report: list[dict[str, Any]]
) -> tuple[Sample | None, dict[str, Any]]:
    """Turn one raw report into the sample of the interval since the previous one, and new state.

    Returns ``(None, new_state)`` for the first report (a baseline). A stale report, with
    ``timestamp_ms`` older than or equal to the state's (sent twice, or arriving after a later
    one), returns ``(None, state)`` unchanged: counters are cumulative, so the interval it
    covered is already inside the next accepted report's. Raises ``ReportError`` for a
    structurally invalid report, stale or not.
    """
    if isinstance(timestamp_ms, bool) or not isinstance(timestamp_ms, (int, float)):
        raise ReportError(f"timestamp must be a number of epoch ms, got {timestamp_ms!r}")
    try:
        finite = math.isfinite(timestamp_ms)
    except OverflowError:  # an integer too large for a float
        finite = False
    if not finite:
        raise ReportError(f"timestamp must be finite, got {timestamp_ms!r}")
    parsed = parse_report(report)
    previous = _valid_state(state)
    if previous is not None and timestamp_ms <= previous["timestamp_ms"]:
        assert state is not None
        return None, state

    old_streams: dict[str, StateDict] = previous["streams"] if previous is not None else {}
    new_streams: dict[str, StateDict] = {}
    deltas: list[StreamDelta] = []
    for stream in parsed.streams:
        entry, delta = _advance(old_streams.get(stream.id), stream, timestamp_ms)
        new_streams[stream.id] = entry
        deltas.append(delta)
    new_state: StateDict = {
        "version": STATE_VERSION,
        "timestamp_ms": timestamp_ms,
        "streams": new_streams,
    }
    if previous is None:
        return None, new_state
    interval_ms = max(1, round(timestamp_ms - previous["timestamp_ms"]))
    return build_sample(interval_ms, deltas, parsed), new_state


def _valid_state(state: dict[str, Any] | None) -> StateDict | None:
    """The state if it is one this version wrote; anything else starts over from a baseline."""
    if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
        return None
    ts = state.get("timestamp_ms")
    streams = state.get("streams")
    if isinstance(ts, bool) or not isinstance(ts, (int, float)) or not isinstance(streams, dict):
        return None
    return state


def _advance(
    old: StateDict | None, stream: RtpStream, report_timestamp_ms: float
) -> tuple[StateDict, StreamDelta]:
    """The stream's new state entry, and its deltas against the old one."""
    values = stream.values
    ts = stream.timestamp_ms if stream.timestamp_ms is not None else report_timestamp_ms
    remote_ts = values.get("remoteTimestamp", 0.0)
    if stream.type == REMOTE_OUTBOUND and remote_ts > 0:
        # The counters are the sender's at its RTCP SR: time them by the SR's own clock.
        # (aiortc sends NTP time 0, 1900-01-01, in an SR before its first RTP packet.)
        ts = remote_ts
    continues = _continues(old, stream)
    before: dict[str, float] = old["counters"] if continues and old is not None else {}
    current: dict[str, float] = {}
    deltas: dict[str, float] = {}
    for name in COUNTERS[stream.type]:
        value = values.get(name)
        if value is None:
            continue
        prev = before.get(name)
        if prev is None:
            current[name] = value  # a new stream, or the counter appeared: a baseline
        elif name in _HIGH_WATER:
            deltas[name] = max(0.0, value - prev)
            current[name] = max(value, prev)
        else:
            current[name] = value
            if value >= prev:
                deltas[name] = value - prev
            # else: this one counter went down alone; it restarts from its new value.
    entry: StateDict = {
        "type": stream.type,
        "ssrc": stream.ssrc,
        "timestamp_ms": ts,
        "counters": current,
    }
    # StreamDelta(stream, deltas, dt_s, new), positional: keywords double the call's cost.
    if not continues:
        return entry, StreamDelta(stream, deltas, None, True)
    assert old is not None
    dt_ms = ts - old["timestamp_ms"]
    return entry, StreamDelta(stream, deltas, dt_ms / 1000.0 if dt_ms > 0 else None, False)


def _continues(old: StateDict | None, stream: RtpStream) -> bool:
    """Whether the stored entry is the same stream (same id, type and SSRC), and not reset."""
    if not (
        isinstance(old, dict)
        and old.get("type") == stream.type
        and old.get("ssrc") == stream.ssrc
        and isinstance(old.get("counters"), dict)
        and isinstance(old.get("timestamp_ms"), (int, float))
    ):
        return False
    before: dict[str, float] = old["counters"]
    values = stream.values
    for name in _RESET_COUNTERS[stream.type]:
        if values.get(name, math.inf) < before.get(name, -math.inf):
            return False
    return True
