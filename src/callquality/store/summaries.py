"""The ``participant_summaries`` table: dirty marks from ingest, refreshed rows, retention."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import (
    Connection,
    and_,
    bindparam,
    func,
    literal_column,
    select,
    update,
)

from callquality.store import bulk
from callquality.store.schema import participant_summaries, samples

Key = tuple[str, str]  # (session, participant)


def mark_dirty_many(
    conn: Connection, api_key: str, rooms: Mapping[Key, str], now_ms: int
) -> None:
    """Note that these participant-sessions ({key: room}) have new samples: one upsert."""
    bulk.insert_many(
        conn,
        participant_summaries,
        [
            {"session_id": s, "participant_id": p, "api_key": api_key, "room_id": room,
             "dirty": 1, "updated_ms": now_ms}
            for (s, p), room in sorted(rooms.items())
        ],
        _dirty_conflict,
    )


def _dirty_conflict(stmt: Any) -> Any:
    # A counter, not a flag: a refresh subtracts what it saw, so a mark made while it read
    # the samples keeps the row dirty.
    return stmt.on_conflict_do_update(
        index_elements=["session_id", "participant_id"],
        set_={"dirty": participant_summaries.c.dirty + literal_column("1")},
    )


def dirty_keys(conn: Connection, api_key: str | None, limit: int) -> list[tuple[str, str, int]]:
    """Up to ``limit`` dirty participant-sessions (of one tenant, or all): (s, p, dirty)."""
    t = participant_summaries.c
    query = select(t.session_id, t.participant_id, t.dirty).where(t.dirty > 0)
    if api_key is not None:
        # Few rows are dirty: the tenant is compared as an expression, so that no index of
        # api_key is taken over the dirty one (SQLite, without ANALYZE, took (api_key, day)
        # and read every row of the tenant: 2 s at 1,000,000 rows).
        query = query.where(t.api_key.concat("") == api_key)
    return [(r.session_id, r.participant_id, r.dirty) for r in conn.execute(query.limit(limit))]


def summary_rows(conn: Connection, keys: Sequence[Key]) -> list[dict[str, Any]]:
    """The stored summaries of these participant-sessions, every column."""
    columns = tuple(c.name for c in participant_summaries.c)
    rows = bulk.select_by_keys(conn, participant_summaries, ("session_id", "participant_id"),
                               keys, columns)
    return [dict(r._mapping) for r in rows]


def sample_rows(conn: Connection, keys: Sequence[Key], columns: tuple[str, ...]) -> list[Any]:
    """The measured samples (``columns`` and the key columns) of these participant-sessions."""
    wanted = ("session_id", "participant_id", *columns)
    rows = bulk.select_by_keys(conn, samples, ("session_id", "participant_id"), keys, wanted)
    return [r for r in rows if r.interval_ms is not None]


_SET = [c.name for c in participant_summaries.c if c.name not in (
    "session_id", "participant_id", "api_key", "room_id", "dirty")]


def save_refreshed(conn: Connection, rows: Iterable[Mapping[str, Any]]) -> None:
    """Write refreshed summaries ({key columns, seen_dirty, the figures}); a row marked
    again since it was read stays dirty."""
    t = participant_summaries
    values = list(rows)
    if not values:
        return
    figures = [n for n in _SET if n in values[0]]
    statement = (
        update(t)
        .where(t.c.session_id == bindparam("k_session"),
               t.c.participant_id == bindparam("k_participant"))
        .values(dirty=t.c.dirty - bindparam("seen_dirty"),
                **{n: bindparam(f"v_{n}") for n in figures})
    )
    conn.execute(statement, [
        {"k_session": v["session_id"], "k_participant": v["participant_id"],
         "seen_dirty": v["seen_dirty"], **{f"v_{n}": v.get(n) for n in figures}}
        for v in values
    ])


def expired(conn: Connection, cutoff_ms: int, limit: int) -> list[dict[str, Any]]:
    """Up to ``limit`` summaries of participant-sessions that ended before ``cutoff_ms``
    and have no pending samples: every column."""
    t = participant_summaries.c
    ended = func.coalesce(t.end_ms, t.updated_ms)
    query = select(participant_summaries).where(and_(t.dirty == 0, ended < cutoff_ms))
    return [dict(r._mapping) for r in conn.execute(query.limit(limit))]


def delete_keys(conn: Connection, keys: Sequence[Key]) -> None:
    """Delete the summaries of these participant-sessions."""
    bulk.delete_by_keys(conn, participant_summaries, ("session_id", "participant_id"), keys)
