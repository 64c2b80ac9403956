"""The outbox: events written in the transaction that made them, read by the dispatcher and
the sweep (docs/webhooks.md)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, delete, exists, func, select, text, update

from callquality.domain.session import Session
from callquality.store import bulk
from callquality.store.db import is_postgres
from callquality.store.schema import (
    events,
    participant_intervals,
    participants,
    sessions,
    webhook_deliveries,
)

_SWEEP_LOCK = 724_113_017  # pg_try_advisory_xact_lock key: one sweep at a time


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event row."""

    event_id: int
    event_key: str
    api_key: str
    session_id: str | None
    participant_id: str | None
    webhook_type: str
    occurred_ms: int
    created_ms: int
    data: str
    endpoint_ids: str | None
    span_start_ms: int | None


def _event(row: Any) -> StoredEvent:
    return StoredEvent(
        event_id=int(row.event_id), event_key=row.event_key, api_key=row.api_key,
        session_id=row.session_id, participant_id=row.participant_id,
        webhook_type=row.webhook_type, occurred_ms=int(row.occurred_ms),
        created_ms=int(row.created_ms), data=row.data, endpoint_ids=row.endpoint_ids,
        span_start_ms=row.span_start_ms,
    )


EVENT_COLUMNS = (
    "event_key", "api_key", "session_id", "participant_id", "webhook_type", "occurred_ms",
    "created_ms", "data", "endpoint_ids", "undispatched", "watch", "span_start_ms",
)


