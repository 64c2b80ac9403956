"""Janus event-handler events → per-participant interval samples (pure: no I/O).

Janus 1.x hands every event to its event handlers; the HTTP one (``janus.eventhandler.
sampleevh``, ``src/events/janus_sampleevh.c``) posts them as one JSON object, or an array of up
to 100 with ``grouping = true``. Each has ``type``, ``timestamp`` (``janus_get_real_time()``:
epoch microseconds, ``src/events.c``), ``session_id`` and, for a handle, ``handle_id`` and
``opaque_id``. Read here (field names as ``src/ice.c`` and the plugins write them):

- type 1, session: ``event.name`` ``destroyed`` or ``timeout`` ends the Janus session's state;
- type 2, handle: ``attached`` (``event.plugin``), ``detached`` ends the handle's state;
- type 16, WebRTC: ``event.connection`` ``webrtcup`` is where the media counters start at 0;
- type 64, plugin: VideoRoom's ``joined`` (a publisher: ``room``, ``id``, ``display``) and
  ``subscribing`` (a subscriber: ``room``);
- type 32 subtype 3, media statistics (``janus_ice_outgoing_stats_handle`` in ``src/ice.c``,
  every ``stats_period`` seconds per medium and simulcast layer, and once more at hang-up):
  ``mid``, ``media`` (``audio``, ``video``, ``video-sim1``, ``video-sim2``), ``codec``, and
  RTCP-based figures of the handle's one peer connection with Janus. "Received" is what the
  participant sent Janus, "sent" what Janus sent the participant:
  ``packets-received``/``-sent``, ``bytes-received``/``-sent`` (cumulative); ``lost``
  (cumulative, what Janus found missing in what it received); ``lost-by-remote``
  (cumulative, the participant's RTCP receiver reports on what Janus sent it, gaps in a
  relayed publisher's stream included); ``jitter-local``/``-remote`` (ms, of each direction);
  ``rtt`` (ms, from the participant's receiver reports on Janus's sender reports: 0 on a
  handle Janus sends nothing to); ``nacks-received``/``-sent``,
  ``retransmissions-received``, ``remb-bitrate``.
Every other event is ignored.

Mapping (docs/collector.md, "Janus"): a VideoRoom handle belongs to the participant of its
Janus session in its ``room`` (room → roomId); the participant is named by the ``display`` its
session's publisher handle joined with, and its id is that publisher's ``id`` (its feed), or
``janus-<session_id>`` when a media sample comes before any publisher joined. A handle of any
other plugin (EchoTest) is a room of its own per Janus session: roomId
``janus-<plugin>-<session_id>`` (``janus-echotest-123``), participant ``janus-<session_id>``,
named by the handle's ``opaque_id``. Each medium (and simulcast layer) of a handle is its own
stream (``peerConnectionId`` ``janus-<handle_id>-<mid>``, ``-sim1``/``-sim2`` for layers), so
that the audio and video events of one tick never share a key.

The state kept between events is plain JSON-ready data, one document per Janus session
(:func:`apply_events` takes and returns them), stored as the browser path stores counters.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from callquality.domain.sample import DirectionStats, MediaStats, Sample

SESSION, HANDLE, WEBRTC, MEDIA, PLUGIN = 1, 2, 16, 32, 64  # JANUS_EVENT_TYPE_*, src/events.h
MEDIA_STATS = 3  # JANUS_EVENT_SUBTYPE_MEDIA_STATS
VIDEOROOM = "janus.plugin.videoroom"
# Epoch ms between 2000-01-01 and 2100-01-01, as POST /v2/stats bounds its timestamps.
_MIN_MS, _MAX_MS = 946_684_800_000, 4_102_444_800_000
COUNTERS = (
    "packets-received", "packets-sent", "bytes-received", "bytes-sent",
    "lost", "lost-by-remote", "nacks-received", "nacks-sent", "retransmissions-received",
)
GAUGES = ("rtt", "jitter-local", "jitter-remote", "remb-bitrate", "base")
_LAYERS = {"audio": ("audio", ""), "video": ("video", ""),
           "video-sim1": ("video", "-sim1"), "video-sim2": ("video", "-sim2")}
# Janus's codec names → the mimeType subtypes the browser path stores (RFC 7587, RFC 7741...).
_CODECS = {"opus": "opus", "multiopus": "multiopus", "pcmu": "PCMU", "pcma": "PCMA",
           "g722": "G722", "isac16": "ISAC", "isac32": "ISAC", "vp8": "VP8", "vp9": "VP9",
           "h264": "H264", "av1": "AV1", "h265": "H265"}


class JanusEventError(ValueError):
    """An event that is not what Janus sends; the message names the field."""


@dataclass(frozen=True, slots=True)
class JanusEvent:
    """One event, checked: the fields read here, in their types."""

    index: int  # position in the request, for messages
    type: int
    timestamp_us: int
    session_id: int | None
    handle_id: int | None
    opaque_id: str | None
    body: Any  # "event": an object (a list of them for combined media statistics)

    @property
    def subtype_stats(self) -> bool:
        """A media-statistics event (type 32 with counters)."""
        return self.type == MEDIA and _stats_items(self.body) is not None


@dataclass(frozen=True, slots=True)
class JanusSample:
    """One interval of one stream of a participant, where it belongs."""

    room_id: str
    participant_id: str
    participant_name: str | None
    peer_connection_id: str
    timestamp_ms: int
    sample: Sample


@dataclass(slots=True)
class Applied:
    """What a batch of events became: the new states (None: forget) and the samples."""

    states: dict[int, dict[str, Any] | None] = field(default_factory=dict)
    samples: list[JanusSample] = field(default_factory=list)
    ignored: int = 0  # events of kinds not read here


def parse_events(body: Any) -> list[JanusEvent]:
    """The events of a request body (one event or a list), checked."""
    events = body if isinstance(body, list) else [body]
    return [_parse_event(i, e) for i, e in enumerate(events)]


def _parse_event(index: int, raw: Any) -> JanusEvent:
    where = f"events[{index}]"
    if not isinstance(raw, dict):
        raise JanusEventError(f"{where}: must be a JSON object (a Janus event)")
    kind = _int(raw, "type", where, required=True)
    assert kind is not None
    stamp = _int(raw, "timestamp", where, required=True)
    assert stamp is not None
    if not _MIN_MS <= stamp // 1000 <= _MAX_MS:
        raise JanusEventError(
            f"{where}.timestamp: {stamp} is not epoch microseconds between 2000 and 2100 "
            "(Janus sends janus_get_real_time())"
        )
    opaque = raw.get("opaque_id")
    if opaque is not None and not isinstance(opaque, str):
        raise JanusEventError(f"{where}.opaque_id: must be a string")
    event = JanusEvent(
        index, kind, stamp, _int(raw, "session_id", where), _int(raw, "handle_id", where),
        opaque, raw.get("event"),
    )
    if event.type == MEDIA:
        for n, item in enumerate(_stats_items(event.body) or []):
            at = f"{where}.event" + (f"[{n}]" if isinstance(event.body, list) else "")
            for name in (*COUNTERS, *GAUGES, "mindex"):
                _int(item, name, at)
            for name in ("mid", "media", "codec"):
                if name in item and not isinstance(item[name], str):
                    raise JanusEventError(f"{at}.{name}: must be a string")
        if event.subtype_stats and (event.session_id is None or event.handle_id is None):
            raise JanusEventError(f"{where}: media statistics need session_id and handle_id")
    return event


def _int(obj: Mapping[str, Any], name: str, where: str, *, required: bool = False) -> int | None:
    value = obj.get(name)
    if value is None:
        if required:
            raise JanusEventError(f"{where}.{name}: required (an integer)")
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise JanusEventError(f"{where}.{name}: must be a non-negative integer, got {value!r}")
    return value


def _stats_items(body: Any) -> list[dict[str, Any]] | None:
    """The statistics objects of a media event (combine_media_stats sends a list), if any."""
    items = body if isinstance(body, list) else [body]
    stats = [i for i in items if isinstance(i, dict) and "packets-received" in i]
    return stats or None


def session_ids(events: list[JanusEvent]) -> set[int]:
    """The Janus sessions whose state the events need."""
    return {e.session_id for e in events if e.session_id is not None}


def new_state() -> dict[str, Any]:
    """The state of a Janus session not seen before."""
    return {"handles": {}, "rooms": {}}


def apply_events(states: Mapping[int, dict[str, Any]], events: list[JanusEvent]) -> Applied:
    """Apply events in order to copies of the sessions' states; the samples they yield."""
    out = Applied()
    work: dict[int, dict[str, Any] | None] = {}

    def state_of(session_id: int) -> dict[str, Any]:
        state = work.get(session_id)
        if state is None:
            stored = states.get(session_id)
            state = _copy(stored) if stored is not None else new_state()
            work[session_id] = state
        return state

    for e in events:
        if e.session_id is None:
            out.ignored += 1  # out-of-context plugin events (VideoRoom's "unpublished")
            continue
        body = e.body if isinstance(e.body, dict) else {}
        if e.type == SESSION and body.get("name") in ("destroyed", "timeout"):
            work[e.session_id] = None
            states = {k: v for k, v in states.items() if k != e.session_id}
            continue
        if e.handle_id is None:
            out.ignored += 1
            continue
        state = state_of(e.session_id)
        handle = state["handles"].setdefault(str(e.handle_id), _new_handle())
        if e.opaque_id is not None:
            handle["opaque_id"] = e.opaque_id
        if e.type == HANDLE:
            if body.get("name") == "detached":
                state["handles"].pop(str(e.handle_id), None)
            elif isinstance(body.get("plugin"), str):
                handle["plugin"] = body["plugin"]
        elif e.type == WEBRTC and body.get("connection") == "webrtcup":
            handle["up_us"] = e.timestamp_us
            handle["streams"] = {}  # a new peer connection: its counters start at 0
        elif e.type == PLUGIN:
            _plugin_event(state, handle, body)
        elif e.subtype_stats:
            for item in _stats_items(e.body) or []:
                sample = _stats(state, e, handle, item)
                if sample is not None:
                    out.samples.append(sample)
        else:
            out.ignored += 1
    # A state with nothing in it is forgotten: what is left of a destroyed Janus session when
    # its handles' "detached" events come after its "destroyed" one (as Janus sends them).
    out.states = {k: v if v and (v["handles"] or v["rooms"]) else None for k, v in work.items()}
    return out


