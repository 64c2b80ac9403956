"""chrome://webrtc-internals downloads: per-field time series, turned back into reports.

The page keeps, per peer connection, one series per ``<stats id>-<field>``::

    {"statsType": "outbound-rtp",            # absent before ~Chrome 90
     "startTime": "2026-02-03T09:14:50.620Z", "endTime": "...",
     "values": "[1,2,3]"}                    # JSON text, one value per poll that had the field

A series gains a point at each poll (about once a second) where its stats object had that field,
and keeps the last 1000 points. Rebuilding reports means putting the points of every series back
on the poll they came from:

* Newer layouts carry a ``<id>-timestamp`` series. Stats of the peer connection itself, RTP
  streams, transports, candidates... all share the report's timestamp, so the union of those
  timestamps is the poll timeline and each point lands exactly. remote-inbound-rtp and
  remote-outbound-rtp carry the time of the last RTCP report instead; their points are consecutive
  polls ending where the stream they describe (``localId``) ends, never before their own times.
* The old layout (Chrome 86 and before) has no timestamps. The longest series spans the polls of
  the call; every series that starts on its first poll or ends on its last pins one more poll
  time, and polls between pins are spaced evenly. A series ends on the poll nearest to its
  ``endTime``; its ``type`` comes from the id prefix (``types.py``).

Fields webrtc-internals derives itself, written in brackets (``[bytesSent_in_bits/s]``), are
not getStats output and are dropped.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ._common import (
    DumpError,
    DumpInfo,
    DumpReport,
    DumpSample,
    Progress,
    StatsObject,
    browser_of,
    loads,
)
from .types import REMOTE_TYPES, infer_type

FORMAT = "webrtc-internals"

# webrtc-internals stores a string that reads as a number as that number ("mid": "0" → 0).
# These W3C fields are DOMStrings; they get their string back.
_STRING_FIELDS = frozenset(
    {
        "mid", "rid", "foundation", "usernameFragment", "iceLocalUsernameFragment", "label",
        "protocol", "trackIdentifier", "address", "ip", "relatedAddress", "url", "kind",
        "mimeType", "sdpFmtpLine", "scalabilityMode", "encoderImplementation",
        "decoderImplementation", "playoutId", "fingerprint", "contentType",
    }
)  # fmt: skip


@dataclass(slots=True)
class _Series:
    values: list[Any]
    start_ms: int
    end_ms: int


@dataclass(slots=True)
class _Stat:
    """One stats id: its fields' series, then the poll each of its points sits on."""

    stats_id: str
    stats_type: str | None
    fields: dict[str, _Series] = field(default_factory=dict)
    # field → index of its first value on the peer connection's poll timeline
    offsets: dict[str, int] = field(default_factory=dict)
    polls: list[int] = field(default_factory=list)  # poll of each point of the id (new layout)


@dataclass(slots=True)
class _PeerConnection:
    pc_id: str
    times: list[float]
    stats: list[_Stat]


class InternalsDump:
    """A validated webrtc-internals download: its info, and its reports rebuilt on demand."""

    def __init__(self, info: DumpInfo, pcs: list[_PeerConnection]) -> None:
        self.info = info
        self._pcs = pcs

    def reports(self) -> Iterator[DumpReport]:
        """Every report, peer connection by peer connection, each in time order."""
        for pc in self._pcs:
            yield from _reports(pc)

    def samples(self) -> Iterator[DumpSample]:
        """None: a browser's dump holds reports."""
        return iter(())


def read(data: bytes, progress: Progress | None) -> InternalsDump:
    """Parse and validate a webrtc-internals download."""
    doc = loads(data, "webrtc-internals JSON")
    if progress is not None:
        progress(len(data))
    return read_doc(doc)


def read_doc(doc: Any) -> InternalsDump:
    """Validate a parsed webrtc-internals download."""
    if not isinstance(doc, dict):
        raise DumpError("webrtc-internals JSON: the top level must be an object")
    raw_pcs = doc.get("PeerConnections")
    if not isinstance(raw_pcs, dict):
        raise DumpError("PeerConnections: missing, or not an object of peer connections by id")
    pcs: list[_PeerConnection] = []
    url = None
    for pc_id, raw in raw_pcs.items():
        where = f"PeerConnections.{pc_id}"
        if not isinstance(raw, dict):
            raise DumpError(f"{where}: must be an object")
        if url is None and isinstance(raw.get("url"), str) and raw["url"]:
            url = raw["url"]
        pcs.append(_peer_connection(pc_id, raw.get("stats", {}), f"{where}.stats"))
    user_agent = doc.get("UserAgent") if isinstance(doc.get("UserAgent"), str) else None
    times = [t for pc in pcs for t in (pc.times[:1] + pc.times[-1:])]
    counts = sum(_count(pc) for pc in pcs)
    info = DumpInfo(
        format=FORMAT,
        user_agent=user_agent,
        browser=browser_of(user_agent),
        url=url,
        peer_connection_ids=tuple(pc.pc_id for pc in pcs if pc.times),
        report_count=counts,
        start_ms=min(times) if times else None,
        end_ms=max(times) if times else None,
        metadata={k: v for k, v in doc.items() if k != "PeerConnections"},
    )
    return InternalsDump(info, pcs)


