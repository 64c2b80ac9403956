"""The W3C stats ``type`` of a webrtc-internals series that does not say it (Chrome 86 and before).

Before webrtc-internals wrote ``statsType`` beside each series, Chromium's standard stats ids
spelled their type: ``RTCOutboundRTPVideoStream_1519538442``, ``RTCIceCandidatePair_a_b``.
Chromium's own id prefixes (third_party/webrtc pc/rtc_stats_collector.cc, before the short ids of
M106) map to the types below. Candidates say local or remote in their ``isRemote`` field. Ids of
the legacy (pre-standard, goog*) stats keep their legacy type names so nothing mistakes them for
standard stats. Anything else is told apart by its fields, and failing that is ``"unknown"``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

REMOTE_TYPES = frozenset({"remote-inbound-rtp", "remote-outbound-rtp"})

# Longest prefixes first: RTCIceCandidatePair_ before RTCIceCandidate_, Remote before plain.
_PREFIXES: tuple[tuple[str, str], ...] = (
    ("rtcremoteinboundrtp", "remote-inbound-rtp"),
    ("rtcremoteoutboundrtp", "remote-outbound-rtp"),
    ("rtcinboundrtp", "inbound-rtp"),
    ("rtcoutboundrtp", "outbound-rtp"),
    ("rtcicecandidatepair_", "candidate-pair"),
    ("rtcicecandidate_", "candidate"),  # local or remote: see isRemote
    ("rtctransport_", "transport"),
    ("rtccertificate_", "certificate"),
    ("rtccodec_", "codec"),
    ("rtcmediastreamtrack_", "track"),
    ("rtcmediastream_", "stream"),
    ("rtcaudiosource_", "media-source"),
    ("rtcvideosource_", "media-source"),
    ("rtcaudioplayout_", "media-playout"),
    ("rtcdatachannel_", "data-channel"),
    ("rtcpeerconnection", "peer-connection"),
    # Legacy stats (chrome://webrtc-internals "legacy" API), kept under their own type names.
    ("ssrc_", "ssrc"),
    ("bweforvideo", "VideoBwe"),
    ("conn-", "googCandidatePair"),
    ("channel-", "googComponent"),
    ("googtrack_", "googTrack"),
    ("googcertificate_", "googCertificate"),
    ("googlibjingle", "googLibjingleSession"),
)


def infer_type(stats_id: str, fields: Mapping[str, Any]) -> str:
    """The stats type an old webrtc-internals series id stands for."""
    lowered = stats_id.lower()
    for prefix, stats_type in _PREFIXES:
        if lowered.startswith(prefix):
            if stats_type == "candidate":
                return "remote-candidate" if fields.get("isRemote") is True else "local-candidate"
            return stats_type
    if lowered.startswith("cand-"):
        return "remotecandidate" if fields.get("isRemote") is True else "localcandidate"
    return _by_fields(fields)


def _by_fields(fields: Mapping[str, Any]) -> str:
    has = fields.keys()
    if "localId" in has and "roundTripTime" in has:
        return "remote-inbound-rtp"
    if "localId" in has and "remoteTimestamp" in has:
        return "remote-outbound-rtp"
    if "ssrc" in has and "packetsReceived" in has:
        return "inbound-rtp"
    if "ssrc" in has and "packetsSent" in has:
        return "outbound-rtp"
    if "localCandidateId" in has and "remoteCandidateId" in has:
        return "candidate-pair"
    if "mimeType" in has and "payloadType" in has:
        return "codec"
    if "candidateType" in has:
        return "remote-candidate" if fields.get("isRemote") is True else "local-candidate"
    if "dataChannelsOpened" in has:
        return "peer-connection"
    return "unknown"