def _copy(state: dict[str, Any]) -> dict[str, Any]:
    handles = {
        k: {**h, "streams": {s: dict(v) for s, v in h.get("streams", {}).items()}}
        for k, h in state.get("handles", {}).items()
    }
    return {"handles": handles, "rooms": {k: dict(v) for k, v in state.get("rooms", {}).items()}}


def _new_handle() -> dict[str, Any]:
    return {"plugin": None, "opaque_id": None, "room": None, "up_us": None, "streams": {}}


def _plugin_event(state: dict[str, Any], handle: dict[str, Any], body: dict[str, Any]) -> None:
    """VideoRoom: which room a handle is in, and who its session's publisher is."""
    if body.get("plugin") != VIDEOROOM:
        return
    handle["plugin"] = VIDEOROOM
    data = body.get("data")
    if not isinstance(data, dict) or data.get("room") is None:
        return
    room = str(data["room"])
    if data.get("event") == "joined":  # a publisher (janus_videoroom.c, notify_events)
        handle["room"] = room
        entry = state["rooms"].setdefault(room, {"participant_id": None, "name": None})
        if entry["participant_id"] is None and data.get("id") is not None:
            entry["participant_id"] = str(data["id"])
        if isinstance(data.get("display"), str):
            entry["name"] = data["display"]
    elif data.get("event") == "subscribing":
        handle["room"] = room


