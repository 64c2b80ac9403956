"""The Jitsi videobridge's conference state → one sample per endpoint per stats entry.

What the bridge knows of an endpoint (jitsi-videobridge, ``jitsi-media-transform``), and the
side of the participant's sample it fills (docs/dumps.md, "Jitsi videobridge dumps"):

* ``RTP receiver <id>`` → ``Node Incoming statistics tracker``: per SSRC the endpoint sends,
  cumulative ``num_received_packets``, ``num_received_bytes`` (whole RTP packets),
  ``cumulative_packets_lost`` and the RFC 3550 interarrival ``jitter`` in ms, by ``media_type``
  (``IncomingStatisticsTracker.kt``; RTX is not tracked). → ``send``: what the participant
  sent, as the bridge received it.
* ``RTP sender <id>`` → ``Node Outgoing statistics tracker``: per SSRC the bridge forwards to the
  endpoint, ``packet_count`` and ``octet_count``. → ``recv`` packets and bitrate. What the
  endpoint lost of them is not in the dump.
* ``endpointConnectionStats.rtt``: the bridge's RTCP round trip to the endpoint, in ms, 0 until
  measured (``EndpointConnectionStats.kt``). → ``send.rtt_ms`` and ``recv.rtt_ms``.
* ``MediaStreamSources``: the endpoint's simulcast layers (height, frame rate, bitrate), and
  ``bitrateController`` allocations: the layers forwarded to it. → height and frame rate.

Counters are created at zero with the endpoint and with each SSRC's first packet, so a counter
first seen in an entry started within that entry's interval, and all of it counts. The first
entry's interval starts at the conference's ``creationTime`` (the bridge's clock, as the
entries' ``timestamp``); without it, the first entry is only a baseline.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from callquality.domain.sample import DirectionStats, MediaStats, Sample

from ._common import DumpError, DumpSample

_KINDS = ("audio", "video")
_LAYER = re.compile(r"^E\d+S\d+T\d+$")
_PAYLOAD = re.compile(r"->\s*([A-Za-z0-9]+)\s*\(")
_VIDEO_CODECS = {"VP8": "VP8", "VP9": "VP9", "H264": "H264", "AV1": "AV1"}
# AdaptiveSourceProjectionContext classes of jitsi-videobridge (cc/), by the codec they rewrite.
_PROJECTION = {"vp8": "VP8", "vp9": "VP9", "av1": "AV1", "h264": "H264"}
_MAX_DEPTH = 64


@dataclass(slots=True)
class _In:
    """One SSRC the bridge receives from an endpoint."""

    kind: str
    packets: float
    bytes: float
    lost: float
    jitter_ms: float | None


@dataclass(slots=True)
class _Endpoint:
    """What one entry says of one endpoint."""

    name: str | None
    expired: bool
    inbound: dict[str, _In]
    outbound: dict[str, tuple[float, float]]  # SSRC → (packets, bytes)
    rtt_ms: float | None
    send_picture: tuple[int | None, float | None]  # (height, frame rate) of its top layer
    recv_picture: tuple[int | None, float | None]  # of the largest layer forwarded to it
    codecs: tuple[str | None, str | None]  # (audio, video)


@dataclass(slots=True)
class _Counters:
    """An endpoint's counters at its previous entry, for the next interval's deltas."""

    inbound: dict[str, tuple[float, float, float]] = field(default_factory=dict)
    outbound: dict[str, tuple[float, float]] = field(default_factory=dict)


class Bridge:
    """Merges a videobridge dump's entries and collects each endpoint's samples."""

    def __init__(self) -> None:
        self.state: dict[str, Any] = {}
        self.samples: list[DumpSample] = []
        self.warnings: list[str] = []
        self.entries = 0
        self._last_ms: float | None = None
        self._counters: dict[str, _Counters] = {}
        self._unknown_kind: set[tuple[str, str]] = set()

    def add(self, delta: dict[str, Any], where: str) -> None:
        """Merge one stats entry and make the samples of the interval it ends."""
        try:
            merge(self.state, delta)
        except RecursionError:
            raise DumpError(f"{where}: data nested too deeply") from None
        endpoints = self.state.get("endpoints")
        if not isinstance(endpoints, dict):
            return  # no conference state with endpoints (yet)
        self.entries += 1
        now = _number(self.state.get("timestamp"), f"{where}: timestamp")
        if now is None:
            raise DumpError(f"{where}: a videobridge stats entry without a timestamp")
        start = self._last_ms
        if start is None:
            start = _number(self.state.get("creationTime"), f"{where}: creationTime")
        if start is not None and now <= start:
            self.warnings.append(f"{where}: its timestamp is not after the previous entry's")
            return
        self._last_ms = now
        seen = {eid: _endpoint(eid, ep, f"{where}: endpoints.{eid}")
                for eid, ep in endpoints.items() if isinstance(ep, dict)}  # fmt: skip
        kinds = _ssrc_kinds(seen.values(), endpoints)
        for eid, ep in seen.items():
            before = self._counters.get(eid)
            after = _Counters(
                {s: (i.packets, i.bytes, i.lost) for s, i in ep.inbound.items()},
                dict(ep.outbound),
            )
            self._counters[eid] = after
            if ep.expired or start is None:
                continue
            sample = self._sample(eid, ep, before or _Counters(), kinds, now - start)
            self.samples.append(DumpSample(eid, ep.name, now, sample))

    def _sample(
        self, eid: str, ep: _Endpoint, before: _Counters, kinds: Mapping[str, str], dt_ms: float
    ) -> Sample:
        dt_s = dt_ms / 1000.0
        media: dict[str, MediaStats | None] = {}
        for kind in _KINDS:
            send = _send(kind, ep, before, dt_s)
            out = [(s, v) for s, v in ep.outbound.items() if kinds.get(s) == kind]
            recv = _recv(out, ep, before, dt_s, kind)
            media[kind] = MediaStats(send, recv) if send or recv else None
        for ssrc in ep.outbound:
            if ssrc not in kinds and (eid, ssrc) not in self._unknown_kind:
                self._unknown_kind.add((eid, ssrc))
                self.warnings.append(
                    f"endpoint {eid}: the bridge sends it SSRC {ssrc}, of a media kind the dump "
                    "does not say; its packets are left out of the endpoint's received figures"
                )
        return Sample(
            interval_ms=max(1, round(dt_ms)),
            audio=media["audio"],
            video=media["video"],
            codec_audio=ep.codecs[0],
            codec_video=ep.codecs[1],
        )


def _send(kind: str, ep: _Endpoint, before: _Counters, dt_s: float) -> DirectionStats | None:
    streams = {s: i for s, i in ep.inbound.items() if i.kind == kind}
    if not streams:
        return None
    packets = lost = octets = 0.0
    jitters = []
    for ssrc, stream in streams.items():
        p0, b0, l0 = before.inbound.get(ssrc, (0.0, 0.0, 0.0))
        if stream.packets < p0:  # a new stream under the same SSRC: it starts over
            p0, b0, l0 = 0.0, 0.0, 0.0
        packets += stream.packets - p0
        octets += max(0.0, stream.bytes - b0)
        # RFC 3550 §6.4.1: the cumulative loss goes down with duplicates; count only rises.
        lost += max(0.0, stream.lost - max(l0, 0.0))
        if stream.packets > p0 and stream.jitter_ms is not None:
            jitters.append(stream.jitter_ms)
    height, fps = ep.send_picture if kind == "video" else (None, None)
    return DirectionStats(
        packets=round(packets),
        packets_lost=round(lost),
        bitrate_bps=octets * 8.0 / dt_s,
        rtt_ms=ep.rtt_ms,
        jitter_ms=math.fsum(jitters) / len(jitters) if jitters else None,
        height=height if packets > 0 else None,
        frame_rate=fps if packets > 0 else None,
    )


def _recv(
    out: list[tuple[str, tuple[float, float]]],
    ep: _Endpoint,
    before: _Counters,
    dt_s: float,
    kind: str,
) -> DirectionStats | None:
    if not out:
        return None
    packets = octets = 0.0
    for ssrc, (p, b) in out:
        p0, b0 = before.outbound.get(ssrc, (0.0, 0.0))
        if p < p0:
            p0, b0 = 0.0, 0.0
        packets += p - p0
        octets += max(0.0, b - b0)
    height, fps = ep.recv_picture if kind == "video" else (None, None)
    return DirectionStats(
        packets=round(packets),
        bitrate_bps=octets * 8.0 / dt_s,
        rtt_ms=ep.rtt_ms,
        height=height if packets > 0 else None,
        frame_rate=fps if packets > 0 else None,
    )


def merge(target: dict[str, Any], delta: Mapping[str, Any], depth: int = 0) -> None:
    """Apply one deep-object-diff delta in place (arrays arrive as objects of indices)."""
    if depth > _MAX_DEPTH:
        raise RecursionError
    for key, value in delta.items():
        old = target.get(key)
        if isinstance(value, dict):
            if isinstance(old, dict):
                merge(old, value, depth + 1)
                continue
            if isinstance(old, list) and value and all(k.isdigit() for k in value):
                target[key] = _merge_list(old, value, depth + 1)
                continue
        target[key] = value


def _merge_list(old: list[Any], delta: Mapping[str, Any], depth: int) -> list[Any]:
    items = list(old)
    for index, value in sorted(((int(k), v) for k, v in delta.items()), key=lambda kv: kv[0]):
        while len(items) <= index:
            items.append(None)
        if isinstance(value, dict) and isinstance(items[index], dict):
            merge(items[index], value, depth + 1)
        else:
            items[index] = value
    return items


def _number(value: Any, where: str) -> float | None:
    """A number the bridge wrote, or None when absent; anything else is an error."""
    if value is None:
        return None
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    try:
        ok = ok and math.isfinite(value) and abs(value) < 2.0**63
    except OverflowError:
        ok = False
    if not ok:
        raise DumpError(f"{where} must be a number, got {value!r}")
    return float(value)


def _node(parent: Any, prefix: str) -> dict[str, Any] | None:
    """The child object whose name starts with ``prefix`` ("Node Incoming statistics...")."""
    if not isinstance(parent, dict):
        return None
    for name, value in parent.items():
        if name.startswith(prefix) and isinstance(value, dict):
            return value
    return None


def _endpoint(eid: str, ep: dict[str, Any], where: str) -> _Endpoint:
    tr = ep.get("transceiver")
    if not isinstance(tr, dict):
        tr = {}
    receiver = _node(tr, "RTP receiver")
    sender = _node(tr, "RTP sender")
    inbound: dict[str, _In] = {}
    tracker = _node(receiver, "Node Incoming statistics tracker") or {}
    for ssrc, s in tracker.items():
        if not ssrc.isdigit() or not isinstance(s, dict):
            continue
        w = f"{where}: incoming SSRC {ssrc}"
        kind = s.get("media_type")
        if kind not in _KINDS:
            continue
        inbound[ssrc] = _In(
            kind=kind,
            packets=_number(s.get("num_received_packets"), f"{w} num_received_packets") or 0.0,
            bytes=_number(s.get("num_received_bytes"), f"{w} num_received_bytes") or 0.0,
            lost=_number(s.get("cumulative_packets_lost"), f"{w} cumulative_packets_lost") or 0.0,
            jitter_ms=_number(s.get("jitter"), f"{w} jitter"),
        )
    outbound: dict[str, tuple[float, float]] = {}
    for ssrc, s in (_node(sender, "Node Outgoing statistics tracker") or {}).items():
        if ssrc.isdigit() and isinstance(s, dict):
            w = f"{where}: outgoing SSRC {ssrc}"
            outbound[ssrc] = (
                _number(s.get("packet_count"), f"{w} packet_count") or 0.0,
                _number(s.get("octet_count"), f"{w} octet_count") or 0.0,
            )
    stats = tr.get("endpointConnectionStats")
    rtt = _number(stats.get("rtt"), f"{where}: rtt") if isinstance(stats, dict) else None
    name = ep.get("statsId")
    return _Endpoint(
        name=name if isinstance(name, str) and name else None,
        expired=ep.get("expired") is True,
        inbound=inbound,
        outbound=outbound,
        rtt_ms=rtt if rtt is not None and rtt > 0 else None,
        send_picture=_top_layer(tr.get("MediaStreamSources")),
        recv_picture=_forwarded(ep.get("bitrateController")),
        codecs=_codecs(tr, ep.get("bitrateController")),
    )


def _picture(layer: Mapping[str, Any]) -> tuple[int | None, float | None]:
    height, fps = layer.get("height"), layer.get("frameRate")
    h = int(height) if isinstance(height, int | float) and not isinstance(height, bool) else None
    f = float(fps) if isinstance(fps, int | float) and not isinstance(fps, bool) else None
    return (h if h and h > 0 else None, f if f is not None and f > 0 else None)


def _best(layers: Iterable[Mapping[str, Any]]) -> tuple[int | None, float | None]:
    """The largest picture among layers carrying bits: height first, then frame rate."""
    best: tuple[int | None, float | None] = (None, None)
    for layer in layers:
        rate = layer.get("bitrate_bps")
        if not isinstance(rate, int | float) or rate <= 0:
            continue
        h, f = _picture(layer)
        if (h or 0, f or 0.0) > (best[0] or 0, best[1] or 0.0):
            best = (h, f)
    return best


def _top_layer(sources: Any) -> tuple[int | None, float | None]:
    """The endpoint's own simulcast/SVC layers: ``<source>.<ssrc>.E0S2T2`` objects."""
    if not isinstance(sources, dict):
        return None, None
    layers = [
        layer
        for source in sources.values() if isinstance(source, dict)
        for encoding in source.values() if isinstance(encoding, dict)
        for name, layer in encoding.items() if _LAYER.match(name) and isinstance(layer, dict)
    ]  # fmt: skip
    return _best(layers)


