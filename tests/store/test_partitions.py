"""Leases and checkpoints of the ingest log's partitions, on both databases."""

from __future__ import annotations

from sqlalchemy import Engine

from callquality.store import partitions as leases
from callquality.store.db import create_store_engine, migrate, write_transaction


def _engine(backend: str) -> Engine:
    engine = create_store_engine(backend)
    migrate(engine)
    with write_transaction(engine) as conn:
        conn.exec_driver_sql("DELETE FROM ingest_partitions")
        leases.ensure(conn, 4)
    return engine


def test_processors_share_the_partitions_and_a_dead_ones_are_taken_over(backend: str) -> None:
    engine = _engine(backend)
    with write_transaction(engine) as conn:
        assert leases.renew_and_claim(conn, "a", 1_000, 3_000, 4) == [0, 1, 2, 3]
        # b arrives: a gives back what is beyond its share of two, b takes it.
        assert leases.renew_and_claim(conn, "a", 2_000, 3_000, 2) == [0, 1]
        assert leases.renew_and_claim(conn, "b", 2_000, 3_000, 2) == [2, 3]
        assert leases.live_owners(conn, 2_000) == 2
        # a stops renewing: at 5,001 its leases (until 5,000) have run out and b takes them.
        assert leases.renew_and_claim(conn, "b", 5_001, 3_000, 4) == [0, 1, 2, 3]
    engine.dispose()


def test_a_writer_without_the_lease_is_fenced_off(backend: str) -> None:
    engine = _engine(backend)
    with write_transaction(engine) as conn:
        leases.renew_and_claim(conn, "a", 1_000, 3_000, 4)
        assert leases.fence(conn, 2, "a", 1_500) == 0
        leases.checkpoint(conn, 2, 41)
        leases.checkpoint(conn, 2, 17)  # a checkpoint never goes back
        assert leases.fence(conn, 2, "a", 1_500) == 41
        assert leases.fence(conn, 2, "b", 1_500) is None  # not its lease
        assert leases.fence(conn, 2, "a", 4_001) is None  # its lease ran out
        assert leases.checkpoints(conn, [2, 3]) == {2: 41, 3: 0}
        leases.release(conn, "a")
        assert leases.renew_and_claim(conn, "b", 1_600, 3_000, 1) == [0]
    engine.dispose()
