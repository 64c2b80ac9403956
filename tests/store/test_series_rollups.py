"""The series kept per interval (series_rollups) answer what the samples answer, while the
session runs (newest buckets computed when read) and once it has ended (all written)."""

from __future__ import annotations

import math
import random
import time
import uuid
from dataclasses import asdict
from typing import Any

import pytest
from sqlalchemy import event, select, update
from support.items import T0, sample_item

from callquality.api.ingest_models import parse_items
from callquality.config import Settings
from callquality.query.stats import time_series
from callquality.service.ingest import _ingest, ingest
from callquality.service.series_closer import (
    _STORE_SESSIONS,
    Closed,
    SeriesCloser,
    store_closed,
    write_closed,
)
from callquality.store import series_rollups as series_rollups_store
from callquality.store import writes
from callquality.store.db import create_store_engine, migrate, read_transaction, write_transaction
from callquality.store.schema import (
    SERIES_INTERVALS_S,
    series_rollups,
    series_rollups_pending,
    sessions,
)


def _close(a: Any, b: Any, path: str = "") -> None:
    if isinstance(a, dict):
        assert set(a) == set(b), path
        for k in a:
            _close(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _close(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and isinstance(b, float | int):
        assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9), (path, a, b)
    else:
        assert a == b, (path, a, b)


def _items(room: str) -> list[dict[str, Any]]:
    """Three participants over 7.5 minutes, one with two peer connections, one leaving for a
    while, one whose video comes and goes; irregular timestamps and intervals."""
    rng = random.Random(7)
    items = []
    for step in range(1, 90):
        for p in ("alice", "bob", "carol"):
            if p == "carol" and 20 < step < 45:
                continue
            kwargs: dict[str, Any] = dict(
                audio_recv_lost=rng.randint(0, 9),
                video_recv_lost=rng.randint(0, 30),
                rtt_ms=rng.uniform(20, 300),
                jitter_ms=rng.uniform(1, 40),
                video_bitrate=rng.uniform(1e5, 2e6),
                interval_ms=rng.choice((4000, 5000, 6000)),
            )
            item = sample_item(room, p, T0 + step * 5000 + rng.randint(0, 900), **kwargs)
            if p == "bob" and step % 3 == 0:
                item["sample"].pop("video")
            items.append(item)
            if p == "alice":
                second = sample_item(room, p, T0 + step * 5000 + 7, **kwargs)
                second["peerConnectionId"] = "screen"
                items.append(second)
    return items


def _from_samples(engine: Any, session_id: str, start_ms: int) -> list[Any]:
    """Every series of the session from its samples alone (its rollups turned off)."""
    with write_transaction(engine) as conn:
        conn.execute(update(sessions).where(sessions.c.session_id == session_id).values(
            rollup_origin_ms=None, series_rollups=None))
    with read_transaction(engine) as conn:
        return _all_series(conn, session_id, start_ms)


def _all_series(conn: Any, session_id: str, start_ms: int) -> list[Any]:
    return [
        [asdict(b) for b in time_series(conn, session_id, start_ms, interval_s=i,
                                        extended=extended)]
        for i in SERIES_INTERVALS_S
        for extended in (False, True)
    ]


@pytest.mark.parametrize("end", [False, True], ids=["running", "ended"])
@pytest.mark.parametrize("thread", [False, True], ids=["closed-inline", "closer-thread"])
def test_the_kept_series_are_the_series_of_the_samples(
    backend: str, end: bool, thread: bool
) -> None:
    engine = create_store_engine(backend)
    migrate(engine)
    room = f"room-{uuid.uuid4().hex[:8]}"
    items = parse_items(_items(room), 1000)
    key = f"k-{uuid.uuid4().hex[:8]}"
    now = int(time.time() * 1000)
    closer = SeriesCloser(engine) if thread else None
    for start in range(0, len(items), 23):  # many requests: buckets close one by one
        result = ingest(engine, Settings(), key, items[start : start + 23], now, closer)
    if closer is not None:
        assert closer.drain()
        closer.stop()
    (session_id,) = result.session_ids
    if end:
        with write_transaction(engine) as conn:
            writes.end_session(conn, session_id, T0 + 3_600_000)
    with read_transaction(engine) as conn:
        start_ms = writes.session_by_id(conn, session_id).start_ms  # type: ignore[union-attr]
        pending = conn.execute(select(series_rollups_pending.c.interval_s).where(
            series_rollups_pending.c.session_id == session_id)).scalars().all()
        kept = conn.execute(select(series_rollups.c.interval_s).where(
            series_rollups.c.session_id == session_id)).scalars().all()
        from_kept = _all_series(conn, session_id, start_ms)
    from_samples = _from_samples(engine, session_id, start_ms)
    engine.dispose()
    # Running: the newest buckets of each interval are pending (those of the newest minute
    # under a minute); ended: none is.
    assert set(pending) == (set() if end else set(SERIES_INTERVALS_S))
    # 7.5 minutes: a running session's buckets of 10 minutes and more are all its newest.
    assert set(kept) == {i for i in SERIES_INTERVALS_S if end or i <= 300}
    assert all(from_kept) and [len(s) for s in from_kept] == [len(s) for s in from_samples]
    _close(from_kept, from_samples)


def test_retention_removes_the_kept_series_with_the_samples(backend: str) -> None:
    engine = create_store_engine(backend)
    migrate(engine)
    room = f"room-{uuid.uuid4().hex[:8]}"
    now = int(time.time() * 1000)
    items = parse_items(_items(room)[:200], 1000)
    (session_id,) = ingest(engine, Settings(), f"k-{uuid.uuid4().hex[:8]}", items,
                           now).session_ids

    def left() -> tuple[int, int]:
        with read_transaction(engine) as conn:
            return tuple(  # type: ignore[return-value]
                len(conn.execute(select(t.c.bucket).where(t.c.session_id == session_id)).all())
                for t in (series_rollups, series_rollups_pending)
            )

    before = left()
    with write_transaction(engine) as conn:
        writes.purge_samples_before(conn, now + 1)
    after = left()
    engine.dispose()
    assert before[0] > 0 and before[1] > 0
    assert after == (0, 0)


def test_late_data_while_closed_buckets_are_computed_is_not_lost(backend: str) -> None:
    """Closed buckets are computed outside the write lock (service/series_closer.py): a
    sample stored for their span in between makes the store compute them again."""
    engine = create_store_engine(backend)
    migrate(engine)
    room = f"room-{uuid.uuid4().hex[:8]}"
    items = parse_items(_items(room), 1000)
    key = f"k-{uuid.uuid4().hex[:8]}"
    now = int(time.time() * 1000)
    closed = Closed()
    at = 0
    while not closed.keys or at < 100:  # a request past the first few that closes buckets
        with write_transaction(engine) as conn:
            result = _ingest(conn, Settings(), key, items[at : at + 23], now, {}, defer=True)
        at += 23
        closed = result.closed
        if not closed.keys or at < 100:
            write_closed(engine, closed)
    keys, origins = closed.keys, closed.origins
    (session_id,) = result.session_ids
    with read_transaction(engine) as conn:
        computed = (series_rollups_store.span_counts(conn, keys, origins),
                    series_rollups_store.compute(conn, keys, origins))
    # A late participant's sample inside the first closed 5-s bucket, stored meanwhile.
    first = min(b for _, i, b in keys if i == 5)
    late_ts = origins[session_id] + first * 5000 + 2500
    (late,) = parse_items([sample_item(room, "dave", late_ts, rtt_ms=900.0)], 1000)
    assert ingest(engine, Settings(), key, [late], now).session_ids == (session_id,)
    store_closed(engine, closed, computed)
    with read_transaction(engine) as conn:
        stored = conn.execute(select(series_rollups.c.participants).where(
            series_rollups.c.session_id == session_id, series_rollups.c.interval_s == 5,
            series_rollups.c.bucket == first)).scalar_one()
        left = conn.execute(select(series_rollups_pending.c.bucket).where(
            series_rollups_pending.c.session_id == session_id,
            series_rollups_pending.c.interval_s == 5,
            series_rollups_pending.c.bucket == first)).all()
    stale = next(r for r in computed[1] if r["interval_s"] == 5 and r["bucket"] == first)
    for start in range(at, len(items), 23):
        ingest(engine, Settings(), key, items[start : start + 23], now)
    with read_transaction(engine) as conn:
        start_ms = writes.session_by_id(conn, session_id).start_ms  # type: ignore[union-attr]
        from_kept = _all_series(conn, session_id, start_ms)
    from_samples = _from_samples(engine, session_id, start_ms)
    engine.dispose()
    assert stored == stale["participants"] + 1 and left == []
    _close(from_kept, from_samples)


def test_a_batch_of_closes_is_stored_a_few_sessions_per_write_transaction(backend: str) -> None:
    """The closer computes a batch's closes in one read transaction and stores them a few
    sessions per write transaction (each takes SQLite's write lock from every ingest): all
    of them stored, and no transaction with more than ``_STORE_SESSIONS`` sessions' rows."""
    engine = create_store_engine(backend)
    migrate(engine)
    key = f"k-{uuid.uuid4().hex[:8]}"
    now = int(time.time() * 1000)
    rooms = [f"room-{uuid.uuid4().hex[:8]}" for _ in range(2 * _STORE_SESSIONS + 3)]
    closed = Closed()
    for step in range(14):  # into the second minute: each session closes its first
        items = [sample_item(room, p, T0 + step * 5000 + 11, rtt_ms=40.0 + step)
                 for room in rooms for p in ("alice", "bob")]
        with write_transaction(engine) as conn:
            closed.add(_ingest(conn, Settings(), key, parse_items(items, 1000), now, {},
                               defer=True).closed)
    assert {s for s, _, _ in closed.keys} == set(closed.origins) and len(closed.origins) == len(
        rooms)
    stored_by_transaction: list[set[str]] = [set()]

    @event.listens_for(engine, "before_cursor_execute")
    def _seen(_conn: Any, _cursor: Any, sql: str, params: Any, _context: Any, many: bool
              ) -> None:
        if sql.lstrip().upper().startswith("INSERT INTO SERIES_ROLLUPS "):
            rows = params if many else [params]
            stored_by_transaction[-1].update(
                (r["session_id"] if isinstance(r, dict) else r[0]) for r in rows)

    @event.listens_for(engine, "commit")
    def _committed(_conn: Any) -> None:
        stored_by_transaction.append(set())

    write_closed(engine, closed)
    event.remove(engine, "before_cursor_execute", _seen)
    event.remove(engine, "commit", _committed)
    with read_transaction(engine) as conn:
        stored = set(conn.execute(select(
            series_rollups.c.session_id, series_rollups.c.interval_s, series_rollups.c.bucket
        ).where(series_rollups.c.session_id.in_(list(closed.origins)))).tuples())
        pending = set(conn.execute(select(
            series_rollups_pending.c.session_id, series_rollups_pending.c.interval_s,
            series_rollups_pending.c.bucket,
        ).where(series_rollups_pending.c.session_id.in_(list(closed.origins)))).tuples())
    engine.dispose()
    writes_seen = [s for s in stored_by_transaction if s]
    assert set(closed.keys) <= stored and not set(closed.keys) & pending
    assert sum(len(s) for s in writes_seen) == len(rooms)
    assert max(len(s) for s in writes_seen) == _STORE_SESSIONS
    assert len(writes_seen) == -(-len(rooms) // _STORE_SESSIONS)
