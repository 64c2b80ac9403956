"""The first rtcstats layout (fippo/rtcstats, 2016): one JSON object, events per peer connection.

Layout (fippo/rtcstats-server ``test/clienttest.json``, as its first client uploaded it)::

    {"url", "userAgent", "getUserMedia": [...],
     "peerConnections": {"PC_0": [{"time": "2016-01-28T18:24:21.237Z", "type": "getStats",
                                   "value": {id: {stats object}, ...}}, ...]}}

Every getStats value is a whole report (no delta compression). Chrome wrote its legacy stats
then, and adapter.js's copies of them under the old spec's names (``inboundrtp``,
``outboundrtp``): ``legacy.py`` rebuilds the W3C dictionaries. A ``PeerConnections`` key (the
webrtc-internals one) may be there too, empty.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from ._common import (
    DumpError,
    DumpInfo,
    DumpReport,
    DumpSample,
    StatsObject,
    browser_of,
    report_timestamp,
    stats_browser,
)

FORMAT = "rtcstats-v1"


def is_v1(doc: Mapping[str, Any]) -> bool:
    """Whether a parsed JSON object is this layout rather than a webrtc-internals download."""
    return isinstance(doc.get("peerConnections"), dict) and not doc.get("PeerConnections")


class V1Dump:
    """A validated first-layout rtcstats dump: its info, and its reports."""

    def __init__(self, info: DumpInfo, reports: list[DumpReport]) -> None:
        self.info = info
        self._reports = reports

    def reports(self) -> Iterator[DumpReport]:
        """Every getStats report, peer connection by peer connection, in time order."""
        return iter(self._reports)

    def samples(self) -> Iterator[DumpSample]:
        """None: a browser's dump holds reports."""
        return iter(())


def read(doc: Mapping[str, Any]) -> V1Dump:
    """Validate the parsed document and rebuild its reports."""
    pcs = doc["peerConnections"]
    reports: list[DumpReport] = []
    browser_hint: str | None = None
    for pc_id, events in pcs.items():
        where = f"peerConnections.{pc_id}"
        if not isinstance(events, list):
            raise DumpError(f"{where}: must be a list of {{time, type, value}} events")
        pc_reports = []
        for i, event in enumerate(events):
            report = _report(str(pc_id), event, f"{where}[{i}]")
            if report is not None:
                pc_reports.append(report)
                browser_hint = browser_hint or stats_browser(report.report)
        pc_reports.sort(key=lambda r: r.timestamp_ms)
        reports.extend(pc_reports)
    user_agent = doc.get("userAgent") if isinstance(doc.get("userAgent"), str) else None
    url = doc.get("url") if isinstance(doc.get("url"), str) else None
    times = [r.timestamp_ms for r in reports]
    info = DumpInfo(
        format=FORMAT,
        user_agent=user_agent,
        browser=browser_of(user_agent) or browser_hint,
        url=url,
        peer_connection_ids=tuple(dict.fromkeys(r.peer_connection_id for r in reports)),
        report_count=len(reports),
        start_ms=min(times) if times else None,
        end_ms=max(times) if times else None,
        metadata={k: v for k, v in doc.items() if k not in ("peerConnections", "PeerConnections")},
    )
    return V1Dump(info, reports)


def _report(pc_id: str, event: Any, where: str) -> DumpReport | None:
    if not isinstance(event, dict):
        raise DumpError(f"{where}: must be an object {{time, type, value}}")
    if event.get("type") != "getStats":
        return None
    time_ms = _time_ms(event.get("time"), f"{where}.time")
    value = event.get("value")
    if not isinstance(value, dict):
        raise DumpError(f"{where}.value: the getStats report must be a JSON object of stats by id")
    objects: dict[str, StatsObject] = {}
    for stats_id, raw in value.items():
        if not isinstance(raw, dict):
            raise DumpError(f"{where}.value.{stats_id}: must be a JSON object")
        if not isinstance(raw.get("type"), str):
            raise DumpError(f"{where}.value.{stats_id}: has no type")
        objects[stats_id] = {**raw, "id": stats_id}
    own = report_timestamp(objects)
    return DumpReport(pc_id, own if own is not None else time_ms, list(objects.values()))


def _time_ms(value: Any, where: str) -> float:
    """An ISO 8601 time (as the first client wrote it) or epoch milliseconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            parsed = None
        if parsed is not None and parsed.tzinfo is not None:
            return parsed.timestamp() * 1000.0
    raise DumpError(f"{where}: {value!r} is not an ISO 8601 time with a zone, nor epoch ms")
