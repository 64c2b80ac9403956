"""aiortc's getStats() output → the W3C dictionaries ``process_report`` reads.

aiortc (https://github.com/aiortc/aiortc, ``aiortc/stats.py``) returns an ``RTCStatsReport``
(a dict of id → dataclass) whose fields carry W3C names, with two differences fixed here:
``timestamp``/``remoteTimestamp`` are ``datetime`` objects (→ epoch milliseconds), and the
remote-inbound ``fractionLost`` is the RTCP receiver report's 8-bit fixed point value (RFC 3550
§6.4.1, → a fraction 0..1). Its third, ``jitter`` as an integer count of RTP timestamp units,
is converted in one place for every sender, ``ingest/rtcstats.py``, by the stream's codec clock
rate: aiortc reports no codec stats, so ``clock_rates`` (by kind) adds them here. aiortc itself
is not imported: any mapping of dataclasses works.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Mapping
from typing import Any

_TIME_FIELDS = ("timestamp", "remoteTimestamp")
_RTP_TYPES = frozenset({"inbound-rtp", "remote-inbound-rtp", "outbound-rtp"})


def aiortc_report_to_dicts(
    stats_report: Mapping[str, Any], clock_rates: Mapping[str, float] | None = None
) -> list[dict[str, Any]]:
    """W3C stats dictionaries from an aiortc ``RTCStatsReport``; ``clock_rates`` by kind."""
    rates = dict(clock_rates or {})
    out: list[dict[str, Any]] = [
        {"id": f"codec-{kind}", "type": "codec", "clockRate": rate} for kind, rate in rates.items()
    ]
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
        if d.get("type") in _RTP_TYPES and d.get("kind") in rates and not d.get("codecId"):
            d["codecId"] = f"codec-{d['kind']}"
        fraction = d.get("fractionLost")
        if d.get("type") == "remote-inbound-rtp" and type(fraction) is int:
            d["fractionLost"] = fraction / 256.0
        out.append(d)
    return out


def _epoch_ms(moment: datetime.datetime) -> float:
    if moment.tzinfo is None:  # aiortc's clock is UTC (aiortc/clock.py)
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.timestamp() * 1000.0