def _forwarded(controller: Any) -> tuple[int | None, float | None]:
    """The largest layer the bridge's allocation forwards to the endpoint (``target``)."""
    allocator = controller.get("bitrate_allocator") if isinstance(controller, dict) else None
    allocation = allocator.get("allocation") if isinstance(allocator, dict) else None
    allocations = allocation.get("allocations") if isinstance(allocation, dict) else None
    if not isinstance(allocations, dict):
        return None, None
    targets = [a.get("target") for a in allocations.values() if isinstance(a, dict)]
    return _best(t for t in targets if isinstance(t, dict))


def _codecs(tr: Mapping[str, Any], controller: Any) -> tuple[str | None, str | None]:
    """Audio and video codec: the payload types the endpoint negotiated, else what the bridge
    rewrites towards it (its projection contexts)."""
    store = tr.get("Stream Information Store")
    types = store.get("RTP Payload Types") if isinstance(store, dict) else None
    names = {m.group(1).upper() for v in (types or {}).values()
             if isinstance(v, str) and (m := _PAYLOAD.search(v))}  # fmt: skip
    audio = "opus" if "OPUS" in names else None
    videos = {_VIDEO_CODECS[n] for n in names if n in _VIDEO_CODECS}
    video = videos.pop() if len(videos) == 1 else None
    if video is None:
        video = _projected_codec(controller)
    return audio, video


