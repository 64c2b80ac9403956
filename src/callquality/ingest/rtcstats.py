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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

import msgspec

from callquality.ingest.read_fields import STRUCTS, OtherStats, Stats
from callquality.ingest.stats_fields import (
    INBOUND,
    NUMERIC_FIELDS,
    NUMERIC_MAXIMA,
    OUTBOUND,
    RTP_TYPES,
    SIGNED_FIELDS,
)

StatsDict = Mapping[str, Any]

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
    by_id, rtp = _index(stats_of(report))
    streams: list[RtpStream] = []
    for stats_id, stats_type in rtp.items():
        stream = _rtp_stream(by_id[stats_id], stats_type, by_id)
        if stream is not None:
            streams.append(stream)
    pair = _selected_pair(by_id)
    rtt = pair.currentRoundTripTime if pair is not None else None
    aob = pair.availableOutgoingBitrate if pair is not None else None
    return ParsedReport(
        streams=streams,
        # Firefox reports 0 on a pair it has not measured; a real RTT is never exactly 0.
        pair_rtt_s=rtt if rtt is not None and rtt > 0 else None,
        available_outgoing_bitrate_bps=aob,
    )


def stats_of(report: object) -> list[Any]:
    """A report's stats objects as the typed Structs of ``read_fields``, whether it came
    decoded from bytes already (the API's body, checked there) or as a list of dicts (dumps,
    the ingest log, Janus: checked here). ReportError for an invalid one."""
    if isinstance(report, list) and report and isinstance(report[0], Stats):
        return report
    if isinstance(report, list):
        try:
            # Object by object: msgspec.convert to the union would build its lookup on every
            # call (~90 µs per object), to one Struct it is cached (~0.6 µs).
            return [msgspec.convert(stats, STRUCTS[stats["type"]]) for stats in report]
        except (msgspec.ValidationError, KeyError, TypeError):
            pass  # not a dict, a type the Structs do not name, a number one refuses
    _check(report)
    assert isinstance(report, list)
    return [_struct_of(stats) for stats in report]


def _struct_of(stats: StatsDict) -> Any:
    """One checked stats object's Struct, of the fields the reader reads of it: those the
    Struct would refuse are never read (an unknown type's, a number not checked as its type)."""
    stats_type = stats["type"]
    struct = STRUCTS.get(stats_type)
    if struct is None:
        return OtherStats(stats["id"], stats_type)
    read = stats.keys() & _READ[stats_type, _rtp_type(stats) or stats_type]
    return struct(id=stats["id"], **{k: stats[k] for k in read})


_NUMBERS_READ = frozenset(n for names in NUMERIC_FIELDS.values() for n in names)


def _read_of(tag: str, stats_type: str) -> frozenset[str]:
    """The fields read of an object of this tag read as this type: the type's checked
    numbers, and the Struct's other fields (read as any JSON value)."""
    others = (f for f in STRUCTS[tag].__struct_fields__ if f != "id" and f not in _NUMBERS_READ)
    return frozenset(NUMERIC_FIELDS.get(stats_type, ()) + tuple(others))


# (its type, as _rtp_type reads it) -> the fields read of an object.
_READ = {(t, t): _read_of(t, t) for t in STRUCTS} | {
    (t, "remote-" + t): _read_of(t, "remote-" + t) for t in (INBOUND, OUTBOUND)
}


