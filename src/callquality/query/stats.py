"""A session's (or one participant's) quality time series, as CONTRACT.md defines it.

Aggregation happens in three steps, each with its own rule (docs/metrics.md):
1. per (bucket, participant, peer connection), in SQL: counts summed, bitrates averaged
   over time (weighted by interval length), other measurements averaged;
2. per (bucket, participant): bitrates and counts summed over the participant's peer
   connections, other measurements averaged over them;
3. per bucket: counts summed over participants, everything else averaged over the
   participants that had that media in the bucket.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Connection, case, func, select

from callquality.store.schema import samples, stat_column

KIND_LABEL = {"audio": "Audio", "video": "Video"}
DIR_LABEL = {"send": "Send", "recv": "Recv"}

# Level-1 measurements: (output name, column, how: "sum" | "avg" | "twavg" | "max")
_MEASURES: list[tuple[str, str, str]] = []
for _kind in ("audio", "video"):
    for _dir in ("send", "recv"):
        _MEASURES += [
            (f"{_kind}_{_dir}_packets", stat_column(_kind, _dir, "packets"), "sum"),
            (f"{_kind}_{_dir}_lost", stat_column(_kind, _dir, "packets_lost"), "sum"),
            (f"{_kind}_{_dir}_bitrate", stat_column(_kind, _dir, "bitrate_bps"), "twavg"),
            (f"{_kind}_{_dir}_jitter", stat_column(_kind, _dir, "jitter_ms"), "avg"),
        ]
    _MEASURES.append((f"{_kind}_send_rtt", stat_column(_kind, "send", "rtt_ms"), "avg"))
for _dir in ("send", "recv"):
    _MEASURES += [
        (f"video_{_dir}_width", stat_column("video", _dir, "width"), "max"),
        (f"video_{_dir}_height", stat_column("video", _dir, "height"), "max"),
        (f"video_{_dir}_frame_rate", stat_column("video", _dir, "frame_rate"), "avg"),
    ]
_MEASURES += [
    ("video_recv_freezes", stat_column("video", "recv", "freeze_count"), "sum"),
    ("video_recv_freeze_ms", stat_column("video", "recv", "freeze_duration_ms"), "sum"),
    ("audio_recv_concealed", stat_column("audio", "recv", "concealed_ratio"), "avg"),
    ("audio_mos", "audio_mos", "avg"),
    ("video_vq", "video_vq", "avg"),
]
# Summed over a participant's peer connections (step 2); the rest are averaged.
_ADDITIVE = {name for name, _, how in _MEASURES if how in ("sum", "twavg")}


@dataclass
class Bucket:
    """Step-3 accumulator of one bucket."""

    participants: set[str] = field(default_factory=set)
    values: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))


def _aggregate(name: str, column: str, how: str) -> ColumnElement[Any]:
    col = samples.c[column]
    if how == "sum":
        return func.sum(col).label(name)
    if how == "max":
        return func.max(col).label(name)
    if how == "twavg":
        weight = samples.c.interval_ms
        return (
            func.sum(col * weight) / func.sum(case((col.is_not(None), weight), else_=None))
        ).label(name)
    return func.avg(col).label(name)


def bucket_expression(start_ms: int, interval_s: int) -> ColumnElement[Any]:
    """The bucket index of a sample: whole intervals since the session's start."""
    # Floor division (SQLAlchemy renders it as integer division on both backends).
    return ((samples.c.timestamp_ms - start_ms) // (interval_s * 1000)).label("bucket")


def _level1(
    conn: Connection,
    session_id: str,
    start_ms: int,
    interval_s: int,
    participant_id: str | None,
) -> list[Any]:
    bucket = bucket_expression(start_ms, interval_s)
    query = (
        select(
            bucket,
            samples.c.participant_id,
            samples.c.peer_connection_id,
            *(_aggregate(*m) for m in _MEASURES),
        )
        .where(samples.c.session_id == session_id, samples.c.interval_ms.is_not(None))
        .group_by(bucket, samples.c.participant_id, samples.c.peer_connection_id)
    )
    if participant_id is not None:
        query = query.where(samples.c.participant_id == participant_id)
    return list(conn.execute(query))


def _per_participant(rows: Iterable[Any]) -> dict[int, dict[str, dict[str, float]]]:
    """Step 2: {bucket: {participant: {measure: value}}}."""
    parts: dict[tuple[int, str], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        values = parts[(int(row.bucket), row.participant_id)]
        values["__present__"].append(1.0)
        for name, _, _ in _MEASURES:
            v = getattr(row, name)
            if v is not None:
                values[name].append(float(v))
    result: dict[int, dict[str, dict[str, float]]] = defaultdict(dict)
    for (b, participant), values in parts.items():
        result[b][participant] = {
            name: (sum(vs) if name in _ADDITIVE else sum(vs) / len(vs))
            for name, vs in values.items()
            if vs
        }
    return result


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _sum(values: list[float]) -> float | None:
    return sum(values) if values else None


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def iso_ms(timestamp_ms: float) -> str:
    """ISO 8601 UTC with milliseconds and Z, as VideoSDK writes times."""
    dt = datetime.fromtimestamp(timestamp_ms / 1000, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def _percentile(values: list[float], q: float) -> float | None:
    """Linear-interpolated percentile (numpy's default), q in 0..100."""
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def time_series(
    conn: Connection,
    session_id: str,
    start_ms: int,
    *,
    interval_s: int = 60,
    participant_id: str | None = None,
    extended: bool = False,
) -> list[dict[str, Any]]:
    """The ``stats`` list of GET /v2/sessions/{id}/stats (JSON-ready, camelCase keys)."""
    per_bucket = _per_participant(_level1(conn, session_id, start_ms, interval_s, participant_id))
    if not per_bucket:
        return []
    details = (
        _extended_details(conn, session_id, start_ms, interval_s, participant_id)
        if extended
        else {}
    )
    series = []
    for b in range(0, max(per_bucket) + 1):
        participants = per_bucket.get(b, {})
        values: dict[str, list[float]] = defaultdict(list)
        for measures in participants.values():
            for name, v in measures.items():
                values[name].append(v)
        entry = _default_entry(start_ms + b * interval_s * 1000, values)
        if extended:
            entry.update(_extended_entry(len(participants), values, details.get(b)))
        series.append(entry)
    return series


def _default_entry(bucket_start_ms: int, values: dict[str, list[float]]) -> dict[str, Any]:
    entry: dict[str, Any] = {"time": iso_ms(bucket_start_ms)}
    for direction in ("recv", "send"):
        for kind in ("audio", "video"):
            lost = _sum(values[f"{kind}_{direction}_lost"])
            entry[f"{direction}{KIND_LABEL[kind]}PacketLost"] = None if lost is None else int(lost)
    for kind in ("audio", "video"):
        entry[f"average{KIND_LABEL[kind]}Rtt"] = _mean(values[f"{kind}_send_rtt"])
    for kind in ("audio", "video"):
        entry[f"average{KIND_LABEL[kind]}Jitter"] = _mean(values[f"{kind}_recv_jitter"])
    for direction in ("send", "recv"):
        for kind in ("audio", "video"):
            entry[f"average{DIR_LABEL[direction]}{KIND_LABEL[kind]}Bitrate"] = _mean(
                values[f"{kind}_{direction}_bitrate"]
            )
    entry["qualityScore"] = {
        "audio": _round(_mean(values["audio_mos"])),
        "video": _round(_mean(values["video_vq"])),
    }
    return entry


def _loss_pct(values: dict[str, list[float]], kind: str, direction: str) -> float | None:
    lost = _sum(values[f"{kind}_{direction}_lost"])
    packets = _sum(values[f"{kind}_{direction}_packets"])
    if lost is None or packets is None or packets + lost <= 0:
        return None
    return 100.0 * lost / (packets + lost)


def _extended_entry(
    participant_count: int, values: dict[str, list[float]], details: dict[str, Any] | None
) -> dict[str, Any]:
    details = details or {}
    entry: dict[str, Any] = {"participants": participant_count}
    entry["packetLossPercent"] = {
        f"{direction}{KIND_LABEL[kind]}": _round(_loss_pct(values, kind, direction), 3)
        for direction in ("send", "recv")
        for kind in ("audio", "video")
    }
    for metric in ("rtt", "jitter"):
        entry[f"{metric}Ms"] = {
            kind: {
                "p50": _percentile(details.get(f"{kind}_{metric}", []), 50),
                "p95": _percentile(details.get(f"{kind}_{metric}", []), 95),
            }
            for kind in ("audio", "video")
        }
    for direction in ("send", "recv"):
        entry[f"{direction}Video"] = {
            "width": _round(_mean(values[f"video_{direction}_width"]), 0),
            "height": _round(_mean(values[f"video_{direction}_height"]), 0),
            "frameRate": _round(_mean(values[f"video_{direction}_frame_rate"])),
        }
    freezes = _sum(values["video_recv_freezes"])
    entry["freezes"] = {
        "count": None if freezes is None else int(freezes),
        "durationMs": _sum(values["video_recv_freeze_ms"]),
    }
    entry["audioConcealedRatio"] = _round(_mean(values["audio_recv_concealed"]), 4)
    entry["scoreInputs"] = details.get("score_inputs", {})
    return entry


def _extended_details(
    conn: Connection,
    session_id: str,
    start_ms: int,
    interval_s: int,
    participant_id: str | None,
) -> dict[int, dict[str, Any]]:
    """Per bucket: every sample's RTT and jitter (for percentiles) and mean score inputs."""
    bucket = bucket_expression(start_ms, interval_s)
    query = select(
        bucket,
        samples.c.audio_send_rtt_ms,
        samples.c.video_send_rtt_ms,
        samples.c.audio_recv_jitter_ms,
        samples.c.video_recv_jitter_ms,
        samples.c.score_inputs,
    ).where(samples.c.session_id == session_id, samples.c.interval_ms.is_not(None))
    if participant_id is not None:
        query = query.where(samples.c.participant_id == participant_id)
    out: dict[int, dict[str, Any]] = defaultdict(lambda: defaultdict(list))
    inputs: dict[int, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for row in conn.execute(query):
        d = out[int(row.bucket)]
        for key, v in (
            ("audio_rtt", row.audio_send_rtt_ms),
            ("video_rtt", row.video_send_rtt_ms),
            ("audio_jitter", row.audio_recv_jitter_ms),
            ("video_jitter", row.video_recv_jitter_ms),
        ):
            if v is not None:
                d[key].append(float(v))
        if row.score_inputs:
            for k, v in orjson.loads(row.score_inputs).items():
                if isinstance(v, int | float) and not isinstance(v, bool):
                    inputs[int(row.bucket)][k].append(float(v))
    for b, by_key in inputs.items():
        out[b]["score_inputs"] = {k: round(statistics.fmean(vs), 4) for k, vs in by_key.items()}
    return out
