"""The JSON and CSV of the answers: the one place where names become camelCase and URLs.

Keys are written out literally, so that every key of the API can be found with grep.
"""

from __future__ import annotations

import csv
import hashlib
import io
from functools import lru_cache
from typing import Any
from urllib.parse import quote

from callquality.domain.client import EMPTY, ClientInfo
from callquality.domain.session_ids import public_session_id
from callquality.domain.timefmt import iso_ms
from callquality.query.analytics import Group, group_start_ms
from callquality.query.participant_series import ParticipantSeries
from callquality.query.resolution import LINES
from callquality.query.rooms import RoomView
from callquality.query.sessions import Page, ParticipantView, Scores, SessionView
from callquality.query.stats import Bucket, BucketDetail, Percentiles, VideoSize

UNKNOWN = "unknown"  # VideoSDK's own placeholder in ``location`` and ``network``


def page_json(page: Page) -> dict[str, int]:
    """VideoSDK's ``pageInfo``."""
    return {
        "currentPage": page.current_page,
        "perPage": page.per_page,
        "lastPage": page.last_page,
        "total": page.total,
    }


def scores_json(scores: Scores) -> dict[str, float | None]:
    """``qualityScore``: audio MOS and video Vq."""
    return {"audio": scores.audio_mos, "video": scores.video_vq}


@lru_cache(maxsize=65_536)  # a session page re-reads the same participants: hash them once
def object_id(*parts: str) -> str:
    """A stable 24-hex id (the length of VideoSDK's ids) of what ``parts`` name."""
    return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=12).hexdigest()


def client_json(c: ClientInfo) -> dict[str, Any]:
    """deviceInfo, sdkInfo, location and network as VideoSDK names them (null, or VideoSDK's
    "unknown" in location and network, where not known), and the ICE connection."""
    if c is EMPTY:
        return _EMPTY_CLIENT  # most participants of a server without clients: built once
    return {
        "deviceInfo": {
            "deviceName": c.browser_name,
            "deviceVersion": c.browser_version,
            "osName": c.os_name,
            "osVersion": c.os_version,
            "deviceType": c.device_type,
            "deviceModel": c.device_model,
        },
        "sdkInfo": {
            "sdkName": c.sdk_name,
            "sdkVersion": c.sdk_version,
            "appName": c.app_name,
            "appVersion": c.app_version,
        },
        "location": {
            "country": UNKNOWN if c.country is None else c.country,
            "city": UNKNOWN if c.city is None else c.city,
            "region": UNKNOWN if c.region is None else c.region,
        },
        "network": {
            "asn": UNKNOWN if c.asn is None else c.asn,
            "org": UNKNOWN if c.org is None else c.org,
        },
        "connection": {
            "candidateType": c.candidate_type,
            "protocol": c.protocol,
            "relayProtocol": c.relay_protocol,
            "networkType": c.network_type,
        },
    }


def _client_summary_json(c: ClientInfo) -> dict[str, Any]:
    """What the sessions list shows of a client: VideoSDK's deviceInfo and sdkInfo keys (a
    page of 20 sessions may hold thousands of participants; the rest is one GET away)."""
    if c is EMPTY:
        return _EMPTY_SUMMARY
    return {
        "deviceInfo": {"deviceName": c.browser_name, "deviceVersion": c.browser_version},
        "sdkInfo": {"sdkName": c.sdk_name, "sdkVersion": c.sdk_version},
    }


_EMPTY_CLIENT = client_json(ClientInfo())
_EMPTY_SUMMARY = _client_summary_json(ClientInfo())


def participant_json(p: ParticipantView, session_id: str, *, full: bool = True) -> dict[str, Any]:
    """A participant as VideoSDK shows it (an ongoing last interval has ``end: null``),
    with its client. ``full=False``, as VideoSDK's sessions list: no ``_id``, and of the
    client deviceInfo and sdkInfo alone."""
    entry: dict[str, Any] = {"_id": object_id(session_id, p.participant_id)} if full else {}
    entry["participantId"] = p.participant_id
    entry["name"] = p.name
    entry["timelog"] = [
        {"start": iso_ms(start), "end": None if end is None else iso_ms(end)}
        for start, end in p.timelog
    ]
    entry["qualityScore"] = scores_json(p.scores)
    entry.update(client_json(p.client) if full else _client_summary_json(p.client))
    return entry


