"""One participant's quality series, as GET /v2/sessions/{id}/participant/{pid}/stats
answers it (with its resolutionUsage): the values of ``query/stats.py``'s ``Bucket`` (and
``BucketDetail``) as flat tuples, straight from the driver's rows, without the objects in
between: a participant's hour at 5 s is 721 buckets of one sample each, where building and
reading four objects per bucket cost more than the values (docs/performance.md). The same
values as ``stats.time_series(..., participant_id=...)`` (tests/query compares them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from callquality.query.resolution import bucket_shares
from callquality.query.stats import bucket_values, input_means, ordered_inputs, percentile
from callquality.store import series

# The step-3 columns read (store/series.participant_rows), in the order unpacked below.
_PLAIN_COLUMNS = (
    "audio_recv_lost__sum", "video_recv_lost__sum", "audio_send_lost__sum",
    "video_send_lost__sum", "audio_send_rtt__avg", "video_send_rtt__avg",
    "audio_recv_jitter__avg", "video_recv_jitter__avg", "audio_send_bitrate__avg",
    "video_send_bitrate__avg", "audio_recv_bitrate__avg", "video_recv_bitrate__avg",
    "audio_mos__avg", "video_vq__avg",
)
_EXTENDED_COLUMNS = (
    *_PLAIN_COLUMNS, "participants", "audio_send_packets__sum", "video_send_packets__sum",
    "audio_recv_packets__sum", "video_recv_packets__sum", "video_send_width__avg",
    "video_send_height__avg", "video_send_frame_rate__avg", "video_recv_width__avg",
    "video_recv_height__avg", "video_recv_frame_rate__avg", "video_recv_freezes__sum",
    "video_recv_freeze_ms__sum", "audio_recv_concealed__avg",
)
# The fields of each bucket's tuple: Bucket's but ``detail``, then (extended) BucketDetail's
# flattened, in the order of the JSON (api/render.py).
PLAIN_FIELDS = (
    "start_ms", "recv_audio_lost", "recv_video_lost", "send_audio_lost", "send_video_lost",
    "audio_rtt_ms", "video_rtt_ms", "audio_jitter_ms", "video_jitter_ms",
    "send_audio_bitrate_bps", "send_video_bitrate_bps", "recv_audio_bitrate_bps",
    "recv_video_bitrate_bps", "audio_mos", "video_vq",
)
EXTENDED_FIELDS = (
    *PLAIN_FIELDS, "participants", "loss_pct_send_audio", "loss_pct_send_video",
    "loss_pct_recv_audio", "loss_pct_recv_video", "audio_rtt_p50", "audio_rtt_p95",
    "video_rtt_p50", "video_rtt_p95", "audio_jitter_p50", "audio_jitter_p95",
    "video_jitter_p50", "video_jitter_p95", "send_video_width", "send_video_height",
    "send_video_frame_rate", "recv_video_width", "recv_video_height",
    "recv_video_frame_rate", "freeze_count", "freeze_duration_ms", "audio_concealed_ratio",
    "score_inputs",
)


@dataclass(frozen=True, slots=True)
class ParticipantSeries:
    """One participant's buckets (tuples of PLAIN_FIELDS or EXTENDED_FIELDS) and, for each,
    its resolutionUsage shares of ``resolution.LINES`` (None: no received video)."""

    buckets: list[tuple[Any, ...]]
    shares: list[tuple[float, ...] | None]


def participant_series(
    conn: Connection,
    session_id: str,
    start_ms: int,
    *,
    interval_s: int,
    participant_id: str,
    extended: bool = False,
) -> ParticipantSeries:
    """GET /v2/sessions/{id}/participant/{pid}/stats's series and resolutionUsage: two
    statements, the steps (store/series.py) and one scan of the participant's samples."""
    rows = series.participant_rows(
        conn, session_id, start_ms, interval_s, participant_id,
        _EXTENDED_COLUMNS if extended else _PLAIN_COLUMNS,
    )
    if not rows:
        return ParticipantSeries([], [])
    found = series.participant_samples(
        conn, session_id, start_ms, interval_s, participant_id, details=extended
    )
    by_bucket = bucket_shares(found)
    details = _participant_details(found) if extended else {}
    step_ms = interval_s * 1000
    buckets: list[tuple[Any, ...]] = []
    shares: list[tuple[float, ...] | None] = []
    for b in range(0, max(rows) + 1):
        start = start_ms + b * step_ms
        row = rows.get(b)
        shares.append(by_bucket.get(b))
        if not extended:
            buckets.append(_plain_bucket(start, row) if row is not None
                           else (start, *_EMPTY_PLAIN))
        elif row is not None:
            buckets.append(_extended_bucket(start, row, details.get(b)))
        else:  # BucketValues(None): no participant, nothing measured
            buckets.append((start, *_EMPTY_PLAIN, 0, *_EMPTY_DETAIL, {}))
    return ParticipantSeries(buckets, shares)


