"""Reading one raw W3C getStats() report: validation, and the browser differences that matter.

A report is the list of RTCStats dictionaries one ``getStats()`` call returned. This module
checks its structure, keeps the four RTP stream types (inbound-rtp, outbound-rtp,
remote-inbound-rtp, remote-outbound-rtp) with the numbers read from them, and reads the selected
candidate pair. Cumulative counters stay cumulative here; ``report.py`` turns them into deltas.
docs/metrics.md, "Raw getStats() reports: how intervals are derived", explains each choice.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from callquality.domain.bounds import COUNTER_MAX, FRAME_RATE_MAX, PIXELS_MAX

StatsDict = Mapping[str, Any]

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
_SIGNED_FIELDS = frozenset({"packetsLost", "timestamp", "remoteTimestamp"})

# aiortc names its stats "<type>_<python id>" and reports jitter as an integer number of RTP
# timestamp units (aiortc/rtcrtpreceiver.py, StreamStatistics.jitter), not seconds.
_AIORTC_ID = re.compile(r"^(remote-)?inbound-rtp_\d+$")
# Clock rates when no codec stats say otherwise: Opus (RFC 7587 §4.1), video (RFC 3551 §5).
DEFAULT_CLOCK_RATE = {"audio": 48000.0, "video": 90000.0}


class ReportError(ValueError):
    """A structurally invalid report; the message names the stats id and the field."""

    def __init__(self, message: str, *, stats_id: str | None = None, field: str | None = None):
        super().__init__(message)
        self.stats_id = stats_id
        self.field = field


# Not frozen, as StreamDelta: several are built per report, and a frozen dataclass's __init__
# costs four times as much. Nothing changes them once built.
@dataclass(slots=True)
class RtpStream:
    """One RTP stream of the report, numbers as the browser gave them (jitter in seconds)."""

    id: str
    type: str  # one of RTP_TYPES, after legacy Firefox ``isRemote`` is normalised
    kind: str  # "audio" | "video"
    ssrc: int | str | None
    timestamp_ms: float | None  # when its counters were sampled, if the report says
    values: dict[str, float]
    codec: str | None  # mimeType subtype: "opus", "VP8"
    quality_limitation_reason: str | None


@dataclass(frozen=True, slots=True)
class ParsedReport:
    """The parts of one report that intervals are derived from."""

    streams: list[RtpStream]
    pair_rtt_s: float | None  # selected candidate pair currentRoundTripTime, when measured
    available_outgoing_bitrate_bps: float | None


def parse_report(report: object) -> ParsedReport:
    """Validate a raw report and read its RTP streams and selected candidate pair."""
    by_id, rtp = _index(report)
    streams: list[RtpStream] = []
    for stats_id, (stats_type, numbers) in rtp.items():
        stream = _rtp_stream(by_id[stats_id], stats_type, numbers, by_id)
        if stream is not None:
            streams.append(stream)
    pair = _selected_pair(by_id)
    rtt = _number(pair, "currentRoundTripTime") if pair is not None else None
    aob = _number(pair, "availableOutgoingBitrate") if pair is not None else None
    return ParsedReport(
        streams=streams,
        # Firefox reports 0 on a pair it has not measured; a real RTT is never exactly 0.
        pair_rtt_s=rtt if rtt is not None and rtt > 0 else None,
        available_outgoing_bitrate_bps=aob,
    )


# An RTP stats object's type (as _rtp_type normalises it) and its checked numeric fields.
_RtpEntry = tuple[str, dict[str, float]]


def _index(report: object) -> tuple[dict[str, StatsDict], dict[str, _RtpEntry]]:
    """Check every stats object; the objects by id, and the RTP ones' entries by id."""
    if not isinstance(report, list):
        raise ReportError(f"report must be a list of stats objects, got {type(report).__name__}")
    by_id: dict[str, StatsDict] = {}
    rtp: dict[str, _RtpEntry] = {}
    for i, stats in enumerate(report):
        if not isinstance(stats, dict):
            raise ReportError(f"report[{i}] must be a stats object, got {type(stats).__name__}")
        stats_id = stats.get("id")
        if not isinstance(stats_id, str) or not stats_id:
            raise ReportError(f"report[{i}] has no string 'id'", field="id")
        stats_type = stats.get("type")
        if not isinstance(stats_type, str) or not stats_type:
            raise ReportError(
                f"stats {stats_id!r}: missing string field 'type'", stats_id=stats_id, field="type"
            )
        if stats_type in RTP_TYPES:
            stats_type = _rtp_type(stats) or stats_type
            rtp[stats_id] = stats_type, _numbers(stats_id, stats_type, stats)
        elif stats_type in NUMERIC_FIELDS:
            _numbers(stats_id, stats_type, stats)  # checked here, read where used
        by_id[stats_id] = stats
    if len(by_id) < len(report):
        # A client that merges sender and receiver reports repeats transports and codecs:
        # the last copy wins, in the place of the first.
        rtp = {k: rtp[k] for k, stats in by_id.items() if _rtp_type(stats) is not None}
    return by_id, rtp


def _numbers(stats_id: str, stats_type: str, stats: StatsDict) -> dict[str, float]:
    """The numeric fields of its type that the stats object has, each checked."""
    values: dict[str, float] = {}
    for name, maximum in NUMERIC_MAXIMA[stats_type]:
        value = stats.get(name)
        if value is None:
            continue
        # The usual case in one test (a comparison is False for NaN and beyond an infinity,
        # and exact for an integer beyond a float's range); anything else is judged, and
        # rejected, by _check_number.
        if not (
            type(value) in (int, float)
            and (0 <= value <= maximum or (-maximum <= value < 0 and name in _SIGNED_FIELDS))
        ):
            _check_number(stats_id, stats_type, name, value, maximum)
        values[name] = value
    return values