def _links(base_url: str, session_id: str, room_id: str) -> dict[str, str]:
    return {
        "get_room": f"{base_url}/v2/rooms/{quote(room_id, safe='')}",
        "get_session": f"{base_url}/v2/sessions/{quote(session_id, safe='')}",
    }


def session_json(view: SessionView, base_url: str, *, full: bool = True) -> dict[str, Any]:
    """A session object as GET /v2/sessions/{id} returns it (docs/api.md says what
    ``userId``, ``activeDuration`` and ``chatLink`` hold here); ``full=False``: as the
    sessions list does, with less of each participant's client."""
    s = view.session
    session_id = public_session_id(s.session_id)
    return {
        "id": session_id,
        "userId": s.api_key,
        "roomId": s.room_id,
        "customRoomId": s.custom_room_id,
        "start": iso_ms(s.start_ms),
        "end": None if view.ended_ms is None else iso_ms(view.ended_ms),
        "participants": [
            participant_json(p, s.session_id, full=full) for p in view.participants
        ],
        "activeDuration": view.active_duration_s,
        "chatLink": None,
        "status": view.status,
        "qualityScore": scores_json(view.scores),
        "warnings": list(view.warnings),
        "links": _links(base_url, session_id, s.room_id),
    }


def participants_json(view: SessionView, page: Page, base_url: str) -> dict[str, Any]:
    """GET /v2/sessions/{id}/participants: the session with a page of its participants."""
    s = view.session
    session_id = public_session_id(s.session_id)
    return {
        "pageInfo": page_json(page),
        "data": {
            "id": session_id,
            "roomId": s.room_id,
            "customRoomId": s.custom_room_id,
            "participants": [participant_json(p, s.session_id) for p in view.participants],
            "links": _links(base_url, session_id, s.room_id),
        },
    }


def active_participants_json(view: SessionView, page: Page, base_url: str) -> dict[str, Any]:
    """GET /v2/sessions/{id}/participants/active: the same, of the present participants."""
    body = participants_json(view, page, base_url)
    session_url = body["data"]["links"]["get_session"]
    body["data"]["links"] = {
        "get_all_participants": f"{session_url}/participants",
        "get_session": session_url,
    }
    return body


def room_json(room: RoomView, base_url: str) -> dict[str, Any]:
    """A room as VideoSDK's GET /v2/rooms/{roomId} shows it; ``user`` is the API key."""
    room_url = f"{base_url}/v2/rooms/{quote(room.room_id, safe='')}"
    return {
        "roomId": room.room_id,
        "customRoomId": room.custom_room_id,
        "region": None,
        "createdAt": iso_ms(room.created_ms),
        "updatedAt": iso_ms(room.updated_ms),
        "user": {
            "email": None,
            "name": room.owner_name,
            "discontinuedReason": None,
            "id": room.api_key,
        },
        "id": object_id(room.api_key, room.room_id),
        "links": {
            "get_room": room_url,
            "get_session": f"{base_url}/v2/sessions/?roomId={quote(room.room_id, safe='')}",
        },
    }


def resolution_usage_json(
    times_ms: list[int], usage: dict[int, dict[int, float]]
) -> list[dict[str, Any]]:
    """``resolutionUsage``: one entry per bucket of ``stats``, shares of each line count
    (null in a bucket without received video)."""
    out = []
    for start in times_ms:
        shares = usage.get(start)
        entry: dict[str, Any] = {
            str(lines): None if shares is None else shares[lines] for lines in LINES
        }
        entry["time"] = iso_ms(start)
        out.append(entry)
    return out


def bucket_json(b: Bucket) -> dict[str, Any]:
    """One entry of ``stats``: the seed's keys, then the extended ones if asked for."""
    entry: dict[str, Any] = {
        "time": iso_ms(b.start_ms),
        "recvAudioPacketLost": b.recv_audio_lost,
        "recvVideoPacketLost": b.recv_video_lost,
        "sendAudioPacketLost": b.send_audio_lost,
        "sendVideoPacketLost": b.send_video_lost,
        "averageAudioRtt": b.audio_rtt_ms,
        "averageVideoRtt": b.video_rtt_ms,
        "averageAudioJitter": b.audio_jitter_ms,
        "averageVideoJitter": b.video_jitter_ms,
        "averageSendAudioBitrate": b.send_audio_bitrate_bps,
        "averageSendVideoBitrate": b.send_video_bitrate_bps,
        "averageRecvAudioBitrate": b.recv_audio_bitrate_bps,
        "averageRecvVideoBitrate": b.recv_video_bitrate_bps,
        "qualityScore": {"audio": b.audio_mos, "video": b.video_vq},
    }
    if b.detail is not None:
        entry.update(_detail_json(b.detail))
    return entry


