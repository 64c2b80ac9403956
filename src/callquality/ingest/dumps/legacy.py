"""Chrome's legacy (``goog*``) stats, rebuilt as the W3C dictionaries live ingest reads.

Chromium's callback getStats(), from before the standard one and kept beside it for years,
reported one ``ssrc`` object per RTP stream (``ssrc_<n>_send`` /
``ssrc_<n>_recv``), ``googCandidatePair`` objects and a ``VideoBwe`` one, every value a string:
``"packetsLost": "0"``, ``"googRtt": "65"`` (milliseconds). The field meanings are libwebrtc's
(``pc/legacy_stats_collector.cc``, ``api/legacy_stats_types.h``); the mapping follows the one
fippo/rtcstats-server applied to the same objects (``getstats-mangle.js``) and docs/dumps.md lists
it field by field. A report is rebuilt only when it has no standard RTP stats of its own.

The first rtcstats client also stored adapter.js's "mangled" copies of these objects, under the
old spec's names (``inboundrtp``, ``outboundrtp``, ``candidatepair``) and with the legacy units
(RTT and jitter in ms, where the spec says seconds). They are dropped, and rebuilt from the
legacy objects they were copied from. Old-spec names without legacy objects beside them
(Firefox ≤ 45) are renamed to today's; their units already were the spec's.

Nothing here raises: a legacy value that is no number (``""``, ``"-1"`` for "not measured yet")
is unknown, so the rebuilt report is always valid.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from ._common import StatsObject

_STANDARD_RTP = frozenset(
    {"inbound-rtp", "outbound-rtp", "remote-inbound-rtp", "remote-outbound-rtp"}
)
# Types live ingest reads (and checks); in a legacy report these are adapter.js's copies.
_READ_TYPES = _STANDARD_RTP | {"track", "candidate-pair", "codec", "transport"}
# The old spec's names (W3C webrtc-stats drafts before 2016-09), and today's.
_OLD_NAMES = {
    "inboundrtp": "inbound-rtp",
    "outboundrtp": "outbound-rtp",
    "candidatepair": "candidate-pair",
    "localcandidate": "local-candidate",
    "remotecandidate": "remote-candidate",
}
_INTEGER = re.compile(r"-?\d+")
# Counters and values past 2^53 are not what a browser reports; they are treated as unknown.
_LIMIT = 2.0**53


def standardize(report: list[StatsObject]) -> tuple[list[StatsObject], bool]:
    """The report as W3C dictionaries, and whether it was rebuilt from legacy objects."""
    types = {obj.get("type") for obj in report}
    if "ssrc" not in types or types & _STANDARD_RTP:
        if types & _OLD_NAMES.keys():
            return [_renamed(obj) for obj in report], False
        return report, False
    bwe = next((obj for obj in report if obj.get("type") == "VideoBwe"), None)
    out: list[StatsObject] = []
    for obj in report:
        stats_type = obj.get("type")
        if stats_type == "ssrc":
            out.extend(_ssrc(obj))
        elif obj.get("googActiveConnection") is not None:
            pair = _pair(obj, bwe)
            if pair is not None:
                out.append(pair)
        elif stats_type not in _READ_TYPES and stats_type not in _OLD_NAMES:
            out.append(obj)  # googTrack, googComponent, certificates...: nothing reads them
    return out, True


def number(value: Any) -> float | None:
    """A legacy value as a number: ints and floats, or strings of them; else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        text = value.strip()
        try:
            value = int(text) if _INTEGER.fullmatch(text) else float(text)
        except ValueError:
            return None
    if not isinstance(value, int | float):
        return None
    try:
        if not math.isfinite(value) or abs(value) > _LIMIT:
            return None
    except OverflowError:
        return None
    return value


def _count(obj: Mapping[str, Any], name: str) -> float | None:
    """A counter: Chrome writes -1 (or nothing) until it knows."""
    value = number(obj.get(name))
    return value if value is not None and value >= 0 else None


def _ms_as_s(obj: Mapping[str, Any], name: str, *, zero_known: bool) -> float | None:
    """A legacy millisecond value in seconds. googRtt is 0 (or -1) before any RTCP or STUN
    answer, so for it 0 is unknown; googJitterReceived 0 is a real (rounded) jitter."""
    value = number(obj.get(name))
    if value is None or value < 0 or (value == 0 and not zero_known):
        return None
    return value / 1000.0


def _renamed(obj: StatsObject) -> StatsObject:
    new = _OLD_NAMES.get(str(obj.get("type")))
    return {**obj, "type": new} if new is not None else obj


def _put(target: StatsObject, name: str, value: object) -> None:
    if value is not None:
        target[name] = value