def _check_number(
    stats_id: str, stats_type: str, name: str, value: object, maximum: float
) -> None:
    try:
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    except OverflowError:  # an integer too large for a float is no usable number either
        ok = False
    if not ok:
        raise ReportError(
            f"stats {stats_id!r} ({stats_type}): field {name!r} must be a number, got {value!r}",
            stats_id=stats_id,
            field=name,
        )
    assert isinstance(value, int | float)
    if value < 0 and name not in _SIGNED_FIELDS:
        raise ReportError(
            f"stats {stats_id!r} ({stats_type}): field {name!r} must not be negative, "
            f"got {value!r}",
            stats_id=stats_id,
            field=name,
        )
    if abs(value) > maximum:
        raise ReportError(
            f"stats {stats_id!r} ({stats_type}): field {name!r} is {value!r}, beyond what a "
            f"browser reports (at most {maximum:g}; docs/api.md, 'Bounds')",
            stats_id=stats_id,
            field=name,
        )


def _number(stats: StatsDict, name: str) -> float | None:
    value = stats.get(name)
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value


def _rtp_type(stats: StatsDict) -> str | None:
    stats_type = str(stats["type"])
    # Firefox before 68 typed the remote end's reports inbound-rtp/outbound-rtp + isRemote.
    if stats_type in (INBOUND, OUTBOUND) and stats.get("isRemote") is True:
        return "remote-" + stats_type
    return stats_type if stats_type in RTP_TYPES else None


def _rtp_stream(
    stats: StatsDict,
    stats_type: str,
    numbers: dict[str, float],
    by_id: Mapping[str, StatsDict],
) -> RtpStream | None:
    """One RTP stream; ``numbers`` are its checked fields, and become its values."""
    kind = _kind(stats, by_id)
    if kind is None:
        return None
    values = numbers
    track = by_id.get(str(stats.get("trackId")))
    if track is not None and track.get("type") == "track":
        values = _numbers(track["id"], "track", track) | numbers  # the stream's own value wins
    source = by_id.get(str(stats.get("mediaSourceId")))
    if stats_type == OUTBOUND and source is not None and source.get("type") == "media-source":
        # Cumulative, so they ride on the outbound stream's counters (docs/metrics.md).
        for name in ("totalAudioEnergy", "totalSamplesDuration"):
            value = _number(source, name)
            if value is not None:
                values["source" + name[0].upper() + name[1:]] = value
    if "roundTripTime" not in values and "mozRtt" in values:
        values["roundTripTime"] = values["mozRtt"] / 1000.0  # Firefox < 68: milliseconds
    codec = by_id.get(str(stats.get("codecId")))
    jitter = stats.get("jitter")
    if isinstance(jitter, int) and not isinstance(jitter, bool) and _AIORTC_ID.match(stats["id"]):
        clock_rate = _number(codec, "clockRate") if codec is not None else None
        values["jitter"] = jitter / (clock_rate or DEFAULT_CLOCK_RATE[kind])
    ssrc = stats.get("ssrc")
    reason = stats.get("qualityLimitationReason")
    # Positional: keyword arguments double the cost of this call (CPython 3.11).
    return RtpStream(
        stats["id"],
        stats_type,
        kind,
        ssrc if isinstance(ssrc, (int, str)) and not isinstance(ssrc, bool) else None,
        values.pop("timestamp", None),  # timestamp_ms
        values,
        _codec_name(codec),
        reason if isinstance(reason, str) else None,  # quality_limitation_reason
    )


def _kind(stats: StatsDict, by_id: Mapping[str, StatsDict]) -> str | None:
    # Old Firefox and Chromium say mediaType; Safari 17 leaves remote-inbound-rtp's kind "".
    for candidate in (stats.get("kind"), stats.get("mediaType")):
        if candidate in ("audio", "video"):
            return str(candidate)
    local = by_id.get(str(stats.get("localId")))
    if local is not None and local.get("kind") in ("audio", "video"):
        return str(local["kind"])
    codec = by_id.get(str(stats.get("codecId")))
    mime = codec.get("mimeType") if codec is not None else None
    if isinstance(mime, str) and mime.split("/")[0].lower() in ("audio", "video"):
        return mime.split("/")[0].lower()
    return None


def _codec_name(codec: StatsDict | None) -> str | None:
    mime = codec.get("mimeType") if codec is not None else None
    if not isinstance(mime, str) or not mime:
        return None
    return mime.split("/", 1)[-1]


def _selected_pair(by_id: Mapping[str, StatsDict]) -> StatsDict | None:
    """The candidate pair a transport selected, else one flagged selected, else nominated."""
    pairs: list[StatsDict] = []
    selected_ids: set[object] = set()
    for stats in by_id.values():
        stats_type = stats["type"]
        if stats_type == "candidate-pair":
            pairs.append(stats)
        elif stats_type == "transport":
            selected = stats.get("selectedCandidatePairId")
            if isinstance(selected, str):  # anything else names no pair
                selected_ids.add(selected)
    chosen = [p for p in pairs if p["id"] in selected_ids]
    if not chosen:
        chosen = [p for p in pairs if p.get("selected") is True]  # Firefox
    if not chosen:
        chosen = [p for p in pairs if p.get("nominated") is True and p.get("state") == "succeeded"]
    if not chosen:
        return None
    # Without BUNDLE there is one transport per m-line: take the busiest pair.
    return max(
        chosen, key=lambda p: (_number(p, "bytesSent") or 0) + (_number(p, "bytesReceived") or 0)
    )