def participant_stats_json(found: ParticipantSeries, extended: bool) -> tuple[
    list[dict[str, Any]], list[dict[str, Any]]
]:
    """``stats`` and ``resolutionUsage`` of a participant's series: what ``bucket_json`` and
    ``resolution_usage_json`` write, from its buckets' tuples (query/participant_series.py
    PLAIN_FIELDS / EXTENDED_FIELDS, unpacked in that order)."""
    stats: list[dict[str, Any]] = []
    usage: list[dict[str, Any]] = []
    for bucket, shares in zip(found.buckets, found.shares, strict=True):
        time = iso_ms(bucket[0])
        stats.append(_extended_entry(time, bucket) if extended else _plain_entry(time, bucket))
        if shares is None:
            usage.append({"180": None, "360": None, "720": None, "1080": None, "1440": None,
                          "2160": None, "time": time})
        else:
            s180, s360, s720, s1080, s1440, s2160 = shares  # resolution.LINES
            usage.append({"180": s180, "360": s360, "720": s720, "1080": s1080,
                          "1440": s1440, "2160": s2160, "time": time})
    return stats, usage


def _plain_entry(time: str, bucket: tuple[Any, ...]) -> dict[str, Any]:
    _, ral, rvl, sal, svl, a_rtt, v_rtt, a_jit, v_jit, sab, svb, rab, rvb, mos, vq = bucket
    return {
        "time": time,
        "recvAudioPacketLost": ral,
        "recvVideoPacketLost": rvl,
        "sendAudioPacketLost": sal,
        "sendVideoPacketLost": svl,
        "averageAudioRtt": a_rtt,
        "averageVideoRtt": v_rtt,
        "averageAudioJitter": a_jit,
        "averageVideoJitter": v_jit,
        "averageSendAudioBitrate": sab,
        "averageSendVideoBitrate": svb,
        "averageRecvAudioBitrate": rab,
        "averageRecvVideoBitrate": rvb,
        "qualityScore": {"audio": mos, "video": vq},
    }


def _extended_entry(time: str, bucket: tuple[Any, ...]) -> dict[str, Any]:
    (participants, lsa, lsv, lra, lrv, ar50, ar95, vr50, vr95, aj50, aj95, vj50, vj95,
     sw, sh, sfr, rw, rh, rfr, freezes, freeze_ms, concealed, inputs) = bucket[15:]
    return {
        **_plain_entry(time, bucket[:15]),
        "participants": participants,
        "packetLossPercent": {
            "sendAudio": lsa, "sendVideo": lsv, "recvAudio": lra, "recvVideo": lrv,
        },
        "rttMs": {"audio": {"p50": ar50, "p95": ar95}, "video": {"p50": vr50, "p95": vr95}},
        "jitterMs": {"audio": {"p50": aj50, "p95": aj95}, "video": {"p50": vj50, "p95": vj95}},
        "sendVideo": {"width": sw, "height": sh, "frameRate": sfr},
        "recvVideo": {"width": rw, "height": rh, "frameRate": rfr},
        "freezes": {"count": freezes, "durationMs": freeze_ms},
        "audioConcealedRatio": concealed,
        "scoreInputs": inputs,
    }


def _percentiles_json(p: Percentiles) -> dict[str, float | None]:
    return {"p50": p.p50, "p95": p.p95}


def _video_json(v: VideoSize) -> dict[str, float | None]:
    return {"width": v.width, "height": v.height, "frameRate": v.frame_rate}


