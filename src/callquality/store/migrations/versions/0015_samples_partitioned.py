"""samples partitioned by day on PostgreSQL (store/sample_partitions.py, docs/scaling.md).

Retention deleted the expired samples row by row: at a few thousand reports/s that is
hundreds of millions of rows a day to delete, vacuum and re-index. ``samples`` becomes a
range-partitioned table by ``timestamp_ms``, one partition per UTC day and a default one,
so retention drops a day's partition whole. The primary key is unchanged (it holds the
partition column already), and so is every statement that reads or writes samples.

The existing rows are copied into the new table (a rewrite: 2,200,000 rows in 16 s here,
docs/performance.md) in this migration's transaction: a crash leaves the old table, and
writers of samples wait for the copy.
Day partitions are made for the days of the last year that have rows and for yesterday to
AHEAD_DAYS ahead; older rows go to the default partition, which retention purges by
DELETE. SQLite keeps its plain table: nothing to do there.

Revision ID: 0015
"""

import time

from alembic import op
from sqlalchemy import text

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

_KEY = "session_id, participant_id, peer_connection_id, timestamp_ms"
_BACKFILL_DAYS = 366


def _rename_old(old: str) -> None:
    op.execute(f"ALTER TABLE samples RENAME TO {old}")
    op.execute(f"ALTER TABLE {old} RENAME CONSTRAINT samples_pkey TO {old}_pkey")
    op.execute(f"ALTER INDEX ix_samples_received RENAME TO ix_{old}_received")


def _keys_and_index() -> None:
    op.execute(f"ALTER TABLE samples ADD CONSTRAINT samples_pkey PRIMARY KEY ({_KEY})")
    op.execute("CREATE INDEX ix_samples_received ON samples (received_ms)")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    from callquality.store import sample_partitions as parts

    conn = op.get_bind()
    _rename_old("samples_unpartitioned")
    op.execute(
        "CREATE TABLE samples (LIKE samples_unpartitioned INCLUDING DEFAULTS) "
        "PARTITION BY RANGE (timestamp_ms)"
    )
    _keys_and_index()
    op.execute(f"CREATE TABLE {parts.DEFAULT} PARTITION OF samples DEFAULT")
    today = int(time.time() * 1000) // parts.DAY_MS
    with_rows = conn.execute(
        text(
            "SELECT DISTINCT timestamp_ms / :day FROM samples_unpartitioned "
            "WHERE timestamp_ms >= :since AND timestamp_ms < :until"
        ),
        {"day": parts.DAY_MS, "since": (today - _BACKFILL_DAYS) * parts.DAY_MS,
         "until": (today + parts.AHEAD_DAYS + 1) * parts.DAY_MS},
    ).scalars()
    ahead = range(today - 1, today + parts.AHEAD_DAYS + 1)
    for day in sorted({int(d) for d in with_rows} | set(ahead)):
        op.execute(
            f"CREATE TABLE {parts.partition_name(day)} PARTITION OF samples "
            f"FOR VALUES FROM ({day * parts.DAY_MS}) TO ({(day + 1) * parts.DAY_MS})"
        )
    op.execute("INSERT INTO samples SELECT * FROM samples_unpartitioned")
    op.execute("DROP TABLE samples_unpartitioned")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    _rename_old("samples_partitioned")
    op.execute("CREATE TABLE samples (LIKE samples_partitioned INCLUDING DEFAULTS)")
    op.execute("INSERT INTO samples SELECT * FROM samples_partitioned")
    op.execute("DROP TABLE samples_partitioned")  # and its partitions
    _keys_and_index()
