"""Keeping ``series_rollups``: each session's series done, bucket by bucket, at every interval
of SERIES_INTERVALS_S (store/series.py computes a bucket, ``span_row``, and reads them).

A bucket's row is written once, when a request brings data for a later bucket at the same
interval (or late data for it), or when the session ends: until then it is the session's
newest at that interval, which every request of the session adds to, and it is only marked
pending (``series_rollups_pending``); the stats query computes a pending bucket when read.
So a 5-s bucket of a 1,000-participant session is computed once, from its ~1,000 samples,
instead of on each of the twenty requests that bring them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.dialects import postgresql, sqlite

from callquality.store import bulk, series
from callquality.store.db import is_postgres
from callquality.store.schema import (
    SERIES_INTERVALS_S,
    series_rollups,
    series_rollups_pending,
    sessions,
)

_STEP_MS = 5000  # every interval of SERIES_INTERVALS_S is a multiple of it
_KEY = ("session_id", "interval_s", "bucket")


def add_samples_many(
    conn: Connection, by_session: Mapping[str, tuple[Sequence[Mapping[str, Any]], int]]
) -> None:
    """Bring the series rollups up to newly stored sample rows: {session: (rows, origin)}."""
    steps: dict[str, set[int]] = {}  # session -> its 5-s steps touched
    for session_id, (rows, origin) in by_session.items():
        touched = {
            (row["timestamp_ms"] - origin) // _STEP_MS
            for row in rows
            if row["interval_ms"] is not None
        }
        if touched:
            steps[session_id] = touched
    if not steps:
        return
    pending: dict[tuple[str, int], set[int]] = {}
    for session_id, interval_s, bucket in bulk.select_by_keys(
        conn, series_rollups_pending, ("session_id",), [(s,) for s in sorted(steps)], _KEY
    ):
        pending.setdefault((session_id, int(interval_s)), set()).add(int(bucket))
    rewrite: list[tuple[str, int, int]] = []
    newest: list[dict[str, Any]] = []
    for session_id, touched in steps.items():
        for interval_s in SERIES_INTERVALS_S:
            buckets = {step * _STEP_MS // (interval_s * 1000) for step in touched}
            before = pending.get((session_id, interval_s), set())
            last = max(buckets | before)
            rewrite += [(session_id, interval_s, b) for b in sorted((buckets | before) - {last})]
            if last not in before:
                newest.append({"session_id": session_id, "interval_s": interval_s,
                               "bucket": last})
    origins = {s: origin for s, (_, origin) in by_session.items()}
    _write(conn, rewrite, origins)
    bulk.insert_many(conn, series_rollups_pending, newest)


def flush_session(conn: Connection, session_id: str) -> None:
    """Write every pending bucket of an ended session: its series reads stored rows only."""
    origin = conn.execute(
        select(sessions.c.rollup_origin_ms).where(sessions.c.session_id == session_id)
    ).scalar()
    p = series_rollups_pending.c
    keys = [
        (session_id, int(i), int(b))
        for i, b in conn.execute(
            select(p.interval_s, p.bucket).where(p.session_id == session_id)
        )
    ]
    if origin is not None:
        _write(conn, keys, {session_id: int(origin)})


def _write(conn: Connection, keys: Sequence[tuple[str, int, int]], origins: Mapping[str, int]
           ) -> None:
    """Compute and store these buckets' rows, and clear their pending marks: the shorter
    intervals first, whose sorted values the longer ones merge (store/series.py)."""
    for interval_s in SERIES_INTERVALS_S:
        these = [k for k in keys if k[1] == interval_s]
        rows = []
        for session_id, _, bucket in these:
            row = series.span_row(conn, session_id, origins[session_id], interval_s, bucket)
            if row is not None:
                rows.append({"session_id": session_id, "interval_s": interval_s,
                             "bucket": bucket, **row})
        if rows:  # not bulk.insert_many: its JSON recordset does not carry the runs' bytes
            insert = postgresql.insert if is_postgres(conn) else sqlite.insert
            conn.execute(_replace(insert(series_rollups)), rows)
        bulk.delete_by_keys(conn, series_rollups_pending, _KEY, these)


def _replace(stmt: Any) -> Any:
    """ON CONFLICT of the series_rollups insert: the bucket's new row replaces the old."""
    return stmt.on_conflict_do_update(
        index_elements=list(_KEY),
        set_={c.name: stmt.excluded[c.name] for c in series_rollups.c if c.name not in _KEY},
    )