def _detail_json(d: BucketDetail) -> dict[str, Any]:
    return {
        "participants": d.participants,
        "packetLossPercent": {
            "sendAudio": d.loss_pct_send_audio,
            "sendVideo": d.loss_pct_send_video,
            "recvAudio": d.loss_pct_recv_audio,
            "recvVideo": d.loss_pct_recv_video,
        },
        "rttMs": {
            "audio": _percentiles_json(d.audio_rtt_ms),
            "video": _percentiles_json(d.video_rtt_ms),
        },
        "jitterMs": {
            "audio": _percentiles_json(d.audio_jitter_ms),
            "video": _percentiles_json(d.video_jitter_ms),
        },
        "sendVideo": _video_json(d.send_video),
        "recvVideo": _video_json(d.recv_video),
        "freezes": {"count": d.freeze_count, "durationMs": d.freeze_duration_ms},
        "audioConcealedRatio": d.audio_concealed_ratio,
        "scoreInputs": d.score_inputs,
    }


def _group_value(name: str, value: Any) -> Any:
    return "unknown" if value is None else value


def quality_group_json(g: Group, group_by: list[str]) -> dict[str, Any]:
    """One group of GET /v2/analytics/quality."""
    entry: dict[str, Any] = {
        "key": {name: _group_value(name, g.key[i]) for i, name in enumerate(group_by)},
    }
    for i, name in enumerate(group_by):
        if name in ("day", "hour"):
            start = group_start_ms(name, g.key[i])
            entry["time"] = None if start is None else iso_ms(start)
    entry.update({
        "participantSessions": g.sessions,
        "participantMinutes": round(g.measured_ms / 60_000, 1),
        "poorStreams": g.poor,
        "poorStreamRate": g.poor_rate,
        "poorTimeShare": g.poor_time_share,
        "audioMos": {"p50": g.audio_mos.p50, "p5": g.audio_mos.p5},
        "videoScore": {"p50": g.video_score.p50, "p5": g.video_score.p5},
        "topCauses": [
            {"cause": c.cause, "participantSessions": c.sessions, "share": c.share}
            for c in g.causes
        ],
    })
    return entry


def worst_json(r: Any, base_url: str) -> dict[str, Any]:
    """One participant-session of GET /v2/analytics/worst."""
    session_id = public_session_id(r.session_id)
    return {
        "sessionId": session_id,
        "participantId": r.participant_id,
        "roomId": r.room_id,
        "start": None if r.start_ms is None else iso_ms(r.start_ms),
        "end": None if r.end_ms is None else iso_ms(r.end_ms),
        "participantMinutes": round((r.measured_ms or 0) / 60_000, 1),
        "poorShare": None if r.poor_share is None else round(r.poor_share, 4),
        "audioMos": {"mean": r.audio_mos_mean, "p5": r.audio_mos_p5},
        "videoScore": {"mean": r.video_vq_mean, "p5": r.video_vq_p5},
        "lossPercent": {"p50": r.loss_pct_p50, "p95": r.loss_pct_p95},
        "rttMs": {"p50": r.rtt_ms_p50, "p95": r.rtt_ms_p95},
        "jitterMs": {"p50": r.jitter_ms_p50, "p95": r.jitter_ms_p95},
        "freezeMs": r.freeze_ms,
        "likelyCause": r.likely_cause,
        "browser": r.browser,
        "os": r.os,
        "device": r.device,
        "sdk": r.sdk,
        "connection": r.connection,
        "network": r.network,
        "country": r.country,
        "asn": r.asn,
        "codec": {"audio": r.codec_audio, "video": r.codec_video},
        "links": {
            "get_session": f"{base_url}/v2/sessions/{quote(session_id, safe='')}",
            "dashboard": f"{base_url}/dashboard#/sessions/{quote(session_id, safe='')}",
        },
    }


_CSV_INJECTION = ("=", "+", "-", "@", "\t", "\r")


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(f"{prefix}.{k}" if prefix else k, v, out)
    elif isinstance(value, str) and value.startswith(_CSV_INJECTION):
        out[prefix] = "'" + value  # CONTRACT.md: CSV injection (text cells are user input)
    else:
        out[prefix] = value


def csv_text(entries: list[dict[str, Any]]) -> str:
    """CSV with a header row, nested keys flattened with dots; empty cells where null."""
    rows = []
    for entry in entries:
        flat: dict[str, Any] = {}
        _flatten("", entry, flat)
        rows.append(flat)
    columns: list[str] = []
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns or ["time"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()
