"""A client's device and connection, from what it sends: its user agent (or UA client hints)
and the selected ICE candidate pair of a raw getStats() report. Pure: no I/O.

The user agent is parsed with ua-parser (the uap-core rules, Browserscope's parser); client
hints, where the browser sends them, take precedence: they name the browser and its full
version without the frozen parts of a reduced user agent (``Chrome/156.0.0.0``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ua_parser import parse as parse_user_agent

from callquality.domain.client import ClientInfo
from callquality.ingest.rtcstats import ReportError, stats_of

# W3C webrtc-stats §5 RTCIceCandidateType and RTCIceServerTransportProtocol; the protocol of
# an RTCIceCandidateStats is "udp" or "tcp" (RFC 8445, RFC 6544).
CANDIDATE_TYPES = frozenset({"host", "srflx", "prflx", "relay"})
PROTOCOLS = frozenset({"udp", "tcp"})
RELAY_PROTOCOLS = frozenset({"udp", "tcp", "tls"})
_WORD = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")
# UA client hints add a made-up brand so that servers do not match lists of brands
# ("GREASE", WICG UA-CH §6.2): "Not_A Brand", "Not/A)Brand", "Not?A_Brand", ...
_GREASE = re.compile(r"not.a.brand", re.IGNORECASE)
# Brands that a more specific brand of the same browser usually accompanies.
_GENERIC_BRANDS = ("Chromium",)


@dataclass(frozen=True, slots=True)
class Brand:
    """One entry of NavigatorUAData.brands or fullVersionList."""

    brand: str
    version: str


@dataclass(frozen=True, slots=True)
class ClientHints:
    """The UA client hints a browser reports (WICG UA-CH, NavigatorUAData)."""

    brands: tuple[Brand, ...] = ()
    full_version_list: tuple[Brand, ...] = ()
    mobile: bool | None = None
    platform: str | None = None
    platform_version: str | None = None
    model: str | None = None


def _version_in(user_agent: str, family: str) -> str | None:
    """The version written after ``family/`` in the user agent, as written."""
    match = re.search(re.escape(family) + r"/(\d+(?:\.\d+)*)", user_agent)
    return match.group(1) if match else None


def _joined(*parts: str | None) -> str | None:
    known = []
    for part in parts:
        if part is None:
            break
        known.append(part)
    return ".".join(known) or None


def _device_type(user_agent: str, os_name: str | None, device_family: str | None) -> str:
    # ua-parser names the device, not its type: the usual tokens decide.
    if device_family == "iPad" or "Tablet" in user_agent:
        return "tablet"
    if "Mobi" in user_agent or os_name in ("iOS", "Android"):
        return "mobile"
    return "desktop"


@lru_cache(maxsize=4096)
def from_user_agent(user_agent: str) -> ClientInfo:
    """Browser, OS and device of a user-agent string (unknown parts None)."""
    parsed = parse_user_agent(user_agent)
    ua, os, device = parsed.user_agent, parsed.os, parsed.device
    browser = ua.family if ua is not None and ua.family != "Other" else None
    browser_version = None
    if ua is not None and browser is not None:
        browser_version = _version_in(user_agent, browser) or _joined(
            ua.major, ua.minor, ua.patch, ua.patch_minor
        )
    os_name = os.family if os is not None and os.family != "Other" else None
    os_version = _joined(os.major, os.minor, os.patch, os.patch_minor) if os else None
    family = device.family if device is not None and device.family != "Other" else None
    model = device.model if device is not None and device.model not in (None, "Other") else None
    return ClientInfo(
        browser_name=browser,
        browser_version=browser_version,
        os_name=os_name,
        os_version=os_version,
        device_type=_device_type(user_agent, os_name, family),
        device_model=model,
    )


def _browser_of(hints: ClientHints) -> tuple[str | None, str | None]:
    """The most specific real brand, with its full version where it is known."""
    brands = [b for b in hints.full_version_list or hints.brands if not _GREASE.search(b.brand)]
    if not brands:
        return None, None
    specific = [b for b in brands if b.brand not in _GENERIC_BRANDS]
    chosen = (specific or brands)[0]
    return chosen.brand, chosen.version or None


def from_client_hints(hints: ClientHints) -> ClientInfo:
    """Browser, OS and device type of UA client hints (unknown parts None)."""
    browser, version = _browser_of(hints)
    device_type = None if hints.mobile is None else ("mobile" if hints.mobile else "desktop")
    return ClientInfo(
        browser_name=browser,
        browser_version=version,
        os_name=hints.platform or None,
        os_version=hints.platform_version or None,
        device_type=device_type,
        device_model=hints.model or None,
    )


def _selected_pair(by_id: dict[str, Any]) -> Any:
    """The selected candidate pair: the transport's (W3C), else one marked ``selected``
    (Firefox), else a nominated pair that succeeded."""
    for stats in by_id.values():
        if stats.type == "transport":
            pair = by_id.get(str(stats.selectedCandidatePairId))
            if pair is not None and pair.type == "candidate-pair":
                return pair
    pairs = [s for s in by_id.values() if s.type == "candidate-pair"]
    for test in (
        lambda p: p.selected is True,
        lambda p: p.nominated is True and p.state == "succeeded",
    ):
        chosen = [p for p in pairs if test(p)]
        if chosen:
            return chosen[0]
    return None


def _one_of(value: Any, allowed: frozenset[str]) -> str | None:
    return value if isinstance(value, str) and value in allowed else None


def connection_of(report: Sequence[Any]) -> ClientInfo | None:
    """The connection of a raw report: the local candidate of its selected pair (its type,
    protocol, TURN protocol and network type), or None when it has no selected pair (or
    the report is not one the reader reads: ingest refuses it)."""
    try:
        by_id = {s.id: s for s in stats_of(report)}
    except ReportError:
        return None
    pair = _selected_pair(by_id)
    if pair is None:
        return None
    local = by_id.get(str(pair.localCandidateId))
    if local is None or local.type != "local-candidate":
        return None
    candidate_type = _one_of(local.candidateType, CANDIDATE_TYPES)
    network = local.networkType
    info = ClientInfo(
        candidate_type=candidate_type,
        protocol=_one_of(local.protocol, PROTOCOLS),
        relay_protocol=(
            _one_of(local.relayProtocol, RELAY_PROTOCOLS)
            if candidate_type == "relay" else None
        ),
        network_type=network if isinstance(network, str) and _WORD.match(network) else None,
    )
    return None if info.is_empty() else info
