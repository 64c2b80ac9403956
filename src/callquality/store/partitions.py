"""Leases and checkpoints of the ingest log's partitions (``ingest_partitions``).

A processor owns a partition while its lease runs; it renews the leases it holds and takes
partitions whose lease ran out. Every write of a partition's items checks, in its own
transaction, that the writer still holds the lease (a row lock), so a processor that lost a
partition while it was stalled can never commit a batch of it (fencing).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select, update

from callquality.store import bulk
from callquality.store.db import is_postgres
from callquality.store.schema import ingest_partitions

_T = ingest_partitions.c


def ensure(conn: Connection, partitions: int) -> None:
    """Create the rows of partitions 0..N-1 that do not exist yet."""
    bulk.insert_many(
        conn,
        ingest_partitions,
        [{"partition": p, "owner": None, "lease_until_ms": 0, "checkpoint_seq": 0}
         for p in range(partitions)],
        _keep_existing,
    )


def _keep_existing(stmt: Any) -> Any:
    return stmt.on_conflict_do_nothing(index_elements=["partition"])


def renew_and_claim(
    conn: Connection, owner: str, now_ms: int, lease_ms: int, share: int
) -> list[int]:
    """Renew this owner's leases, give back those beyond ``share`` and take free or expired
    ones up to it (``share`` 0: renew only); returns the partitions it holds now."""
    until = now_ms + lease_ms
    conn.execute(update(ingest_partitions).where(_T.owner == owner).values(lease_until_ms=until))
    mine = conn.execute(select(_T.partition).where(_T.owner == owner)).scalars()
    held = sorted(int(p) for p in mine)
    if len(held) > share > 0:  # more processors now: give the extra partitions back
        extra = held[share:]
        conn.execute(
            update(ingest_partitions)
            .where(_T.partition.in_(extra), _T.owner == owner)
            .values(owner=None, lease_until_ms=0)
        )
        held = held[:share]
    if len(held) < share:
        free = select(_T.partition).where(
            or_(_T.owner.is_(None), _T.lease_until_ms < now_ms)
        ).order_by(_T.partition).limit(share - len(held))
        if is_postgres(conn):
            free = free.with_for_update(skip_locked=True)
        taken = [int(p) for p in conn.execute(free).scalars()]
        if taken:
            conn.execute(
                update(ingest_partitions)
                .where(_T.partition.in_(taken))
                .values(owner=owner, lease_until_ms=until)
            )
            held += taken
    return sorted(held)


def release(conn: Connection, owner: str) -> None:
    """Give up every lease of this owner (a clean shutdown: others take over at once)."""
    conn.execute(
        update(ingest_partitions).where(_T.owner == owner).values(owner=None, lease_until_ms=0)
    )


def live_owners(conn: Connection, now_ms: int) -> int:
    """How many owners hold an unexpired lease."""
    return int(
        conn.execute(
            select(func.count(func.distinct(_T.owner))).where(
                and_(_T.owner.is_not(None), _T.lease_until_ms >= now_ms)
            )
        ).scalar_one()
    )


def fence(conn: Connection, partition: int, owner: str, now_ms: int) -> int | None:
    """Lock the partition's row; its checkpoint if ``owner`` still holds its lease, else None."""
    query = select(_T.owner, _T.lease_until_ms, _T.checkpoint_seq).where(
        _T.partition == partition
    )
    if is_postgres(conn):
        query = query.with_for_update()
    row = conn.execute(query).first()
    if row is None or row.owner != owner or int(row.lease_until_ms) < now_ms:
        return None
    return int(row.checkpoint_seq)


def checkpoint(conn: Connection, partition: int, seq: int) -> None:
    """Record that the partition's items up to stream sequence ``seq`` are stored."""
    conn.execute(
        update(ingest_partitions)
        .where(_T.partition == partition, _T.checkpoint_seq < seq)
        .values(checkpoint_seq=seq)
    )


def checkpoints(conn: Connection, partitions: Iterable[int]) -> dict[int, int]:
    """The checkpoint of each partition."""
    rows = conn.execute(
        select(_T.partition, _T.checkpoint_seq).where(_T.partition.in_(list(partitions)))
    )
    return {int(p): int(s) for p, s in rows}
