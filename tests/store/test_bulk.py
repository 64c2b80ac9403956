"""The one-statement inserts and lookups of ingest (store/bulk.py) and the interval writes
built on them, on both databases: the rows that row-by-row statements would give."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import IntegrityError

from callquality.store import bulk, writes
from callquality.store.db import create_store_engine, migrate, write_transaction
from callquality.store.schema import participant_intervals, participants, samples


@pytest.fixture()
def engine(backend: str) -> Iterator[Engine]:
    eng = create_store_engine(backend)
    migrate(eng)
    yield eng
    eng.dispose()


def _sample(session: str, participant: str, ts: int) -> dict[str, object]:
    row: dict[str, object] = {str(c.name): None for c in samples.c}
    row.update(session_id=session, participant_id=participant, peer_connection_id="default",
               timestamp_ms=ts, received_ms=ts, interval_ms=5000, audio_recv_packets=250,
               audio_recv_packets_lost=0.0, audio_mos=4.25, codec_audio="opus")
    return row


def test_insert_and_select_by_keys(engine: Engine) -> None:
    session = uuid.uuid4().hex
    rows = [_sample(session, f"p{i}", 1_800_000_000_000 + i) for i in range(60)]
    keys = [(session, f"p{i}", "default", 1_800_000_000_000 + i) for i in range(0, 120, 2)]
    cols = ("session_id", "participant_id", "peer_connection_id", "timestamp_ms")
    with write_transaction(engine) as conn:
        bulk.insert_many(conn, samples, rows)
        # Ten times: PostgreSQL's driver prepares the statement after five, and the server
        # may then reuse a generic plan made when the table was nearly empty.
        for _ in range(10):
            found = bulk.select_by_keys(conn, samples, cols, keys, cols)
        stored = conn.execute(
            select(samples.c.audio_recv_packets_lost, samples.c.audio_recv_packets)
            .where(samples.c.session_id == session, samples.c.participant_id == "p0")
        ).one()
    assert sorted((r[0], r[1], r[2], int(r[3])) for r in found) == sorted(
        k for k in keys if int(k[1][1:]) < 60
    )
    assert stored == (0, 250)  # a float 0.0 lands in the integer column as 0


def test_participants_upsert_keeps_a_name_until_another_is_sent(engine: Engine) -> None:
    session = uuid.uuid4().hex
    with write_transaction(engine) as conn:
        writes.upsert_participants_many(conn, "k", {(session, "a"): "Alice", (session, "b"): None})
        writes.upsert_participants_many(conn, "k", {(session, "a"): None, (session, "b"): "Bob"})
        names = dict(
            conn.execute(
                select(participants.c.participant_id, participants.c.name)
                .where(participants.c.session_id == session)
            ).all()
        )
    assert names == {"a": "Alice", "b": "Bob"}
    with write_transaction(engine) as conn:
        writes.upsert_participants_many(
            conn, "k", {(session, "a"): "Alicia", (session, "b"): "Bob"})
    with engine.connect() as conn:
        assert dict(conn.execute(
            select(participants.c.participant_id, participants.c.name)
            .where(participants.c.session_id == session)
        ).all()) == {"a": "Alicia", "b": "Bob"}


def test_participants_upsert_of_the_stored_name_writes_no_row_version(pg_database: str) -> None:
    """Every report sends its participant's name: on PostgreSQL, the same name rewrites
    nothing (the row keeps its xmin: no dead row, no WAL for it); another name does."""
    engine = create_store_engine(pg_database)
    migrate(engine)
    session = uuid.uuid4().hex

    def xmin() -> str:
        with engine.connect() as conn:
            return str(conn.execute(
                text("SELECT xmin::text FROM participants WHERE session_id = :s"), {"s": session}
            ).scalar_one())

    with write_transaction(engine) as conn:
        writes.upsert_participants_many(conn, "k", {(session, "a"): "Alice"})
    first = xmin()
    with write_transaction(engine) as conn:
        writes.upsert_participants_many(conn, "k", {(session, "a"): "Alice"})
    assert xmin() == first
    with write_transaction(engine) as conn:
        writes.upsert_participants_many(conn, "k", {(session, "a"): "Alicia"})
    assert xmin() != first
    engine.dispose()


def test_intervals_grow_merge_and_split(engine: Engine) -> None:
    session = uuid.uuid4().hex
    a, b = (session, "a"), (session, "b")
    steps: list[dict[tuple[str, str], list[tuple[int, int]]]] = [
        {a: [(0, 5000)], b: [(0, 5000), (60_000, 65_000)]},
        {a: [(0, 10_000)], b: [(0, 65_000)]},  # a grows; b's gap is bridged: one goes
        {a: [(0, 10_000), (90_000, 95_000)]},  # a rejoins
    ]
    expected = {a: [], b: []}
    for after in steps:
        with write_transaction(engine) as conn:
            before = writes.load_intervals_many(conn, after)
            writes.save_intervals_many(conn, before, after)
        expected.update(after)
        with write_transaction(engine) as conn:
            assert writes.load_intervals_many(conn, [a, b]) == expected
    with write_transaction(engine) as conn:
        count = conn.execute(
            select(participant_intervals.c.start_ms).where(
                participant_intervals.c.session_id == session
            )
        ).all()
    assert len(count) == 3


def test_copied_rows_are_stored_with_integral_floats_rounded(engine: Engine) -> None:
    session = uuid.uuid4().hex
    rows = [_sample(session, f"p{i}", 1_800_000_000_000 + i) for i in range(3)]
    rows[0]["audio_recv_packets"] = 249.0  # a float for an integer column, as a delta can be
    rows[1]["codec_audio"] = "a\tb'\\c"
    with write_transaction(engine) as conn:
        bulk.copy_rows(conn, samples, rows)
        stored = conn.execute(
            select(samples.c.participant_id, samples.c.audio_recv_packets, samples.c.codec_audio,
                   samples.c.audio_mos, samples.c.video_vq)
            .where(samples.c.session_id == session).order_by(samples.c.participant_id)
        ).all()
    assert [tuple(r) for r in stored] == [
        ("p0", 249, "opus", 4.25, None),
        ("p1", 250, "a\tb'\\c", 4.25, None),
        ("p2", 250, "opus", 4.25, None),
    ]


def test_a_copied_row_whose_key_is_stored_raises_integrity_error(engine: Engine) -> None:
    session = uuid.uuid4().hex
    with write_transaction(engine) as conn:
        bulk.copy_rows(conn, samples, [_sample(session, "p", 1_800_000_000_000)])
    with pytest.raises(IntegrityError), write_transaction(engine) as conn:
        bulk.copy_rows(conn, samples, [_sample(session, "q", 1), _sample(session, "p",
                                                                          1_800_000_000_000)])
    with write_transaction(engine) as conn:
        count = conn.execute(
            select(func.count()).select_from(samples).where(samples.c.session_id == session)
        ).scalar()
    assert count == 1  # nothing of the failed transaction was stored
