"""A session's (or one participant's) quality time series, as CONTRACT.md defines it.

Aggregation happens in three steps, each with its own rule (docs/metrics.md):
1. per (bucket, participant, peer connection), in SQL: counts summed, bitrates averaged
   over time (weighted by interval length), other measurements averaged;
2. per (bucket, participant): bitrates and counts summed over the participant's peer
   connections, other measurements averaged over them;
3. per bucket: counts summed over participants, everything else averaged over the
   participants that had that media in the bucket.
All three run in one SQL statement. Step 1 reads the minute rollups (store/schema.py,
``sample_rollups``) instead of the samples when the session has them and its minutes nest in
the requested buckets (an interval that is a whole number of minutes): sums, counts and maxima
recombine exactly, so the answer is the same, and a 1,000-participant hour is 60k rollup rows
instead of 720k samples (docs/performance.md).
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Connection, Select, case, func, select

from callquality.store import rollups
from callquality.store.schema import (
    ROLLUP_BUCKET_MS,
    ROLLUP_MEASURES,
    sample_rollups,
    samples,
    sessions,
)

# Level-1 measurements: (output name, column, how: "sum" | "avg" | "twavg" | "max")
_MEASURES = ROLLUP_MEASURES


class BucketValues:
    """Step 3 of one bucket: each measure summed and averaged over its participants."""

    def __init__(self, row: Any | None) -> None:
        self.participants = int(row.participants) if row is not None else 0
        self._row = row

    def sum(self, name: str) -> float | None:
        """The measure summed over the participants that had it (None: none had it)."""
        return self._get(f"{name}__sum")

    def mean(self, name: str) -> float | None:
        """The measure averaged over the participants that had it."""
        return self._get(f"{name}__avg")

    def _get(self, key: str) -> float | None:
        value = getattr(self._row, key) if self._row is not None else None
        return None if value is None else float(value)


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


def _rollup_origin(conn: Connection, session_id: str, start_ms: int, interval_s: int) -> int | None:
    """The session's rollup origin when its minutes nest in this query's buckets, else None."""
    if (interval_s * 1000) % ROLLUP_BUCKET_MS:
        return None
    origin = conn.execute(
        select(sessions.c.rollup_origin_ms).where(sessions.c.session_id == session_id)
    ).scalar()
    if origin is None or (start_ms - int(origin)) % ROLLUP_BUCKET_MS:
        return None
    return int(origin)


def _level1(
    session_id: str,
    start_ms: int,
    interval_s: int,
    participant_id: str | None,
    origin: int | None,
) -> Select[Any]:
    """Step 1, per (bucket, participant, peer connection): from rollups when they fit."""
    if origin is not None:
        r = sample_rollups.c
        rollup_bucket = (r.bucket * ROLLUP_BUCKET_MS + (origin - start_ms)) // (interval_s * 1000)
        return rollups.step1(session_id, rollup_bucket, participant_id)
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
        # A fixed order makes the float sums of steps 2 and 3 the same on every read.
        .order_by(bucket, samples.c.participant_id, samples.c.peer_connection_id)
    )
    return _filtered(query, samples.c.participant_id, participant_id)


def _filtered(query: Select[Any], column: Any, participant_id: str | None) -> Select[Any]:
    return query if participant_id is None else query.where(column == participant_id)


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def percentile(values: list[float], q: float) -> float | None:
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


@dataclass(frozen=True, slots=True)
class Percentiles:
    """The p50 and p95 of a bucket's sample values."""

    p50: float | None
    p95: float | None


@dataclass(frozen=True, slots=True)
class VideoSize:
    """Mean over participants of their largest frame, and their mean frame rate."""

    width: float | None
    height: float | None
    frame_rate: float | None


@dataclass(frozen=True, slots=True)
class BucketDetail:
    """What ``?extended=true`` adds to a bucket (CONTRACT.md; docs/metrics.md)."""

    participants: int
    loss_pct_send_audio: float | None
    loss_pct_send_video: float | None
    loss_pct_recv_audio: float | None
    loss_pct_recv_video: float | None
    audio_rtt_ms: Percentiles
    video_rtt_ms: Percentiles
    audio_jitter_ms: Percentiles
    video_jitter_ms: Percentiles
    send_video: VideoSize
    recv_video: VideoSize
    freeze_count: int | None
    freeze_duration_ms: float | None
    audio_concealed_ratio: float | None
    score_inputs: dict[str, float]


@dataclass(frozen=True, slots=True)
class Bucket:
    """One bucket of the series: counts summed and values averaged over its participants."""

    start_ms: int
    recv_audio_lost: int | None
    recv_video_lost: int | None
    send_audio_lost: int | None
    send_video_lost: int | None
    audio_rtt_ms: float | None
    video_rtt_ms: float | None
    audio_jitter_ms: float | None
    video_jitter_ms: float | None
    send_audio_bitrate_bps: float | None
    send_video_bitrate_bps: float | None
    recv_audio_bitrate_bps: float | None
    recv_video_bitrate_bps: float | None
    audio_mos: float | None
    video_vq: float | None
    detail: BucketDetail | None = None