def _peer_connection(pc_id: str, raw_stats: Any, where: str) -> _PeerConnection:
    if not isinstance(raw_stats, dict):
        raise DumpError(f"{where}: must be an object of series by '<id>-<field>'")
    stats: dict[str, _Stat] = {}
    for key, entry in raw_stats.items():
        derived = key.find("-[")  # bracketed names may hold '-': [framesReceived-framesDecoded]
        stats_id, sep, name = (
            (key[:derived], "-", key[derived + 1 :]) if derived > 0 else key.rpartition("-")
        )
        if not sep or not stats_id or not name:
            raise DumpError(f"{where}.{key}: a series key is '<stats id>-<field>'")
        series_where = f"{where}.{key}"
        if not isinstance(entry, dict):
            raise DumpError(f"{series_where}: must be an object with startTime, endTime, values")
        stat = stats.setdefault(stats_id, _Stat(stats_id, None))
        stats_type = entry.get("statsType")
        if isinstance(stats_type, str):
            stat.stats_type = stats_type
        if name.startswith("["):
            continue  # derived by webrtc-internals, not getStats output
        series = _series(entry, series_where)
        if name in _STRING_FIELDS:
            series.values = [_as_string(v) for v in series.values]
        stat.fields[name] = series
    for stat in stats.values():
        if stat.stats_type is None:
            stat.stats_type = infer_type(stat.stats_id, _last_values(stat))
    stat_list = [s for s in stats.values() if s.fields]
    if any(_timestamps(s) is not None for s in stat_list):
        times = _place_by_timestamps(stat_list, where)
    else:
        times = _place_by_pins(stat_list)
    return _PeerConnection(pc_id, times, stat_list)


def _series(entry: Mapping[str, Any], where: str) -> _Series:
    values_text = entry.get("values")
    if not isinstance(values_text, str):
        raise DumpError(f"{where}.values: missing, or not a JSON-encoded array")
    values = loads(values_text, f"{where}.values")
    if not isinstance(values, list):
        raise DumpError(f"{where}.values: must encode a JSON array")
    start = _iso_ms(entry.get("startTime"), f"{where}.startTime")
    end = _iso_ms(entry.get("endTime"), f"{where}.endTime")
    if end < start:
        raise DumpError(f"{where}: endTime is before startTime")
    return _Series(values, start, end)


def _as_string(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def _iso_ms(value: Any, where: str) -> int:
    if not isinstance(value, str):
        raise DumpError(f"{where}: missing, or not an ISO 8601 time")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise DumpError(f"{where}: {value!r} is not an ISO 8601 time") from None
    if parsed.tzinfo is None:
        raise DumpError(f"{where}: {value!r} has no time zone")
    return round(parsed.timestamp() * 1000)


def _last_values(stat: _Stat) -> dict[str, Any]:
    return {name: s.values[-1] for name, s in stat.fields.items() if s.values}


def _timestamps(stat: _Stat) -> list[float] | None:
    series = stat.fields.get("timestamp")
    if series is None:
        return None
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in series.values):
        return None
    return [float(v) for v in series.values]


def _place_by_timestamps(stats: list[_Stat], where: str) -> list[float]:
    """Newer layout: each stats object's own timestamp series says where its points go."""
    local = [s for s in stats if s.stats_type not in REMOTE_TYPES and _timestamps(s) is not None]
    times = sorted({t for s in local for t in _timestamps(s) or []})
    index = {t: i for i, t in enumerate(times)}
    last_poll: dict[str, int] = {}
    for stat in local:
        stat.polls = [index[t] for t in _timestamps(stat) or []]
        if stat.polls:
            last_poll[stat.stats_id] = stat.polls[-1]
    for stat in stats:
        if stat in local:
            continue
        own = _timestamps(stat)
        count = len(own) if own is not None else max(len(s.values) for s in stat.fields.values())
        end = len(times) - 1
        local_id = _last_values(stat).get("localId")
        if isinstance(local_id, str) and local_id in last_poll:
            end = last_poll[local_id]
        if own is not None:
            # A point cannot sit on a poll earlier than its own (RTCP) timestamp.
            for k, t in enumerate(own):
                earliest = bisect.bisect_left(times, math.floor(t))
                end = max(end, earliest + count - 1 - k)
        end = min(end, len(times) - 1)
        stat.polls = list(range(end - count + 1, end + 1))
    for stat in stats:
        own = _timestamps(stat)
        if own is None:
            for name, series in stat.fields.items():
                stat.offsets[name] = len(stat.polls) - len(series.values)
            continue
        own_ms = [math.floor(t) for t in own]
        for name, series in stat.fields.items():
            # The series ends on the last point of the id at its endTime (ms, truncated).
            try:
                last = len(own_ms) - 1 - own_ms[::-1].index(series.end_ms)
            except ValueError:
                last = len(own_ms) - 1
            first = last - len(series.values) + 1
            if first < 0:
                raise DumpError(f"{where}.{stat.stats_id}-{name}: more values than timestamps")
            stat.offsets[name] = first
    return times


