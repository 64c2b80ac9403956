"""The minute rollups answer exactly what the samples answer (store/rollups.py)."""

from __future__ import annotations

import math
import random
import time
import uuid
from dataclasses import asdict
from typing import Any

import pytest
from sqlalchemy import delete, select, update
from support.items import T0, sample_item

from callquality.api.ingest_models import parse_items
from callquality.config import Settings
from callquality.query.stats import time_series
from callquality.service.ingest import ingest
from callquality.store import writes
from callquality.store.db import create_store_engine, migrate, read_transaction, write_transaction
from callquality.store.schema import (
    score_input_rollups,
    session_rollups,
    session_rollups_pending,
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
    rng = random.Random(3)
    items = []
    for step in range(1, 40):  # 195 s: four minutes, the last one partly
        for p in ("alice", "bob", "carol"):
            if p == "carol" and 10 < step < 20:
                continue  # carol leaves for a while: buckets without her
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
                item["sample"].pop("video")  # bob's video comes and goes: NULLs
            items.append(item)
            if p == "alice":  # alice has a second peer connection
                second = sample_item(room, p, T0 + step * 5000 + 7, **kwargs)
                second["peerConnectionId"] = "screen"
                items.append(second)
    return items


@pytest.mark.parametrize("interval", [60, 120, 300])
def test_rollups_give_the_series_the_samples_give(backend: str, interval: int) -> None:
    engine = create_store_engine(backend)
    migrate(engine)
    room = f"room-{uuid.uuid4().hex[:8]}"
    items = parse_items(_items(room), 1000)
    key = f"k-{uuid.uuid4().hex[:8]}"
    now = int(time.time() * 1000)
    # Several requests, so that minutes are rolled up incrementally.
    for start in range(0, len(items), 37):
        result = ingest(engine, Settings(), key, items[start : start + 37], now)
    (session_id,) = result.session_ids
    with read_transaction(engine) as conn:
        start_ms = writes.session_by_id(conn, session_id).start_ms  # type: ignore[union-attr]

        def series(**kw: Any) -> list[dict[str, Any]]:
            found = time_series(conn, session_id, start_ms, interval_s=interval, **kw)
            return [asdict(b) for b in found]

        from_rollups = [series(), series(participant_id="alice"), series(extended=True)]
    with write_transaction(engine) as conn:  # a session without rollups: samples alone
        conn.execute(
            update(sessions).where(sessions.c.session_id == session_id).values(
                rollup_origin_ms=None)
        )
    with read_transaction(engine) as conn:
        from_samples = [series(), series(participant_id="alice"), series(extended=True)]
    engine.dispose()
    assert from_rollups[0] and len(from_rollups[0]) == len(from_samples[0])
    _close(from_rollups, from_samples)


def test_a_minute_is_rewritten_once_a_later_one_arrives_and_read_live_until_then(
    backend: str,
) -> None:
    engine = create_store_engine(backend)
    migrate(engine)
    room = f"room-{uuid.uuid4().hex[:8]}"
    key = f"k-{uuid.uuid4().hex[:8]}"
    now = int(time.time() * 1000)
    steps = {}  # minute -> series after each request
    session_id = ""
    for step in range(0, 30):  # one request per 5 s: minutes 0, 1 and 2 (the newest)
        items = [sample_item(room, p, T0 + step * 5000, rtt_ms=20.0 + step + i,
                             audio_recv_lost=step % 4)
                 for i, p in enumerate(("alice", "bob"))]
        (session_id,) = ingest(engine, Settings(), key, parse_items(items, 10), now).session_ids
    with read_transaction(engine) as conn:
        start_ms = writes.session_by_id(conn, session_id).start_ms  # type: ignore[union-attr]
        stored = sorted(int(b) for b in conn.execute(
            select(session_rollups.c.bucket).where(session_rollups.c.session_id == session_id)
        ).scalars())
        pending = sorted(int(b) for b in conn.execute(
            select(session_rollups_pending.c.bucket)
            .where(session_rollups_pending.c.session_id == session_id)
        ).scalars())
        steps["rollups"] = [asdict(b) for b in time_series(conn, session_id, start_ms)]
    with write_transaction(engine) as conn:
        conn.execute(update(sessions).where(sessions.c.session_id == session_id).values(
            rollup_origin_ms=None))
    with read_transaction(engine) as conn:
        steps["samples"] = [asdict(b) for b in time_series(conn, session_id, start_ms)]
    engine.dispose()
    assert stored == [0, 1] and pending == [2]
    assert len(steps["rollups"]) == 3
    _close(steps["rollups"], steps["samples"])


def test_late_data_for_a_rewritten_minute_rewrites_it_again(backend: str) -> None:
    engine = create_store_engine(backend)
    migrate(engine)
    room = f"room-{uuid.uuid4().hex[:8]}"
    key = f"k-{uuid.uuid4().hex[:8]}"
    now = int(time.time() * 1000)
    session_id = ""
    for step in (1, 2, 13, 14, 3):  # minute 0, then minute 1, then late data for minute 0
        items = [sample_item(room, "alice", T0 + step * 5000, rtt_ms=10.0 * step)]
        (session_id,) = ingest(engine, Settings(), key, parse_items(items, 10), now).session_ids
    with read_transaction(engine) as conn:
        start_ms = writes.session_by_id(conn, session_id).start_ms  # type: ignore[union-attr]
        minute0 = conn.execute(
            select(session_rollups.c.audio_send_rtt__avg).where(
                session_rollups.c.session_id == session_id, session_rollups.c.bucket == 0)
        ).scalar()
        series = time_series(conn, session_id, start_ms)
    engine.dispose()
    assert minute0 == pytest.approx((10 + 20 + 30) / 3)
    assert [b.audio_rtt_ms for b in series] == pytest.approx([20.0, 135.0])


def test_a_session_from_before_input_rollups_reads_its_score_inputs_from_the_samples(
    backend: str,
) -> None:
    engine = create_store_engine(backend)
    migrate(engine)
    room = f"room-{uuid.uuid4().hex[:8]}"
    items = parse_items(_items(room), 1000)
    now = int(time.time() * 1000)
    (session_id,) = ingest(engine, Settings(), f"k-{uuid.uuid4().hex[:8]}", items, now).session_ids
    with read_transaction(engine) as conn:
        start_ms = writes.session_by_id(conn, session_id).start_ms  # type: ignore[union-attr]
        with_rollups = time_series(conn, session_id, start_ms, interval_s=120, extended=True)
    with write_transaction(engine) as conn:  # as revision 0007 leaves an older session
        conn.execute(update(sessions).where(sessions.c.session_id == session_id).values(
            input_rollups=None))
        conn.execute(delete(score_input_rollups).where(
            score_input_rollups.c.session_id == session_id))
    with read_transaction(engine) as conn:
        from_samples = time_series(conn, session_id, start_ms, interval_s=120, extended=True)
    engine.dispose()
    inputs = [b.detail.score_inputs for b in with_rollups if b.detail is not None]
    assert len(inputs) == 2 and all("audio_r" in i and "video_vq" in i for i in inputs)
    _close([asdict(b) for b in with_rollups], [asdict(b) for b in from_samples])
