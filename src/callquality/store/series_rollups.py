"""Keeping ``series_rollups``: each session's series done, bucket by bucket, at every interval
of SERIES_INTERVALS_S (store/series.py computes buckets, ``span_rows``, and reads them).

A bucket's row is written once, when a request brings data for a later bucket at the same
interval (or late data for it), or when the session ends: until then it is among the
session's newest, which its requests add to, and it is only marked pending
(``series_rollups_pending``); the stats query computes pending buckets when read. Under a
minute, the newest are the buckets of the session's newest minute: they are written when
the minute is, one statement per interval for the minute, so that a small session does not
pay a few statements for every 5-s step, and a 1,000-participant one computes a bucket
from its samples once instead of on each of the requests that bring them.

The request that brings a session's first data of a new unit (the minute, or the bucket at
a minute and more) closes the unit before: in its transaction, or, deferred, by marking the
buckets pending and returning them, to be written after its commit
(service/series_closer.py). Later requests of the same unit leave those to it; a pending
bucket two units old was left by a close that failed, and the next request closes it again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
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


Keys = list[tuple[str, int, int]]  # (session, interval_s, bucket) of series_rollups


def add_samples_many(
    conn: Connection, by_session: Mapping[str, tuple[Sequence[Mapping[str, Any]], int]],
    *, defer: bool = False,
) -> Keys:
    """Bring the series rollups up to newly stored sample rows: {session: (rows, origin)}.

    The buckets done by these rows (those no longer among their session's newest) are
    written here, or, with ``defer``, marked pending and returned, for the caller to write
    after its commit (``span_counts``, ``compute`` and ``store``: outside the write lock).
    """
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
        return []
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
            unit = _unit(interval_s)
            last = max(b * interval_s // unit for b in buckets | before)
            # An earlier request brought this unit's first data: it closed the unit before,
            # whose buckets are being written (deferred), unless left over since (a close
            # that failed: two units old).
            closed_earlier = any(b * interval_s // unit == last for b in before)
            for b in sorted(buckets | before):
                of = b * interval_s // unit
                if of == last:
                    if b not in before:
                        newest.append({"session_id": session_id, "interval_s": interval_s,
                                       "bucket": b})
                elif not (closed_earlier and b in before and of == last - 1):
                    rewrite.append((session_id, interval_s, b))
    if defer:
        # Pending until written: a read computes them, as it does the newest.
        newest += [{"session_id": s, "interval_s": i, "bucket": b} for s, i, b in rewrite
                   if b not in pending.get((s, i), ())]
    else:
        _write(conn, rewrite, {s: origin for s, (_, origin) in by_session.items()})
    bulk.insert_many(conn, series_rollups_pending, newest)
    return rewrite if defer else []


def _unit(interval_s: int) -> int:
    """The span (s) whose newest stays pending: a minute for buckets under one."""
    return max(interval_s, 60)


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
    """Compute and store these buckets' rows, and clear their pending marks."""
    store(conn, compute(conn, keys, origins), keys)


def compute(conn: Connection, keys: Sequence[tuple[str, int, int]], origins: Mapping[str, int]
            ) -> list[dict[str, Any]]:
    """These buckets' series_rollups rows (those with measured samples), computed from the
    samples and rollups as this transaction sees them: the shorter intervals first, whose
    sorted values the longer ones merge (store/series.py). A longer bucket whose parts were
    all computed here merges them as computed, without reading back what was just written
    (a minute's close computes its 5-s buckets, then merges them at 10, 15, 30 and 60 s)."""
    computed: dict[tuple[str, int], tuple[set[int], dict[int, series.Runs]]] = {}
    received: dict[str, dict[tuple[int, int], dict[int, int]]] = {}  # session -> memo
    rows: list[dict[str, Any]] = []
    for interval_s in SERIES_INTERVALS_S:
        these = [k for k in keys if k[1] == interval_s]
        for session_id in sorted({k[0] for k in these}):
            buckets = [b for s, _, b in these if s == session_id]
            first, last = min(buckets), max(buckets)
            part_s = series.part_of(interval_s)
            done, part_runs = computed.get((session_id, part_s), (set(), {}))
            span = range(first * interval_s // part_s, (last + 1) * interval_s // part_s)
            runs_out: dict[int, series.Runs] = {}
            computed[(session_id, interval_s)] = (set(range(first, last + 1)), runs_out)
            whole = interval_s != part_s and done.issuperset(span)
            found = series.span_rows(
                conn, session_id, origins[session_id], interval_s, first, last,
                parts=part_runs if whole else None, runs_out=runs_out,
                known=(done, part_runs) if done and not whole else None,
                received_memo=received.setdefault(session_id, {}))
            rows += [{"session_id": session_id, "interval_s": interval_s, "bucket": b, **row}
                     for b, row in found.items() if b in buckets]
    return rows


def store(conn: Connection, rows: Sequence[dict[str, Any]],
          keys: Sequence[tuple[str, int, int]]) -> None:
    """Store computed rows (``compute``) and clear the pending marks of their keys."""
    if rows:  # not bulk.insert_many: its JSON recordset does not carry the runs' bytes
        conn.execute(_insert(is_postgres(conn)), list(rows))
    bulk.delete_by_keys(conn, series_rollups_pending, _KEY, list(keys))


def span_counts(conn: Connection, keys: Sequence[tuple[str, int, int]],
                origins: Mapping[str, int]) -> dict[str, int]:
    """Each session's number of samples in the span of these buckets: samples are only
    added (or purged when old), so the same count is the same samples, and rows computed
    in an earlier transaction with it still hold."""
    spans: dict[str, tuple[int, int]] = {}
    for session_id, interval_s, bucket in keys:
        origin, step = origins[session_id], interval_s * 1000
        lo, hi = origin + bucket * step, origin + (bucket + 1) * step
        before = spans.get(session_id)
        spans[session_id] = (lo, hi) if before is None else (min(lo, before[0]),
                                                             max(hi, before[1]))
    return {
        session_id: series.span_count(conn, session_id, origins[session_id], lo, hi)
        for session_id, (lo, hi) in sorted(spans.items())
    }


@cache
def _insert(postgres: bool) -> Any:
    """The series_rollups upsert, built once per backend."""
    insert = postgresql.insert if postgres else sqlite.insert
    return _replace(insert(series_rollups))


def _replace(stmt: Any) -> Any:
    """ON CONFLICT of the series_rollups insert: the bucket's new row replaces the old."""
    return stmt.on_conflict_do_update(
        index_elements=list(_KEY),
        set_={c.name: stmt.excluded[c.name] for c in series_rollups.c if c.name not in _KEY},
    )
