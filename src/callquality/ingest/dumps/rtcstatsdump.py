"""RTCStatsDump files, format 3: what rtcstats.js uploads and chrome://webrtc-internals saves.

Layout (rtcstats/rtcstats, packages/rtcstats-server/docs/file-format.md)::

    RTCStatsDump
    {"fileFormat": 3, ...metadata}
    [method, peerConnectionId | null, value, ...extra, timeDelta]
    ...

``timeDelta`` is milliseconds since the previous line (since the epoch on the first). The method
may be compressed to a number (``"g"`` or ``1`` is getStats). A getStats value is a delta against
the previous report of the same peer connection: a stats id that is absent is unchanged, ``null``
means removed, an object lists only the fields that changed (nested objects merge field by field),
its property names and ``type`` may be compressed to numbers, and the timestamp shared by most
objects moves to a top-level ``"t"``. Ids may be replaced by short numeric ones; references were
rewritten the same way, so they stay consistent and need no reverse mapping.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from ._common import (
    DumpError,
    DumpInfo,
    Progress,
    StatsObject,
    loads,
    report_timestamp,
    split_lines,
)
from ._lines import Event, LineDump, State, expect_object, parse_event, scan

FORMAT = "rtcstatsdump"
MAGIC = b"RTCStatsDump"

# Method ids of the compressed method table (rtcstats-shared compression.js); only the ones whose
# meaning this reader needs are mapped, every other method is kept as written.
_METHODS = {"g": "getStats", "1": "getStats", "39": "create"}

# Stats type ids, as the format defines them.
_TYPES = {
    1: "inbound-rtp", 2: "outbound-rtp", 3: "remote-inbound-rtp", 4: "remote-outbound-rtp",
    5: "transport", 6: "candidate-pair", 7: "local-candidate", 8: "remote-candidate",
    9: "data-channel", 10: "peer-connection", 11: "certificate", 12: "media-source",
    13: "media-playout", 14: "codec",
}  # fmt: skip

# Property ids, as the format defines them (gaps are ids the format retired).
_PROPERTY_NAMES = """
4 payloadType 5 transportId 6 mimeType 7 clockRate 8 channels 9 sdpFmtpLine 10 ssrc 11 kind
12 codecId 14 packetsReceived 15 packetsLost 16 jitter 17 trackIdentifier 18 mid 19 remoteId
20 framesDecoded 21 keyFramesDecoded 22 framesDropped 23 frameWidth 24 frameHeight
25 framesPerSecond 26 qpSum 27 totalDecodeTime 28 totalInterFrameDelay
29 totalSquaredInterFrameDelay 30 pauseCount 31 totalPausesDuration 32 freezeCount
33 totalFreezesDuration 34 lastPacketReceivedTimestamp 35 headerBytesReceived 36 packetsDiscarded
37 fecPacketsReceived 38 fecPacketsDiscarded 39 fecBytesReceived 40 fecSsrc 41 bytesReceived
42 nackCount 43 firCount 44 pliCount 45 totalProcessingDelay 46 estimatedPlayoutTimestamp
47 jitterBufferDelay 48 jitterBufferTargetDelay 49 jitterBufferEmittedCount
50 jitterBufferMinimumDelay 51 totalSamplesReceived 52 concealedSamples 53 silentConcealedSamples
54 concealmentEvents 55 insertedSamplesForDeceleration 56 removedSamplesForAcceleration
57 audioLevel 58 totalAudioEnergy 59 totalSamplesDuration 60 framesReceived
61 decoderImplementation 62 playoutId 63 powerEfficientDecoder 64 framesAssembledFromMultiplePackets
65 totalAssemblyTime 66 contentType 67 googTimingFrameInfo 68 retransmittedPacketsReceived
69 retransmittedBytesReceived 70 rtxSsrc 71 totalCorruptionProbability
72 totalSquaredCorruptionProbability 73 corruptionMeasurements 74 localId 75 roundTripTime
76 totalRoundTripTime 77 fractionLost 78 roundTripTimeMeasurements 79 packetsSent 80 bytesSent
81 mediaSourceId 82 rid 83 encodingIndex 84 headerBytesSent 85 retransmittedPacketsSent
86 retransmittedBytesSent 87 targetBitrate 88 totalEncodedBytesTarget 89 framesSent
90 hugeFramesSent 91 framesEncoded 92 keyFramesEncoded 93 totalEncodeTime 94 totalPacketSendDelay
95 qualityLimitationReason 96 qualityLimitationDurations 97 qualityLimitationResolutionChanges
98 encoderImplementation 99 powerEfficientEncoder 100 active 101 scalabilityMode
102 remoteTimestamp 103 reportsSent 104 echoReturnLoss 105 echoReturnLossEnhancement 106 width
107 height 108 frames 109 synthesizedSamplesDuration 110 synthesizedSamplesEvents
111 totalPlayoutDelay 112 totalSamplesCount 113 dataChannelsOpened 114 dataChannelsClosed
115 label 116 protocol 117 dataChannelIdentifier 118 state 119 messagesSent 120 messagesReceived
121 iceRole 122 iceLocalUsernameFragment 123 dtlsState 124 iceState 125 selectedCandidatePairId
126 localCertificateId 127 remoteCertificateId 128 tlsVersion 129 dtlsCipher 130 dtlsRole
131 srtpCipher 132 selectedCandidatePairChanges 133 rtcpTransportStatsId 134 address 135 port
136 candidateType 137 priority 138 url 139 relayProtocol 140 foundation 141 relatedAddress
142 relatedPort 143 usernameFragment 144 tcpType 145 networkType 148 localCandidateId
149 remoteCandidateId 150 nominated 151 lastPacketSentTimestamp 152 currentRoundTripTime
153 availableOutgoingBitrate 154 availableIncomingBitrate 155 requestsReceived 156 requestsSent
157 responsesReceived 158 responsesSent 159 consentRequestsSent 160 packetsDiscardedOnSend
161 bytesDiscardedOnSend 163 fingerprint 164 fingerprintAlgorithm 165 base64Certificate
166 issuerCertificateId 167 psnrMeasurements 168 psnrSum 169 packetsReceivedWithEct1
170 packetsReceivedWithCe 171 packetsReportedAsLost 172 packetsReportedAsLostButRecovered
173 packetsWithBleachedEct1Marking 174 packetsSentWithEct1 175 ccfbMessagesSent
176 ccfbMessagesReceived
""".split()
_PROPERTIES = dict(zip(_PROPERTY_NAMES[::2], _PROPERTY_NAMES[1::2], strict=True))
_PROPERTIES["t"] = "timestamp"
_TOP_TIMESTAMP = ("t", "timestamp")


def read(data: bytes, progress: Progress | None) -> LineDump:
    """Validate an RTCStatsDump file and return it ready to replay."""
    metadata = _metadata(data)
    info = DumpInfo(
        format=FORMAT,
        user_agent=_str(metadata.get("userAgent")),
        url=_str(metadata.get("url")),
        metadata=metadata,
    )
    return scan(data, info, _events, _is_stats, decompress, progress)


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _header_lines(data: bytes) -> Iterator[tuple[int, int, bytes]]:
    lines = split_lines(data)
    first = next(lines, None)
    if first is None or first[2].strip() != MAGIC:
        raise DumpError("line 1: an RTCStatsDump file starts with the line 'RTCStatsDump'")
    second = next(lines, None)
    if second is None:
        raise DumpError("line 2: missing the metadata line (a JSON object with fileFormat)")
    yield second
    yield from lines


def _metadata(data: bytes) -> dict[str, Any]:
    number, _, line = next(_header_lines(data))
    metadata = loads(line, f"line {number}")
    if not isinstance(metadata, dict):
        raise DumpError(f"line {number}: the metadata line must be a JSON object")
    version = metadata.get("fileFormat")
    if version != 3:
        raise DumpError(f"line {number}: fileFormat is {version!r}; this reader handles format 3")
    return metadata


def _events(data: bytes) -> Iterator[Event]:
    lines = _header_lines(data)
    next(lines)  # metadata, checked by _metadata
    last = 0.0
    for number, end, line in lines:
        event = parse_event(number, end, line, absolute_time=False, last=last)
        if event.time_ms is not None:
            last = event.time_ms
        method = _METHODS.get(event.method, event.method)
        if method != event.method:
            event = replace(event, method=method)
        yield event


def _is_stats(method: str) -> bool:
    return method == "getStats"


def _expand(obj: dict[str, Any]) -> StatsObject:
    out = {_PROPERTIES.get(name, name): value for name, value in obj.items()}
    stats_type = out.get("type")
    if isinstance(stats_type, int) and not isinstance(stats_type, bool):
        out["type"] = _TYPES.get(stats_type, str(stats_type))
    return out


def decompress(base: State | None, value: Any, where: str) -> tuple[State, float | None]:
    """Apply one getStats delta to the previous state of its peer connection."""
    delta = expect_object(value, where)
    top = None
    for key in _TOP_TIMESTAMP:
        candidate = delta.get(key)
        if isinstance(candidate, int | float) and not isinstance(candidate, bool):
            top = float(candidate)
    previous = base or {}
    state: State = {}
    for stats_id, obj in previous.items():
        if stats_id in delta:
            continue
        carried = dict(obj)
        if top is not None:
            carried["timestamp"] = top
        state[stats_id] = carried
    for stats_id, raw in delta.items():
        if stats_id in _TOP_TIMESTAMP and not isinstance(raw, dict):
            continue
        if raw is None:
            continue  # removed since the previous report
        if not isinstance(raw, dict):
            raise DumpError(f"{where}: stats {stats_id!r} must be a JSON object or null")
        changes = _expand(raw)
        merged = dict(previous.get(stats_id, {}))
        for name, new in changes.items():
            old = merged.get(name)
            if isinstance(old, dict) and isinstance(new, dict):
                merged[name] = {**old, **new}
            else:
                merged[name] = new
        if "timestamp" not in changes and top is not None:
            merged["timestamp"] = top
        merged["id"] = stats_id
        if not isinstance(merged.get("type"), str):
            raise DumpError(f"{where}: stats {stats_id!r} has no type")
        state[stats_id] = merged
    return state, top if top is not None else report_timestamp(state)