def _where(
    state: dict[str, Any], e: JanusEvent, handle: dict[str, Any]
) -> tuple[str, str, str | None]:
    """(roomId, participantId, name) of a handle's samples."""
    assert e.session_id is not None
    fallback = f"janus-{e.session_id}"
    if handle.get("plugin") == VIDEOROOM and handle.get("room") is not None:
        entry = state["rooms"].setdefault(
            handle["room"], {"participant_id": None, "name": None}
        )
        if entry["participant_id"] is None:
            entry["participant_id"] = fallback  # fixed from now on, whoever joins later
        return handle["room"], entry["participant_id"], entry["name"]
    plugin = str(handle.get("plugin") or "janus.plugin.unknown").rsplit(".", 1)[-1]
    return f"janus-{plugin}-{e.session_id}", fallback, handle.get("opaque_id")


def _stats(
    state: dict[str, Any], e: JanusEvent, handle: dict[str, Any], item: dict[str, Any]
) -> JanusSample | None:
    """The sample of one medium's statistics against its previous ones (None: a baseline)."""
    layer = _LAYERS.get(str(item.get("media")))
    if layer is None:
        return None  # data channels
    kind, suffix = layer
    key = f"{item.get('mid', item.get('mindex'))}{suffix}"
    now = {name: item.get(name) for name in COUNTERS}
    if now["lost-by-remote"] is not None and now["lost-by-remote"] & 0x800000:
        # The receiver report's cumulative loss is a signed 24-bit number (RFC 3550 §6.4.1),
        # negative when duplicates (retransmissions) outnumber losses; Janus passes it on
        # unsigned (janus_rtcp_incoming_rr, src/rtcp.c): 16777215 is -1.
        now["lost-by-remote"] -= 0x1000000
    before = handle["streams"].get(key)
    if before is None and handle.get("up_us") is not None and e.timestamp_us > handle["up_us"]:
        # The peer connection came up at webrtcup: every counter was 0 then.
        before = {"t_us": handle["up_us"], **{name: 0 for name in COUNTERS},
                  "lost_hw": 0, "lost_remote_hw": 0}
    if before is not None and e.timestamp_us <= before["t_us"]:
        return None  # the same event again (a retransmitted request), or an older one
    handle["streams"][key] = current = {"t_us": e.timestamp_us, **now}
    if before is None or any(
        now[c] is not None and before.get(c) is not None and now[c] < before[c]
        for c in ("packets-received", "packets-sent", "bytes-received", "bytes-sent")
    ):
        current["lost_hw"], current["lost_remote_hw"] = now["lost"], now["lost-by-remote"]
        return None  # a first event without webrtcup, or a restarted peer connection
    interval_ms = round((e.timestamp_us - before["t_us"]) / 1000)
    if interval_ms <= 0:
        return None
    dt_s = (e.timestamp_us - before["t_us"]) / 1e6
    # Cumulative loss (RFC 3550 §6.4.1) only counts above the highest value seen: Janus zeroes
    # lost-by-remote in the statistics it sends at hang-up.
    lost, current["lost_hw"] = _rise(now["lost"], before.get("lost_hw"))
    lost_remote, current["lost_remote_hw"] = _rise(
        now["lost-by-remote"], before.get("lost_remote_hw")
    )
    # Whole milliseconds, 0 until measured (and on a handle Janus sends nothing to): 0 is
    # unknown, so is a round trip under 1 ms.
    rtt = item.get("rtt") or None
    jitter_remote = _float(item.get("jitter-remote"))
    high = before.get("lost_remote_hw")
    if now["lost-by-remote"] is not None and high is not None and now["lost-by-remote"] < high:
        # The RTCP context was reset (the statistics Janus sends at hang-up): what it holds of
        # the participant's receiver reports is zeroes, not measurements.
        rtt = jitter_remote = None
    send = recv = None
    if now["packets-received"]:  # the participant sends Janus this stream
        send = DirectionStats(
            packets=_delta(now, before, "packets-received"),
            packets_lost=lost,
            bitrate_bps=_rate_bps(now, before, "bytes-received", dt_s),
            rtt_ms=float(rtt) if rtt else None,
            jitter_ms=_float(item.get("jitter-local")),
        )
    if now["packets-sent"]:  # Janus sends the participant this stream
        recv = DirectionStats(
            packets=_delta(now, before, "packets-sent"),
            packets_lost=lost_remote,
            bitrate_bps=_rate_bps(now, before, "bytes-sent", dt_s),
            rtt_ms=float(rtt) if rtt else None,
            jitter_ms=jitter_remote,
        )
        if send is None and rtt:
            # Janus's RTT is the participant's round trip to the server, measured on what Janus
            # sends it; send.rtt_ms is where the API's average*Rtt reads a participant's RTT.
            send = DirectionStats(rtt_ms=float(rtt))
    if send is None and recv is None:
        return None
    media = MediaStats(send=send, recv=recv)
    codec = _CODECS.get(str(item.get("codec")).lower(), item.get("codec"))
    extra: dict[str, float | str | None] = {
        name: _delta(now, before, name)
        for name in ("nacks-received", "nacks-sent", "retransmissions-received")
    }
    extra["remb_bitrate_bps"] = _float(item.get("remb-bitrate"))
    sample = Sample(
        interval_ms=interval_ms,
        audio=media if kind == "audio" else None,
        video=media if kind == "video" else None,
        codec_audio=codec if kind == "audio" else None,
        codec_video=codec if kind == "video" else None,
        extra=extra,
    )
    room_id, participant_id, name = _where(state, e, handle)
    return JanusSample(
        room_id, participant_id, name, f"janus-{e.handle_id}-{key}",
        e.timestamp_us // 1000, sample,
    )


def _rise(value: int | None, high: int | None) -> tuple[int | None, int | None]:
    """(rise above the high-water mark, new mark) of a cumulative loss counter."""
    if value is None:
        return None, high
    if high is None:
        return None, value
    return max(0, value - high), max(high, value)


def _delta(now: Mapping[str, Any], before: Mapping[str, Any], name: str) -> int | None:
    a, b = now.get(name), before.get(name)
    return a - b if a is not None and b is not None and a >= b else None


def _rate_bps(
    now: Mapping[str, Any], before: Mapping[str, Any], name: str, dt_s: float
) -> float | None:
    d = _delta(now, before, name)
    return 8.0 * d / dt_s if d is not None and dt_s > 0 else None


def _float(value: Any) -> float | None:
    return float(value) if value is not None else None
