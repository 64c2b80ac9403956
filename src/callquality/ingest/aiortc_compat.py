"""aiortc's getStats() output → the W3C dictionaries ``process_report`` reads.

aiortc (https://github.com/aiortc/aiortc, ``aiortc/stats.py``) returns an ``RTCStatsReport``
(a dict of id → dataclass) whose fields carry W3C names, with three differences fixed here:
``timestamp``/``remoteTimestamp`` are ``datetime`` objects (→ epoch milliseconds), ``jitter``
is an integer count of RTP timestamp units (→ seconds, by the media clock rate), and the
remote-inbound ``fractionLost`` is the RTCP receiver report's 8-bit fixed point value (RFC 3550
§6.4.1, → a fraction 0..1). aiortc itself is not imported: any mapping of dataclasses works.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Mapping
from typing import Any

from callquality.ingest.rtcstats import DEFAULT_CLOCK_RATE

_TIME_FIELDS = ("timestamp", "remoteTimestamp")
_JITTER_TYPES = frozenset({"inbound-rtp", "remote-inbound-rtp"})


def aiortc_report_to_dicts(
    stats_report: Mapping[str, Any], clock_rates: Mapping[str, float] | None = None
) -> list[dict[str, Any]]:
    """W3C stats dictionaries from an aiortc ``RTCStatsReport``; ``clock_rates`` by kind."""
    rates = {**DEFAULT_CLOCK_RATE, **(clock_rates or {})}
    out: list[dict[str, Any]] = []
    for key, stats in stats_report.items():
        if dataclasses.is_dataclass(stats) and not isinstance(stats, type):
            d = dataclasses.asdict(stats)
        else:
            d = dict(stats)
        d.setdefault("id", key)
        for name in _TIME_FIELDS:
            if isinstance(d.get(name), datetime.datetime):
                d[name] = _epoch_ms(d[name])
        if d.get("remoteTimestamp") is not None and d["remoteTimestamp"] <= 0:
            # aiortc reports NTP time 0 (1900-01-01) for an SR sent before any RTP packet.
            del d["remoteTimestamp"]
        jitter = d.get("jitter")
        if d.get("type") in _JITTER_TYPES and isinstance(jitter, int) and d.get("kind") in rates:
            d["jitter"] = jitter / rates[d["kind"]]
        fraction = d.get("fractionLost")
        if d.get("type") == "remote-inbound-rtp" and type(fraction) is int:
            d["fractionLost"] = fraction / 256.0
        out.append(d)
    return out


def _epoch_ms(moment: datetime.datetime) -> float:
    if moment.tzinfo is None:  # aiortc's clock is UTC (aiortc/clock.py)
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.timestamp() * 1000.0