def _place_by_pins(stats: list[_Stat]) -> list[float]:
    """Old layout: rebuild the poll times from series start and end times."""
    series = [s for st in stats if st.stats_type not in REMOTE_TYPES for s in st.fields.values()]
    series = [s for s in series if s.values] or [
        s for st in stats for s in st.fields.values() if s.values
    ]
    if not series:
        return []
    polls = max(len(s.values) for s in series)
    master = min((s for s in series if len(s.values) == polls), key=lambda s: s.start_ms)
    first, last = master.start_ms, master.end_ms
    pins: dict[int, float] = {0: first, polls - 1: last}
    for s in series:
        n = len(s.values)
        if s.start_ms == first:
            pins.setdefault(n - 1, s.end_ms)
        if s.end_ms == last:
            pins.setdefault(polls - n, s.start_ms)
    times = _interpolate(pins, polls)
    step = (last - first) / (polls - 1) if polls > 1 else 1000.0
    step = step or 1000.0
    earliest = min(s.start_ms for s in series)
    latest = max(s.end_ms for s in series)
    while times[0] - step / 2 > earliest:
        times.insert(0, times[0] - step)
    while times[-1] + step / 2 < latest:
        times.append(times[-1] + step)
    for stat in stats:
        for name, s in stat.fields.items():
            end = _nearest(times, s.end_ms)
            stat.offsets[name] = end - len(s.values) + 1
    return times


def _interpolate(pins: dict[int, float], polls: int) -> list[float]:
    kept: list[tuple[int, float]] = []
    for i, t in sorted(pins.items()):
        if not kept or t > kept[-1][1]:
            kept.append((i, t))
    times = [0.0] * polls
    for (i0, t0), (i1, t1) in zip(kept, kept[1:], strict=False):
        for i in range(i0, i1 + 1):
            times[i] = t0 + (t1 - t0) * (i - i0) / (i1 - i0)
    if len(kept) == 1:
        times = [kept[0][1]] * polls
    return times


def _nearest(times: list[float], t: float) -> int:
    i = bisect.bisect_left(times, t)
    if i == 0:
        return 0
    if i == len(times):
        return len(times) - 1
    return i if times[i] - t < t - times[i - 1] else i - 1


def _count(pc: _PeerConnection) -> int:
    """How many polls have at least one stats object."""
    covered: set[int] = set()
    for stat in pc.stats:
        for name, series in stat.fields.items():
            points = range(stat.offsets[name], stat.offsets[name] + len(series.values))
            covered.update(stat.polls[p] for p in points if 0 <= p < len(stat.polls))
            if not stat.polls:
                covered.update(p for p in points if 0 <= p < len(pc.times))
    return len(covered)


def _reports(pc: _PeerConnection) -> Iterator[DumpReport]:
    for poll, time in enumerate(pc.times):
        report = [obj for stat in pc.stats if (obj := _object_at(stat, poll, time)) is not None]
        if report:
            yield DumpReport(peer_connection_id=pc.pc_id, timestamp_ms=time, report=report)


def _object_at(stat: _Stat, poll: int, time: float) -> StatsObject | None:
    if stat.polls:
        # New layout: offsets count the id's own points; map the poll back to one of them.
        point = bisect.bisect_left(stat.polls, poll)
        if point == len(stat.polls) or stat.polls[point] != poll:
            return None
    else:
        point = poll
    obj: StatsObject = {}
    for name, series in stat.fields.items():
        i = point - stat.offsets[name]
        if 0 <= i < len(series.values):
            obj[name] = series.values[i]
    if not obj:
        return None
    obj["id"] = stat.stats_id
    obj.setdefault("type", stat.stats_type)
    obj.setdefault("timestamp", time)
    return obj
