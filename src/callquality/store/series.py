"""The SQL of the quality series (CONTRACT.md; ``query/stats.py`` shapes the answer).

Aggregation happens in three steps, each with its own rule (docs/metrics.md):
1. per (bucket, participant, peer connection): counts summed, bitrates averaged over time
   (weighted by interval length), other measurements averaged;
2. per (bucket, participant): bitrates and counts summed over the participant's peer
   connections, other measurements averaged over them;
3. per bucket: counts summed over participants, everything else averaged over the
   participants that had that media in the bucket.
All three run in one SQL statement (steps 2 and 3: ``rollups.steps2and3``). Step 1 reads the
minute rollups (``rollups.step1``) instead of the samples when the session has them and its
minutes nest in the requested buckets (an interval that is a whole number of minutes): sums,
counts and maxima recombine exactly, so the answer is the same, and a 1,000-participant hour is
60k rollup rows instead of 720k samples (docs/performance.md). The default 60-s series of a
session reads ``session_rollups``, where all three steps are done already (its pending newest
minute computed from ``sample_rollups``). The extended series' score inputs of whole-minute
buckets come from ``score_input_rollups``; its RTT and jitter percentiles need every sample's
value, so they read the samples.
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import ColumnElement, Connection, Select, case, func, select

from callquality.store import rollups
from callquality.store.schema import (
    ROLLUP_BUCKET_MS,
    ROLLUP_MEASURES,
    sample_rollups,
    samples,
    score_input_rollups,
    sessions,
)

# Level-1 measurements: (output name, column, how: "sum" | "avg" | "twavg" | "max")
_MEASURES = ROLLUP_MEASURES


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


def bucket_rows(
    conn: Connection,
    session_id: str,
    start_ms: int,
    interval_s: int,
    participant_id: str | None = None,
) -> dict[int, Any]:
    """Step 3's row of each bucket with data: ``participants``, ``<measure>__sum`` and
    ``<measure>__avg`` of every measure of ``ROLLUP_MEASURES``."""
    origin = _rollup_origin(conn, session_id, start_ms, interval_s)
    if origin is not None and interval_s * 1000 == ROLLUP_BUCKET_MS and participant_id is None:
        # Steps 1-3 are done already, one row per minute (store/rollups.py).
        offset = (origin - start_ms) // ROLLUP_BUCKET_MS
        return {b + offset: row for b, row in rollups.session_minutes(conn, session_id).items()}
    level1 = _level1(session_id, start_ms, interval_s, participant_id, origin)
    return {int(row.bucket): row for row in conn.execute(rollups.steps2and3(level1))}


def sample_details(
    conn: Connection,
    session_id: str,
    start_ms: int,
    interval_s: int,
    participant_id: str | None,
    *,
    with_inputs: bool = True,
) -> list[tuple[Any, ...]]:
    """Every measured sample's (bucket, audio and video send RTT, audio and video receive
    jitter[, score inputs JSON]), for the extended series' percentiles and inputs.

    Plain tuples from the driver: a 1,000-participant hour is 720,000 of them, and
    SQLAlchemy's rows cost more than the rest. No order: percentiles sort, and the inputs'
    means (``math.fsum``) do not depend on it.
    """
    bucket = bucket_expression(start_ms, interval_s)
    query = select(
        bucket,
        samples.c.audio_send_rtt_ms,
        samples.c.video_send_rtt_ms,
        samples.c.audio_recv_jitter_ms,
        samples.c.video_recv_jitter_ms,
        *((samples.c.score_inputs,) if with_inputs else ()),
    ).where(samples.c.session_id == session_id, samples.c.interval_ms.is_not(None))
    if participant_id is not None:
        query = query.where(samples.c.participant_id == participant_id)
    compiled = query.compile(dialect=conn.dialect)
    params: Any = (
        tuple(compiled.params[name] for name in compiled.positiontup)
        if compiled.positiontup is not None
        else compiled.params
    )
    driver: Any = conn.connection.dbapi_connection
    cursor = driver.cursor()
    try:
        cursor.execute(str(compiled), params)
        return list(cursor.fetchall())
    finally:
        cursor.close()


def bucket_inputs(
    conn: Connection, session_id: str, start_ms: int, interval_s: int
) -> dict[int, dict[str, tuple[float, int]]] | None:
    """Each bucket's score inputs summed over its measured samples, {bucket: {name: (total,
    count)}}, from score_input_rollups; None when the session's minutes do not nest in the
    buckets or it has no such rollups (the samples must be read)."""
    origin = _rollup_origin(conn, session_id, start_ms, interval_s)
    if origin is None or not conn.execute(
        select(sessions.c.input_rollups).where(sessions.c.session_id == session_id)
    ).scalar():
        return None
    r = score_input_rollups.c
    out: dict[int, dict[str, tuple[float, int]]] = {}
    step_ms = interval_s * 1000
    for minute, text in conn.execute(
        select(r.bucket, r.sums).where(r.session_id == session_id).order_by(r.bucket)
    ):
        sums = out.setdefault((int(minute) * ROLLUP_BUCKET_MS + origin - start_ms) // step_ms, {})
        for name, (total, count) in orjson.loads(text).items():
            before = sums.get(name)
            sums[name] = (total, count) if before is None else (before[0] + total,
                                                                before[1] + count)
    return out