def _ssrc(obj: StatsObject) -> list[StatsObject]:
    """One legacy RTP stream as outbound-rtp + remote-inbound-rtp, or as inbound-rtp."""
    stats_id = str(obj["id"])
    kind = obj.get("mediaType")
    if kind not in ("audio", "video"):
        return []  # Chrome before M43 (crbug 4808) could leave it out: no kind, no stream
    ssrc = number(obj.get("ssrc"))
    base: StatsObject = {"id": stats_id, "kind": kind}
    _put(base, "ssrc", int(ssrc) if ssrc is not None else None)
    _put(base, "timestamp", obj.get("timestamp"))
    out: list[StatsObject] = []
    codec = obj.get("googCodecName")
    if isinstance(codec, str) and codec:
        codec_id = f"{stats_id}-codec"
        out.append({"id": codec_id, "type": "codec", "mimeType": f"{kind}/{codec}",
                    "timestamp": obj.get("timestamp")})  # fmt: skip
        base["codecId"] = codec_id
    sending = stats_id.endswith("_send") or (
        not stats_id.endswith("_recv") and "packetsSent" in obj
    )
    if sending:
        out.extend(_outbound(obj, base))
    else:
        out.append(_inbound(obj, base))
    return out


def _outbound(obj: StatsObject, base: StatsObject) -> list[StatsObject]:
    stream: StatsObject = {**base, "type": "outbound-rtp"}
    _put(stream, "packetsSent", _count(obj, "packetsSent"))
    _put(stream, "bytesSent", _count(obj, "bytesSent"))
    if base["kind"] == "video":
        _put(stream, "frameWidth", _count(obj, "googFrameWidthSent"))
        _put(stream, "frameHeight", _count(obj, "googFrameHeightSent"))
        _put(stream, "framesPerSecond", _count(obj, "googFrameRateSent"))
        _put(stream, "framesEncoded", _count(obj, "framesEncoded"))
        _put(stream, "qualityLimitationReason", _limitation(obj))
    # What the remote end said in its RTCP receiver reports, as remote-inbound-rtp.
    remote: StatsObject = {**base, "id": f"{base['id']}-remote", "type": "remote-inbound-rtp",
                           "localId": base["id"]}  # fmt: skip
    remote.pop("codecId", None)
    _put(remote, "packetsLost", _count(obj, "packetsLost"))
    _put(remote, "roundTripTime", _ms_as_s(obj, "googRtt", zero_known=False))
    _put(remote, "jitter", _ms_as_s(obj, "googJitterReceived", zero_known=True))
    known = {"packetsLost", "roundTripTime", "jitter"} & remote.keys()
    return [stream, remote] if known else [stream]


def _inbound(obj: StatsObject, base: StatsObject) -> StatsObject:
    stream: StatsObject = {**base, "type": "inbound-rtp"}
    _put(stream, "packetsReceived", _count(obj, "packetsReceived"))
    _put(stream, "bytesReceived", _count(obj, "bytesReceived"))
    _put(stream, "packetsLost", _count(obj, "packetsLost"))
    _put(stream, "jitter", _ms_as_s(obj, "googJitterReceived", zero_known=True))
    if base["kind"] == "video":
        _put(stream, "frameWidth", _count(obj, "googFrameWidthReceived"))
        _put(stream, "frameHeight", _count(obj, "googFrameHeightReceived"))
        fps = _count(obj, "googFrameRateDecoded")
        if fps is None:
            fps = _count(obj, "googFrameRateOutput")
        _put(stream, "framesPerSecond", fps)
        _put(stream, "framesDecoded", _count(obj, "framesDecoded"))
    return stream


def _limitation(obj: Mapping[str, Any]) -> str | None:
    """qualityLimitationReason from the two booleans Chrome's legacy stats had."""
    cpu, bandwidth = obj.get("googCpuLimitedResolution"), obj.get("googBandwidthLimitedResolution")
    if cpu in ("true", True):
        return "cpu"
    if bandwidth in ("true", True):
        return "bandwidth"
    return "none" if cpu is not None or bandwidth is not None else None


def _pair(obj: StatsObject, bwe: Mapping[str, Any] | None) -> StatsObject | None:
    """The active candidate pair (googActiveConnection), the only one live ingest needs."""
    if obj.get("googActiveConnection") not in ("true", True):
        return None
    pair: StatsObject = {"id": obj["id"], "type": "candidate-pair", "state": "succeeded",
                         "nominated": True, "selected": True}  # fmt: skip
    _put(pair, "timestamp", obj.get("timestamp"))
    # libwebrtc smooths a connection's RTT 3:1 from a 3000 ms default (p2p/base/connection.cc,
    # DEFAULT_RTT, RTT_RATIO): Chrome 48's pair decays 2250, 1688, 1266... over its first
    # seconds. Chromes that report responsesReceived start from the first answer instead (the
    # Chrome 96 dump: 48 ms after one); without it, the pair's RTT is not used.
    if (_count(obj, "responsesReceived") or 0) > 0:
        _put(pair, "currentRoundTripTime", _ms_as_s(obj, "googRtt", zero_known=False))
    _put(pair, "bytesSent", _count(obj, "bytesSent"))
    _put(pair, "bytesReceived", _count(obj, "bytesReceived"))
    for name in ("localCandidateId", "remoteCandidateId"):
        _put(pair, name, obj.get(name) if isinstance(obj.get(name), str) else None)
    if bwe is not None:
        available = _count(bwe, "googAvailableSendBandwidth")
        _put(pair, "availableOutgoingBitrate", available if available else None)
    return pair