def _index(report: list[Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The objects by id, and the RTP ones' types (as _rtp_type reads them of a dict) by id."""
    by_id: dict[str, Any] = {}
    rtp: dict[str, str] = {}
    for stats in report:
        stats_id = stats.id
        stats_type = stats.type
        if stats_type in RTP_TYPES:
            # as _stream_type, inline: a call per stream costs as much as the test
            rtp[stats_id] = (
                "remote-" + stats_type
                if stats_type in _LEGACY_REMOTE and stats.isRemote is True
                else stats_type
            )
        by_id[stats_id] = stats
    if len(by_id) < len(report):
        # A client that merges sender and receiver reports repeats transports and codecs:
        # the last copy wins, in the place of the first.
        rtp = {k: rtp[k] for k, stats in by_id.items() if stats.type in RTP_TYPES}
    return by_id, rtp


def _check(report: object) -> None:
    """Raise ReportError for the first thing the reader cannot read in a report of dicts."""
    if not isinstance(report, list):
        raise ReportError(f"report must be a list of stats objects, got {type(report).__name__}")
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
        stats_type = _rtp_type(stats) or stats_type
        for name, maximum in NUMERIC_MAXIMA.get(stats_type, ()):
            value = stats.get(name)
            # The usual case in one test (a comparison is False for NaN and beyond an
            # infinity, and exact for an integer beyond a float's range); anything else is
            # judged, and rejected, by _check_number.
            if value is not None and not (
                type(value) in (int, float)
                and (0 <= value <= maximum or (-maximum <= value < 0 and name in SIGNED_FIELDS))
            ):
                _check_number(stats_id, stats_type, name, value, maximum)


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
    if value < 0 and name not in SIGNED_FIELDS:
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


def _number(value: object) -> float | None:
    """A field the reader takes unchecked, if it is a number."""
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value


def _rtp_type(stats: StatsDict) -> str | None:
    stats_type = str(stats["type"])
    # Firefox before 68 typed the remote end's reports inbound-rtp/outbound-rtp + isRemote.
    if stats_type in (INBOUND, OUTBOUND) and stats.get("isRemote") is True:
        return "remote-" + stats_type
    return stats_type if stats_type in RTP_TYPES else None


# Firefox before 68 typed the remote end's reports inbound-rtp/outbound-rtp + isRemote.
_LEGACY_REMOTE = frozenset({INBOUND, OUTBOUND})


def _reader(names: tuple[str, ...]) -> Callable[[Any], dict[str, float]]:
    """A function of a stats Struct: its fields of these names that are not None, by name.

    Generated, as dataclasses generates ``__init__``: one read and test per field, in a
    third of the instructions of a loop over the names (issue 19; a report's streams are
    read for every report).
    """
    lines = ["def read(stats):", "    values = {}"]
    for name in names:
        assert name.isidentifier()  # names from NUMERIC_FIELDS, never from a report
        lines += [f"    if (v := stats.{name}) is not None:", f"        values[{name!r}] = v"]
    namespace: dict[str, Any] = {}
    exec("\n".join([*lines, "    return values"]), namespace)
    return cast(Callable[[Any], dict[str, float]], namespace["read"])


# stats type -> the reader of its checked numbers that the Struct has, of the types whose
# numbers become a stream's values (each has several).
_NUMBERS = {
    stats_type: _reader(NUMERIC_FIELDS[stats_type]) for stats_type in (*sorted(RTP_TYPES), "track")
}


def _rtp_stream(stats: Any, stats_type: str, by_id: Mapping[str, Any]) -> RtpStream | None:
    """One RTP stream: its checked numbers (with its track's and media source's) as values.

    Another object an id links to is read only if it is of the type linked to (a codecId
    naming something other than a codec names no codec).
    """
    kind = _kind(stats, by_id)
    if kind is None:
        return None
    values = _NUMBERS[stats_type](stats)
    track = by_id.get(str(stats.trackId))
    if track is not None and track.type == "track":
        values = _NUMBERS["track"](track) | values  # the stream's own value wins
    source = by_id.get(str(stats.mediaSourceId))
    if stats_type == OUTBOUND and source is not None and source.type == "media-source":
        # Cumulative, so they ride on the outbound stream's counters (docs/metrics.md).
        if source.totalAudioEnergy is not None:
            values["sourceTotalAudioEnergy"] = source.totalAudioEnergy
        if source.totalSamplesDuration is not None:
            values["sourceTotalSamplesDuration"] = source.totalSamplesDuration
    if "roundTripTime" not in values and "mozRtt" in values:
        values["roundTripTime"] = values["mozRtt"] / 1000.0  # Firefox < 68: milliseconds
    codec = _codec(by_id, stats)
    jitter = values.get("jitter")
    if isinstance(jitter, int) and _AIORTC_ID.match(stats.id):
        clock_rate = codec.clockRate if codec is not None else None
        values["jitter"] = jitter / (clock_rate or DEFAULT_CLOCK_RATE[kind])
    ssrc = stats.ssrc
    reason = stats.qualityLimitationReason
    # Positional: keyword arguments double the cost of this call (CPython 3.11).
    return RtpStream(
        stats.id,
        stats_type,
        kind,
        ssrc if isinstance(ssrc, (int, str)) and not isinstance(ssrc, bool) else None,
        values.pop("timestamp", None),  # timestamp_ms
        values,
        _codec_name(codec),
        reason if isinstance(reason, str) else None,  # quality_limitation_reason
    )


def _codec(by_id: Mapping[str, Any], stats: Any) -> Any:
    codec = by_id.get(str(stats.codecId))
    return codec if codec is not None and codec.type == "codec" else None


def _kind(stats: Any, by_id: Mapping[str, Any]) -> str | None:
    # Old Firefox and Chromium say mediaType; Safari 17 leaves remote-inbound-rtp's kind "".
    for candidate in (stats.kind, stats.mediaType):
        if candidate in ("audio", "video"):
            return str(candidate)
    local = by_id.get(str(stats.localId))
    if local is not None and local.type in RTP_TYPES and local.kind in ("audio", "video"):
        return str(local.kind)
    codec = _codec(by_id, stats)
    mime = codec.mimeType if codec is not None else None
    if isinstance(mime, str) and mime.split("/")[0].lower() in ("audio", "video"):
        return mime.split("/")[0].lower()
    return None


def _codec_name(codec: Any) -> str | None:
    mime = codec.mimeType if codec is not None else None
    if not isinstance(mime, str) or not mime:
        return None
    return mime.split("/", 1)[-1]


def _selected_pair(by_id: Mapping[str, Any]) -> Any:
    """The candidate pair a transport selected, else one flagged selected, else nominated."""
    pairs: list[Any] = []
    selected_ids: set[object] = set()
    for stats in by_id.values():
        stats_type = stats.type
        if stats_type == "candidate-pair":
            pairs.append(stats)
        elif stats_type == "transport":
            selected = stats.selectedCandidatePairId
            if isinstance(selected, str):  # anything else names no pair
                selected_ids.add(selected)
    chosen = [p for p in pairs if p.id in selected_ids]
    if not chosen:
        chosen = [p for p in pairs if p.selected is True]  # Firefox
    if not chosen:
        chosen = [p for p in pairs if p.nominated is True and p.state == "succeeded"]
    if not chosen:
        return None
    # Without BUNDLE there is one transport per m-line: take the busiest pair.
    return max(
        chosen, key=lambda p: (_number(p.bytesSent) or 0) + (_number(p.bytesReceived) or 0)
    )