def time_series(
    conn: Connection,
    session_id: str,
    start_ms: int,
    *,
    interval_s: int = 60,
    participant_id: str | None = None,
    extended: bool = False,
) -> list[Bucket]:
    """The series of GET /v2/sessions/{id}/stats, one bucket per interval from the start."""
    origin = _rollup_origin(conn, session_id, start_ms, interval_s)
    if origin is not None and interval_s * 1000 == ROLLUP_BUCKET_MS and participant_id is None:
        # Steps 1-3 are done already, one row per minute (store/rollups.py).
        offset = (origin - start_ms) // ROLLUP_BUCKET_MS
        rows = {int(row.bucket) + offset: row for row in rollups.session_minutes(conn, session_id)}
    else:
        level1 = _level1(session_id, start_ms, interval_s, participant_id, origin)
        rows = {int(row.bucket): row for row in conn.execute(rollups.steps2and3(level1))}
    if not rows:
        return []
    details = (
        _extended_details(conn, session_id, start_ms, interval_s, participant_id)
        if extended
        else {}
    )
    series = []
    for b in range(0, max(rows) + 1):
        values = BucketValues(rows.get(b))
        detail = _detail(values, details.get(b)) if extended else None
        series.append(_bucket(start_ms + b * interval_s * 1000, values, detail))
    return series


def _int(value: float | None) -> int | None:
    return None if value is None else int(value)


def _bucket(bucket_start_ms: int, values: BucketValues, detail: BucketDetail | None) -> Bucket:
    return Bucket(
        start_ms=bucket_start_ms,
        recv_audio_lost=_int(values.sum("audio_recv_lost")),
        recv_video_lost=_int(values.sum("video_recv_lost")),
        send_audio_lost=_int(values.sum("audio_send_lost")),
        send_video_lost=_int(values.sum("video_send_lost")),
        audio_rtt_ms=values.mean("audio_send_rtt"),
        video_rtt_ms=values.mean("video_send_rtt"),
        audio_jitter_ms=values.mean("audio_recv_jitter"),
        video_jitter_ms=values.mean("video_recv_jitter"),
        send_audio_bitrate_bps=values.mean("audio_send_bitrate"),
        send_video_bitrate_bps=values.mean("video_send_bitrate"),
        recv_audio_bitrate_bps=values.mean("audio_recv_bitrate"),
        recv_video_bitrate_bps=values.mean("video_recv_bitrate"),
        audio_mos=_round(values.mean("audio_mos")),
        video_vq=_round(values.mean("video_vq")),
        detail=detail,
    )


def _loss_pct(values: BucketValues, kind: str, direction: str) -> float | None:
    lost = values.sum(f"{kind}_{direction}_lost")
    packets = values.sum(f"{kind}_{direction}_packets")
    if lost is None or packets is None or packets + lost <= 0:
        return None
    return _round(100.0 * lost / (packets + lost), 3)


def _percentiles(values: list[float]) -> Percentiles:
    return Percentiles(percentile(values, 50), percentile(values, 95))


def _video_size(values: BucketValues, direction: str) -> VideoSize:
    return VideoSize(
        width=_round(values.mean(f"video_{direction}_width"), 0),
        height=_round(values.mean(f"video_{direction}_height"), 0),
        frame_rate=_round(values.mean(f"video_{direction}_frame_rate")),
    )


def _detail(values: BucketValues, details: dict[str, Any] | None) -> BucketDetail:
    details = details or {}
    return BucketDetail(
        participants=values.participants,
        loss_pct_send_audio=_loss_pct(values, "audio", "send"),
        loss_pct_send_video=_loss_pct(values, "video", "send"),
        loss_pct_recv_audio=_loss_pct(values, "audio", "recv"),
        loss_pct_recv_video=_loss_pct(values, "video", "recv"),
        audio_rtt_ms=_percentiles(details.get("audio_rtt", [])),
        video_rtt_ms=_percentiles(details.get("video_rtt", [])),
        audio_jitter_ms=_percentiles(details.get("audio_jitter", [])),
        video_jitter_ms=_percentiles(details.get("video_jitter", [])),
        send_video=_video_size(values, "send"),
        recv_video=_video_size(values, "recv"),
        freeze_count=_int(values.sum("video_recv_freezes")),
        freeze_duration_ms=values.sum("video_recv_freeze_ms"),
        audio_concealed_ratio=_round(values.mean("audio_recv_concealed"), 4),
        score_inputs=details.get("score_inputs", {}),
    )


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
    query = query.order_by(
        samples.c.participant_id, samples.c.peer_connection_id, samples.c.timestamp_ms
    )
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
