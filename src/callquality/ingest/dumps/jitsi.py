"""jitsi rtcstats client dumps: one JSON array per line, times absolute, getstats delta-compressed.

Layout (jitsi/rtcstats and jitsi/rtcstats-server)::

    ["connectionInfo", null, {"userAgent", "url", "clientProtocol", "statsFormat", ...}, time]
    ["getstats", "PC_0", {id: {changed fields}, ..., "timestamp": t}, time]

The delta of a getstats line lists every stats id the browser returned. For each id it keeps only
the fields that changed since the previous report of that peer connection: a field that is absent
keeps its previous value. ``"timestamp": 0`` in an object stands for the top-level ``timestamp``
(the report's time); an object without a timestamp keeps its previous one. Clients of protocol 3
and later list unchanged objects too (as ``{"timestamp": 0}``), so an id missing from a line was
removed; older clients dropped unchanged objects, so there an absent id is carried over. This is
the rule rtcstats-server applies when it decompresses (``clientProtocol >= 3``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from ._common import (
    DumpError,
    DumpInfo,
    Progress,
    declared_browser,
    loads,
    report_timestamp,
    split_lines,
)
from ._lines import Decoder, Event, LineDump, State, expect_object, parse_event, scan

FORMAT = "jitsi-rtcstats"
_LEADING_NUMBER = re.compile(r"\s*(\d+(?:\.\d+)?)")


def read(data: bytes, progress: Progress | None) -> LineDump:
    """Validate a jitsi rtcstats dump and return it ready to replay."""
    connection_info = _connection_info(data)
    protocol = _protocol(connection_info.get("clientProtocol"))
    info = DumpInfo(format=FORMAT, metadata=connection_info)
    # Only a fallback: the user agent, or what the stats say, comes first (_lines.scan).
    info = replace(info, browser=declared_browser(connection_info.get("statsFormat")))
    return scan(data, info, _events, _is_stats, _decoder(protocol >= 3), progress)


def _events(data: bytes) -> Iterator[Event]:
    for number, end, line in split_lines(data):
        yield parse_event(number, end, line, absolute_time=True, last=0.0)


def _connection_info(data: bytes) -> dict[str, Any]:
    for event in _events(data):
        if event.method == "connectionInfo" and isinstance(event.value, dict):
            return event.value
        if event.method == "connectionInfo" and isinstance(event.value, str):
            # Some client versions send the object JSON-encoded.
            value = loads(event.value, f"line {event.line}: connectionInfo")
            if isinstance(value, dict):
                return value
        if _is_stats(event.method):
            break  # connectionInfo, when present, comes first
    return {}


def _protocol(value: Any) -> float:
    """The protocol number of '3.1_STANDARD', 3 or '2'; 0 when absent (the server's default)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        match = _LEADING_NUMBER.match(value)
        if match:
            return float(match.group(1))
    return 0.0


def _is_stats(method: str) -> bool:
    return method.lower() == "getstats"


def _decoder(absent_means_removed: bool) -> Decoder:
    def decompress(base: State | None, value: Any, where: str) -> tuple[State, float | None]:
        delta = expect_object(value, where)
        top_raw = delta.get("timestamp")
        top = None
        if isinstance(top_raw, int | float) and not isinstance(top_raw, bool):
            top = float(top_raw)
        previous = base or {}
        state: State = {}
        if not absent_means_removed:
            state.update((k, v) for k, v in previous.items() if k not in delta)
        for stats_id, raw in delta.items():
            if stats_id == "timestamp" and not isinstance(raw, dict):
                continue
            if not isinstance(raw, dict):
                raise DumpError(f"{where}: stats {stats_id!r} must be a JSON object")
            old = previous.get(stats_id)
            merged = dict(old) if old is not None else {}
            merged.update(raw)
            own = raw.get("timestamp")
            if own == 0 or (own is None and old is None):
                if top is not None:
                    merged["timestamp"] = top
            merged["id"] = stats_id
            if not isinstance(merged.get("type"), str):
                raise DumpError(f"{where}: stats {stats_id!r} has no type")
            state[stats_id] = merged
        return state, top if top is not None else report_timestamp(state)

    return decompress
