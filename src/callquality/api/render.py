"""The JSON and CSV of the answers: the one place where names become camelCase and URLs.

Keys are written out literally, so that every key of the API can be found with grep.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from callquality.domain.timefmt import iso_ms
from callquality.query.analytics import Group, group_start_ms
from callquality.query.sessions import Page, ParticipantView, Scores, SessionView
from callquality.query.stats import Bucket, BucketDetail, Percentiles, VideoSize


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


def participant_json(p: ParticipantView) -> dict[str, Any]:
    """A participant as VideoSDK shows it; an ongoing last interval has ``end: null``."""
    return {
        "participantId": p.participant_id,
        "name": p.name,
        "timelog": [
            {"start": iso_ms(start), "end": None if end is None else iso_ms(end)}
            for start, end in p.timelog
        ],
        "qualityScore": scores_json(p.scores),
    }


def session_json(view: SessionView, base_url: str) -> dict[str, Any]:
    """A session object as GET /v2/sessions/{id} returns it."""
    s = view.session
    return {
        "id": s.session_id,
        "roomId": s.room_id,
        "customRoomId": s.custom_room_id,
        "start": iso_ms(s.start_ms),
        "end": None if view.ended_ms is None else iso_ms(view.ended_ms),
        "status": view.status,
        "participants": [participant_json(p) for p in view.participants],
        "qualityScore": scores_json(view.scores),
        "links": {
            "get_room": f"{base_url}/v2/rooms/{s.room_id}",
            "get_session": f"{base_url}/v2/sessions/{s.session_id}",
        },
    }


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
    return {
        "sessionId": r.session_id,
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
            "get_session": f"{base_url}/v2/sessions/{r.session_id}",
            "dashboard": f"{base_url}/dashboard#/sessions/{r.session_id}",
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