_EMPTY_PLAIN = (None,) * (len(PLAIN_FIELDS) - 1)
_EMPTY_DETAIL = (None,) * (len(EXTENDED_FIELDS) - len(PLAIN_FIELDS) - 2)
_NO_PERCENTILES_8 = (None,) * 8


def _floats(row: tuple[Any, ...]) -> list[Any]:
    # BucketValues' rule: every value a float (PostgreSQL's sums of integers are numeric).
    return [None if v is None else float(v) for v in row]


def _rounded(value: float | None, digits: int) -> float | None:
    """``_round`` of a float; a whole number is its own rounding (``round`` is the slow
    part of a bucket)."""
    if value is None:
        return None
    return value if value.is_integer() else round(value, digits)


def _plain_bucket(start: int, row: tuple[Any, ...]) -> tuple[Any, ...]:
    ral, rvl, sal, svl, a_rtt, v_rtt, a_jit, v_jit, sab, svb, rab, rvb, mos, vq = _floats(row)
    return (
        start,
        None if ral is None else int(ral),
        None if rvl is None else int(rvl),
        None if sal is None else int(sal),
        None if svl is None else int(svl),
        a_rtt, v_rtt, a_jit, v_jit, sab, svb, rab, rvb,
        _rounded(mos, 2), _rounded(vq, 2),
    )


def _pct(lost: float | None, packets: float | None) -> float | None:
    """``_loss_pct``: lost of lost and received, in percent, 3 digits."""
    if lost is None or packets is None or packets + lost <= 0:
        return None
    return _rounded(100.0 * lost / (packets + lost), 3)


def _extended_bucket(
    start: int, row: tuple[Any, ...], details: tuple[tuple[Any, ...], dict[str, float]] | None
) -> tuple[Any, ...]:
    (ral, rvl, sal, svl, a_rtt, v_rtt, a_jit, v_jit, sab, svb, rab, rvb, mos, vq, _,
     sap, svp, rap, rvp, sw, sh, sfr, rw, rh, rfr, freezes, freeze_ms, concealed) = _floats(row)
    percentiles, inputs = details if details is not None else (_NO_PERCENTILES_8, {})
    return (
        *_plain_bucket(start, row[:14]),
        int(row[14]),
        _pct(sal, sap), _pct(svl, svp), _pct(ral, rap), _pct(rvl, rvp),
        *percentiles,
        _rounded(sw, 0), _rounded(sh, 0), _rounded(sfr, 2),
        _rounded(rw, 0), _rounded(rh, 0), _rounded(rfr, 2),
        None if freezes is None else int(freezes),
        freeze_ms,
        _rounded(concealed, 4),
        inputs,
    )


def _participant_details(
    rows: list[tuple[Any, ...]],
) -> dict[int, tuple[tuple[Any, ...], dict[str, float]]]:
    """``_extended_details`` of one participant from its samples' rows (store/series.py
    ``participant_samples``): per bucket, the p50 and p95 of each of _DETAIL_KEYS (None,
    None without values) and the mean score inputs ({} without any)."""
    values, texts = bucket_values(rows, 3, 7)
    out = {}
    for b, runs in values.items():
        percentiles: list[float | None] = []
        for run in runs:
            if not run:
                percentiles += (None, None)
            elif len(run) == 1:
                percentiles += (run[0], run[0])
            else:
                percentiles += (percentile(run, 50), percentile(run, 95))
        found = texts.get(b)
        means = input_means(found) if found else {}
        out[b] = (tuple(percentiles), ordered_inputs(means) if means else {})
    return out