def _projections(controller: Any) -> list[dict[str, Any]]:
    """The bridge's SSRC rewriting contexts towards an endpoint (its bitrate controller's)."""
    handler = controller.get("packet_handler") if isinstance(controller, dict) else None
    found = handler.get("adaptiveSourceProjectionMap") if isinstance(handler, dict) else None
    if not isinstance(found, dict):
        return []
    return [p for p in found.values() if isinstance(p, dict)]


def _projected_codec(controller: Any) -> str | None:
    for projection in _projections(controller):
        context = projection.get("context")
        name = context.get("class") if isinstance(context, dict) else None
        if isinstance(name, str):
            for prefix, codec in _PROJECTION.items():
                if name.lower().startswith(prefix):
                    return codec
    return None


def _ssrc_kinds(seen: Iterable[_Endpoint], endpoints: Mapping[str, Any]) -> dict[str, str]:
    """The media kind of every SSRC the bridge receives (its trackers say) or rewrites."""
    kinds: dict[str, str] = {}
    for ep in seen:
        for ssrc, stream in ep.inbound.items():
            kinds[ssrc] = stream.kind
    for ep in endpoints.values():
        controller = ep.get("bitrateController") if isinstance(ep, dict) else None
        for projection in _projections(controller):
            target = projection.get("targetSsrc")
            if isinstance(target, int) and not isinstance(target, bool):
                kinds.setdefault(str(target), "video")  # only video is projected
    return kinds
