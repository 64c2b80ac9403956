"""The daily partitions of ``samples`` on PostgreSQL (migration 0015, docs/scaling.md).

``samples`` is range-partitioned by ``timestamp_ms`` (the report's time, part of the primary
key, so the key stays the idempotency ledger: the same item posted twice stores once), one
partition per UTC day, ``samples_pYYYYMMDD``. Why a day: retention drops whole partitions, so
a partition is the unit by which samples outlive RETENTION_DAYS (at most a day, 3 % of the
default 30); a month of days is about 35 partitions, few enough that a query which names no
time range still plans and probes them all in well under a millisecond each, and at a few
thousand reports/s a day is some hundreds of millions of rows, a size one index holds well.

An insert never fails for a missing partition: ``samples_default`` takes the rows no day
partition covers (a dump of an old call, data older than the partitions). The day
partitions of yesterday to ``AHEAD_DAYS`` ahead are made by every process's migration
(``db.migrate``) and again by the hourly retention sweep, so live reports land in day
partitions. A day partition is made standalone and then attached (``ATTACH PARTITION``
takes only a SHARE UPDATE EXCLUSIVE lock on ``samples``: ingest and reads go on), after the
default partition's rows of that day moved into it.

Retention (``drop_expired``): a day partition whose day ended before the cut-off and whose
rows were all received before it is dropped whole; one holding rows received later (an
imported old dump) loses those received before the cut-off by DELETE, as the default
partition does. The partition straddling the cut-off is kept whole until its day has passed
it: a sample lives at most one day past RETENTION_DAYS. SQLite keeps one plain table and
deletes by ``received_ms``.
"""

from __future__ import annotations

import datetime as dt
import re

from psycopg.errors import LockNotAvailable
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import OperationalError

from callquality.store.db import is_postgres, write_transaction

DAY_MS = 86_400_000
# Day partitions made ahead of today: the sweep runs hourly, so three days let ingest go on
# in day partitions through a weekend of failed sweeps; later rows go to the default one.
AHEAD_DAYS = 3
DEFAULT = "samples_default"
_NAME = re.compile(r"samples_p(\d{8})")
_ENSURE_LOCK = 724_113_015  # pg_advisory_xact_lock key: one process makes partitions at once
# DROP TABLE of a partition locks ``samples`` (ACCESS EXCLUSIVE) for a moment; behind a long
# query it would wait and make ingest wait behind it: give up after this, retry next sweep.
DROP_LOCK_TIMEOUT = "2s"


def partition_name(day: int) -> str:
    """``samples_p20261201`` for day 20,788 (UTC days since 1970)."""
    return f"samples_p{(dt.date(1970, 1, 1) + dt.timedelta(days=day)).strftime('%Y%m%d')}"


def partition_day(name: str) -> int | None:
    """The day of a day partition's name (None for any other name)."""
    match = _NAME.fullmatch(name)
    if match is None:
        return None
    return (dt.datetime.strptime(match.group(1), "%Y%m%d").date() - dt.date(1970, 1, 1)).days


def is_partition(name: str) -> bool:
    """Whether a table name is one of samples' partitions (not a table of store/schema.py)."""
    return name == DEFAULT or partition_day(name) is not None


def days(conn: Connection) -> list[int]:
    """The days that have a partition, in order."""
    names = conn.execute(text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = 'samples'::regclass"
    )).scalars()
    return sorted(d for d in (partition_day(n) for n in names) if d is not None)


def ensure(conn: Connection, now_ms: int) -> list[int]:
    """Make the day partitions of yesterday to AHEAD_DAYS ahead that are missing (PostgreSQL;
    nothing on SQLite); returns the days made."""
    if not is_postgres(conn):
        return []
    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ENSURE_LOCK})
    today = now_ms // DAY_MS
    missing = sorted(set(range(today - 1, today + AHEAD_DAYS + 1)) - set(days(conn)))
    for day in missing:
        create(conn, day)
    return missing


def create(conn: Connection, day: int) -> None:
    """Make one day's partition: standalone, filled with the default partition's rows of
    that day, then attached (its indexes are made to match samples' as it attaches)."""
    name = partition_name(day)
    bounds = {"lo": day * DAY_MS, "hi": (day + 1) * DAY_MS}
    conn.execute(text(f"CREATE TABLE {name} (LIKE samples INCLUDING DEFAULTS)"))
    # No insert may reach the default partition until the attach: a row of this day
    # committed there after the move would fail the attach's check of the default.
    conn.execute(text(f"LOCK TABLE {DEFAULT} IN EXCLUSIVE MODE"))
    conn.execute(text(
        f"WITH moved AS (DELETE FROM {DEFAULT} WHERE timestamp_ms >= :lo AND timestamp_ms < :hi"
        f" RETURNING *) INSERT INTO {name} SELECT * FROM moved"
    ), bounds)
    # The CHECK lets ATTACH skip its scan of the new partition; it is redundant afterwards.
    conn.execute(text(
        f"ALTER TABLE {name} ADD CONSTRAINT {name}_day "
        f"CHECK (timestamp_ms >= {bounds['lo']} AND timestamp_ms < {bounds['hi']})"
    ))
    conn.execute(text(
        f"ALTER TABLE samples ATTACH PARTITION {name} "
        f"FOR VALUES FROM ({bounds['lo']}) TO ({bounds['hi']})"
    ))
    conn.execute(text(f"ALTER TABLE {name} DROP CONSTRAINT {name}_day"))


def drop_expired(engine: Engine, cutoff_ms: int) -> int:
    """Purge what ``samples`` holds that was received before ``cutoff_ms``, by partition
    (the module docstring); returns how many rows went. Each partition in its own
    transaction: one whose lock is not had in DROP_LOCK_TIMEOUT waits for the next sweep.
    """
    with write_transaction(engine) as conn:
        expired = [d for d in days(conn) if (d + 1) * DAY_MS <= cutoff_ms]
        purged = _delete_received_before(conn, DEFAULT, cutoff_ms)
    for day in expired:
        try:
            with write_transaction(engine) as conn:
                purged += _purge_partition(conn, partition_name(day), cutoff_ms)
        except _Busy:
            continue
    return purged


class _Busy(Exception):
    """A partition's DROP did not get its lock in time (not an outage: no StoreUnavailable)."""


def _purge_partition(conn: Connection, name: str, cutoff_ms: int) -> int:
    # Every API process sweeps: one at a time, and a partition another one dropped is done.
    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ENSURE_LOCK})
    if conn.execute(text("SELECT to_regclass(:t)"), {"t": name}).scalar() is None:
        return 0
    count, newest = conn.execute(text(f"SELECT count(*), max(received_ms) FROM {name}")).one()
    if newest is not None and newest >= cutoff_ms:
        return _delete_received_before(conn, name, cutoff_ms)
    conn.execute(text(f"SET LOCAL lock_timeout = '{DROP_LOCK_TIMEOUT}'"))
    try:
        conn.execute(text(f"DROP TABLE {name}"))
    except OperationalError as exc:
        if isinstance(exc.orig, LockNotAvailable):
            raise _Busy(name) from exc
        raise
    return int(count)


def _delete_received_before(conn: Connection, table: str, cutoff_ms: int) -> int:
    result = conn.execute(
        text(f"DELETE FROM {table} WHERE received_ms < :cutoff"), {"cutoff": cutoff_ms}
    )
    return int(result.rowcount or 0)