def add_events(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert events (dicts of ``EVENT_COLUMNS``), in order, in one statement; an event whose
    key is stored already is left as it is."""
    bulk.insert_many(conn, events, rows, _events_conflict)


def _events_conflict(stmt: Any) -> Any:
    return stmt.on_conflict_do_nothing(index_elements=["event_key"])


def has_undispatched(conn: Connection) -> bool:
    """Whether any event waits for the dispatcher (a cheap read, through a partial index)."""
    return conn.execute(
        select(events.c.event_id).where(events.c.undispatched == 1).limit(1)
    ).first() is not None


def claim_undispatched(conn: Connection, limit: int) -> list[StoredEvent]:
    """The oldest events not dispatched yet; locked, skipping rows another process holds, on
    PostgreSQL (SQLite's write transaction holds the whole database)."""
    query = (
        select(events).where(events.c.undispatched == 1).order_by(events.c.event_id).limit(limit)
    )
    if is_postgres(conn):
        query = query.with_for_update(skip_locked=True)
    return [_event(r) for r in conn.execute(query)]


def mark_dispatched(conn: Connection, event_ids: Sequence[int]) -> None:
    """The dispatcher made these events' deliveries."""
    if event_ids:
        conn.execute(
            update(events).where(events.c.event_id.in_(list(event_ids))).values(undispatched=None)
        )


def events_by_id(conn: Connection, event_ids: Iterable[int]) -> dict[int, StoredEvent]:
    """Events by id."""
    ids = sorted(set(event_ids))
    if not ids:
        return {}
    rows = conn.execute(select(events).where(events.c.event_id.in_(ids)))
    return {int(r.event_id): _event(r) for r in rows}


@dataclass(frozen=True, slots=True)
class WatchedRow:
    """What the sweep reads of a watched event."""

    event_id: int
    session_id: str | None
    participant_id: str | None
    webhook_type: str
    span_start_ms: int | None


_WATCHED_COLUMNS = (events.c.event_id, events.c.session_id, events.c.participant_id,
                    events.c.webhook_type, events.c.span_start_ms)


def watched(conn: Connection) -> list[WatchedRow]:
    """Started sessions and joined participants whose end the sweep has not seen yet, by
    session, each session's in event order."""
    return _watched(conn, events.c.watch == 1)


def _watched(conn: Connection, where: ColumnElement[bool]) -> list[WatchedRow]:
    rows = conn.execute(
        select(*_WATCHED_COLUMNS).where(where).order_by(events.c.session_id, events.c.event_id)
    )
    return [WatchedRow(int(r[0]), r[1], r[2], r[3], r[4]) for r in rows]


def watched_of_sessions(conn: Connection, session_ids: Sequence[str | None]
                        ) -> list[WatchedRow]:
    """The watched events of some sessions (None: those of no session), as ``watched``."""
    ids = sorted({s for s in session_ids if s is not None})
    where: ColumnElement[bool] = events.c.session_id.in_(ids)
    if None in session_ids:
        where = where | events.c.session_id.is_(None)
    return _watched(conn, (events.c.watch == 1) & where)


def unwatch(conn: Connection, event_ids: Sequence[int]) -> None:
    """The sweep saw these sessions end or participants leave."""
    if event_ids:
        conn.execute(
            update(events).where(events.c.event_id.in_(list(event_ids))).values(watch=None)
        )


def try_sweep_lock(conn: Connection) -> bool:
    """Take the sweep's lock for this transaction, unless another process holds it
    (PostgreSQL; on SQLite the write transaction is the lock)."""
    if not is_postgres(conn):
        return True
    return bool(
        conn.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": _SWEEP_LOCK}).scalar()
    )


def purge_before(conn: Connection, cutoff_ms: int) -> int:
    """Delete deliveries and events written before ``cutoff_ms`` (events still watched or
    waiting for dispatch stay); returns how many events went."""
    conn.execute(delete(webhook_deliveries).where(webhook_deliveries.c.created_ms < cutoff_ms))
    pending = exists().where(
        webhook_deliveries.c.event_id == events.c.event_id,
    )
    result = conn.execute(
        delete(events).where(
            events.c.created_ms < cutoff_ms,
            events.c.watch.is_(None),
            events.c.undispatched.is_(None),
            ~pending,
        )
    )
    return int(result.rowcount or 0)


def latest_event_id(conn: Connection) -> int:
    """The newest event's id (0 when there is none)."""
    return int(conn.execute(select(func.coalesce(func.max(events.c.event_id), 0))).scalar_one())


def event_id_of(conn: Connection, event_key: str) -> int:
    """The id of the event with this key."""
    return int(conn.execute(
        select(events.c.event_id).where(events.c.event_key == event_key)
    ).scalar_one())


def participant_names(
    conn: Connection, keys: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], str | None]:
    """The names of (session, participant)s."""
    rows = bulk.select_by_keys(conn, participants, ("session_id", "participant_id"),
                               sorted(set(keys)), ("session_id", "participant_id", "name"))
    return {(r[0], r[1]): r[2] for r in rows}


def sessions_by_id(conn: Connection, session_ids: Iterable[str]) -> dict[str, Session]:
    """Sessions by id."""
    ids = sorted(set(session_ids))
    if not ids:
        return {}
    rows = conn.execute(select(sessions).where(sessions.c.session_id.in_(ids)))
    return {
        r.session_id: Session(
            session_id=r.session_id, api_key=r.api_key, room_id=r.room_id,
            custom_room_id=r.custom_room_id, start_ms=r.start_ms,
            last_report_ms=r.last_report_ms, end_ms=r.end_ms,
            rollup_origin_ms=r.rollup_origin_ms,
        )
        for r in rows
    }


def intervals_of_sessions(
    conn: Connection, session_ids: Iterable[str]
) -> dict[tuple[str, str], list[tuple[int, int]]]:
    """The presence intervals of every participant of some sessions, sorted."""
    ids = sorted(set(session_ids))
    found: dict[tuple[str, str], list[tuple[int, int]]] = {}
    if not ids:
        return found
    rows = conn.execute(
        select(participant_intervals.c.session_id, participant_intervals.c.participant_id,
               participant_intervals.c.start_ms, participant_intervals.c.end_ms)
        .where(participant_intervals.c.session_id.in_(ids))
        .order_by(participant_intervals.c.session_id, participant_intervals.c.participant_id,
                  participant_intervals.c.start_ms)
    )
    for s, p, start, end in rows:
        found.setdefault((s, p), []).append((int(start), int(end)))
    return found
