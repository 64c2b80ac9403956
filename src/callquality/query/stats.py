"""A session's (or one participant's) quality time series, as CONTRACT.md defines it:
buckets shaped from the rows ``store/series.py`` aggregates (the rules: docs/metrics.md)."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection

from callquality.scoring.sample_score import SampleScore
from callquality.store import series
from callquality.store.schema import ROLLUP_BUCKET_MS
from callquality.store.series import percentile as percentile  # also query/summary.py's


class BucketValues:
    """Step 3 of one bucket: each measure summed and averaged over its participants."""

    def __init__(self, row: Any | None) -> None:
        self.participants = int(row["participants"]) if row is not None else 0
        self._row = row

    def sum(self, name: str) -> float | None:
        """The measure summed over the participants that had it (None: none had it)."""
        return self._get(f"{name}__sum")

    def mean(self, name: str) -> float | None:
        """The measure averaged over the participants that had it."""
        return self._get(f"{name}__avg")

    def _get(self, key: str) -> float | None:
        value = self._row[key] if self._row is not None else None
        return None if value is None else float(value)


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


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
    """The series of GET /v2/sessions/{id}/stats, one bucket per interval from the start
    (of one participant too: the API's is query/participant_series.py's, the
    same values as flat tuples, compared with this in tests/query)."""
    stored = (
        series.stored_series(conn, session_id, start_ms, interval_s)
        if participant_id is None
        else None
    )
    rows = (
        stored
        if stored is not None
        else series.bucket_rows(conn, session_id, start_ms, interval_s, participant_id)
    )
    if not rows:
        return []
    details: dict[int, dict[str, Any]] = {}
    if extended and stored is not None:
        details = _stored_details(conn, session_id, start_ms, interval_s, stored)
    elif extended:
        details = _extended_details(conn, session_id, start_ms, interval_s, participant_id)
    buckets = []
    for b in range(0, max(rows) + 1):
        values = BucketValues(rows.get(b))
        detail = _detail(values, details.get(b)) if extended else None
        buckets.append(_bucket(start_ms + b * interval_s * 1000, values, detail))
    return buckets


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


_NO_PERCENTILES = Percentiles(None, None)


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
        audio_rtt_ms=details.get("audio_rtt", _NO_PERCENTILES),
        video_rtt_ms=details.get("video_rtt", _NO_PERCENTILES),
        audio_jitter_ms=details.get("audio_jitter", _NO_PERCENTILES),
        video_jitter_ms=details.get("video_jitter", _NO_PERCENTILES),
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
    """Per bucket: the percentiles of every sample's RTT and jitter and mean score inputs.

    The inputs' means come from the session's minute sums (store/rollups.py) when its minutes
    nest in the buckets, else from every sample's inputs; either way the mean of each input
    over the bucket's measured samples, in the inputs' own order."""
    sums = (
        series.bucket_inputs(conn, session_id, start_ms, interval_s)
        if participant_id is None
        else None
    )
    rows = series.sample_details(
        conn, session_id, start_ms, interval_s, participant_id, with_inputs=sums is None
    )
    values, texts = bucket_values(rows, 1, 5 if sums is None else None)
    out: dict[int, dict[str, Any]] = defaultdict(dict)
    for b, runs in values.items():
        out[b].update(
            (key, _percentiles(run)) for key, run in zip(_DETAIL_KEYS, runs, strict=True) if run
        )
    if sums is None:
        for b, found in texts.items():
            means = input_means(found)
            if means:
                out[b]["score_inputs"] = ordered_inputs(means)
    else:
        _add_input_means(out, sums)
    return out


def bucket_values(
    rows: list[tuple[Any, ...]], first: int, text_at: int | None
) -> tuple[dict[int, list[list[float]]], dict[int, list[str]]]:
    """Sample rows (bucket first) by bucket: the values of each of _DETAIL_KEYS (columns
    ``first`` on) as floats, Nones left out, and the score inputs' JSON texts (column
    ``text_at``, when given; empty ones left out).

    One pass over the rows, plain dicts and lists: a participant's hour at 5 s is 720
    buckets of one sample each, where per-row containers cost more than the values."""
    values: dict[int, list[list[float]]] = {}
    texts: dict[int, list[str]] = {}
    last = first + len(_DETAIL_KEYS)
    for row in rows:
        b = int(row[0])
        runs = values.get(b)
        if runs is None:
            runs = values[b] = [[] for _ in _DETAIL_KEYS]
        for run, v in zip(runs, row[first:last], strict=True):
            if v is not None:
                run.append(float(v))
        if text_at is not None and row[text_at]:
            found = texts.get(b)
            if found is None:
                texts[b] = [row[text_at]]
            else:
                found.append(row[text_at])
    return values, texts


def input_means(texts: list[str]) -> dict[str, float]:
    """The mean of each numeric score input of a bucket's samples (their score_inputs JSON),
    rounded to 4 digits: ``math.fsum`` of the values over their count, names in the order
    first seen (``series.add_numeric_inputs``' rule; fsum takes the ints as floats). A
    bucket of one sample (a participant's 5-s bucket) takes its values as they are."""
    if len(texts) == 1:
        return _sample_inputs(texts[0])
    by_key: dict[str, list[float]] = {}
    for text in texts:
        for k, v in orjson.loads(text).items():
            if type(v) is float or type(v) is int:  # a bool is not an int here
                known = by_key.get(k)
                if known is None:
                    by_key[k] = [v]
                else:
                    known.append(v)
    return {k: x if (x := math.fsum(vs) / len(vs)).is_integer() else round(x, 4)
            for k, vs in by_key.items()}


def _sample_inputs(text: str) -> dict[str, float]:
    """``input_means`` of one sample: its numeric inputs as fsum gives one value (``+ 0.0``:
    fsum makes -0.0 0.0), rounded to 4 digits, a whole number being its own rounding
    (``round`` is the slow part)."""
    return {
        k: x if (x := v + 0.0).is_integer() else round(x, 4)
        for k, v in orjson.loads(text).items()
        if type(v) is float or type(v) is int
    }


def _add_input_means(
    out: dict[int, dict[str, Any]], sums: dict[int, dict[str, tuple[float, int]]]
) -> None:
    """Each bucket's mean score inputs from their (total, count) sums, rounded as the
    samples' means are."""
    for b, totals in sums.items():
        out[b]["score_inputs"] = ordered_inputs(
            {k: round(total / count, 4) for k, (total, count) in totals.items() if count}
        )


def _stored_details(
    conn: Connection, session_id: str, start_ms: int, interval_s: int, rows: dict[int, Any]
) -> dict[int, dict[str, Any]]:
    """What ``_extended_details`` gives, from series_rollups rows: their percentiles, their
    score-input sums under a minute, the minute sums (or samples) for whole minutes."""
    out: dict[int, dict[str, Any]] = defaultdict(dict)
    sums: dict[int, dict[str, tuple[float, int]]] = {}
    for b, row in rows.items():
        d = out[b]
        for key in _DETAIL_KEYS:
            if row[f"{key}_p50"] is not None:
                d[key] = Percentiles(row[f"{key}_p50"], row[f"{key}_p95"])
        if row["score_inputs"] is not None:
            sums[b] = {k: (total, count) for k, (total, count)
                       in orjson.loads(row["score_inputs"]).items()}
    if interval_s * 1000 < ROLLUP_BUCKET_MS:
        _add_input_means(out, sums)
        return out
    minute_sums = series.bucket_inputs(conn, session_id, start_ms, interval_s)
    if minute_sums is not None:
        _add_input_means(out, minute_sums)
        return out
    # A session without minute sums of its inputs: the samples' inputs, as before.
    for b, detail in _extended_details(conn, session_id, start_ms, interval_s, None).items():
        if "score_inputs" in detail:
            out[b]["score_inputs"] = detail["score_inputs"]
    return out


_DETAIL_KEYS = ("audio_rtt", "video_rtt", "audio_jitter", "video_jitter")
# The score inputs in the order SampleScore.inputs() gives them.
_INPUT_ORDER = {k: i for i, k in enumerate(SampleScore(None, None).inputs())}


_ORDERS: dict[tuple[str, ...], tuple[str, ...] | None] = {}


def ordered_inputs(means: dict[str, float]) -> dict[str, float]:
    """The means in the inputs' order (unknown names last, as found). The buckets of a
    series mostly have the same names in the same order: each order is sorted once, and
    names found in order (as ingest writes them) are kept as they are (None)."""
    names = tuple(means)
    order = _ORDERS.get(names, names)
    if order is names:
        order = tuple(sorted(names, key=lambda k: _INPUT_ORDER.get(k, len(_INPUT_ORDER))))
        if order == names:
            order = None
        if len(_ORDERS) < 1024:  # bounded: names come from clients' reports
            _ORDERS[names] = order
    return means if order is None else {k: means[k] for k in order}
