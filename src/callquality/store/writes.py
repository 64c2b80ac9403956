"""The statements ingest needs, each one function over an open write transaction."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, and_, delete, select, text, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite

from callquality.store import rollups
from callquality.store.db import is_postgres
from callquality.store.schema import (
    participant_intervals,
    participants,
    sample_rollups,
    samples,
    session_rollups,
    sessions,
    stream_states,
)


def dialect_insert(conn: Connection, table: Table) -> Any:
    """An INSERT that knows ON CONFLICT, for SQLite or PostgreSQL."""
    return (postgresql.insert if is_postgres(conn) else sqlite.insert)(table)


@dataclass(slots=True)
class SessionRow:
    """A session as ingest sees it (mutable while the batch is assigned)."""

    session_id: str
    api_key: str
    room_id: str
    custom_room_id: str | None
    start_ms: int
    last_report_ms: int
    end_ms: int | None
    is_new: bool = False
    touched: bool = False
    rollup_origin_ms: int | None = None  # None: the session has no rollups (schema.py)


def lock_room(conn: Connection, api_key: str, room_id: str) -> None:
    """Serialise ingest of one room across API processes (PostgreSQL; SQLite locks all)."""
    if is_postgres(conn):
        digest = hashlib.blake2b(f"{api_key}/{room_id}".encode(), digest_size=8).digest()
        key = int.from_bytes(digest, "big", signed=True)
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})


def _session_row(row: Any) -> SessionRow:
    return SessionRow(
        session_id=row.session_id,
        api_key=row.api_key,
        room_id=row.room_id,
        custom_room_id=row.custom_room_id,
        start_ms=row.start_ms,
        last_report_ms=row.last_report_ms,
        end_ms=row.end_ms,
        rollup_origin_ms=row.rollup_origin_ms,
    )


def latest_session(conn: Connection, api_key: str, room_id: str) -> SessionRow | None:
    """The room's most recent session, ended or not."""
    row = conn.execute(
        select(sessions)
        .where(sessions.c.api_key == api_key, sessions.c.room_id == room_id)
        .order_by(sessions.c.start_ms.desc())
        .limit(1)
    ).first()
    return _session_row(row) if row else None


def session_by_id(conn: Connection, session_id: str) -> SessionRow | None:
    """A session by its id, whichever API key owns it."""
    row = conn.execute(select(sessions).where(sessions.c.session_id == session_id)).first()
    return _session_row(row) if row else None


def new_session_id() -> str:
    """A 24-hex-digit id, the shape of VideoSDK's session ids."""
    return secrets.token_hex(12)


def save_sessions(conn: Connection, rows: Iterable[SessionRow]) -> None:
    """Insert new sessions and move the bounds of touched ones."""
    for row in rows:
        if row.is_new:
            conn.execute(
                sessions.insert().values(
                    session_id=row.session_id,
                    api_key=row.api_key,
                    room_id=row.room_id,
                    custom_room_id=row.custom_room_id,
                    start_ms=row.start_ms,
                    last_report_ms=row.last_report_ms,
                    end_ms=row.end_ms,
                    rollup_origin_ms=row.rollup_origin_ms,
                )
            )
        elif row.touched:
            conn.execute(
                update(sessions)
                .where(sessions.c.session_id == row.session_id)
                .values(
                    start_ms=row.start_ms,
                    last_report_ms=row.last_report_ms,
                    custom_room_id=row.custom_room_id,
                )
            )


def upsert_participants(
    conn: Connection, api_key: str, session_id: str, names: Mapping[str, str | None]
) -> None:
    """Record participants; a name sent later replaces an older one."""
    if not names:
        return
    stmt = dialect_insert(conn, participants)
    stmt = stmt.on_conflict_do_update(
        index_elements=["session_id", "participant_id"],
        set_={"name": stmt.excluded.name},
        where=stmt.excluded.name.is_not(None),
    )
    conn.execute(
        stmt,
        [
            {"session_id": session_id, "participant_id": p, "api_key": api_key, "name": n}
            for p, n in names.items()
        ],
    )


def existing_sample_keys(
    conn: Connection, session_id: str, keys: Sequence[tuple[str, str, int]]
) -> set[tuple[str, str, int]]:
    """Which (participant, peer connection, timestamp) of a batch are stored already."""
    if not keys:
        return set()
    found: set[tuple[str, str, int]] = set()
    cols = (samples.c.participant_id, samples.c.peer_connection_id, samples.c.timestamp_ms)
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        rows = conn.execute(
            select(*cols).where(samples.c.session_id == session_id, tuple_(*cols).in_(chunk))
        )
        found.update((r[0], r[1], int(r[2])) for r in rows)
    return found


def load_states(
    conn: Connection, session_id: str, streams: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], str]:
    """The stored counter state (JSON text) of each (participant, peer connection)."""
    wanted = list(set(streams))
    if not wanted:
        return {}
    cols = (stream_states.c.participant_id, stream_states.c.peer_connection_id)
    query = select(*cols, stream_states.c.state).where(
        stream_states.c.session_id == session_id, tuple_(*cols).in_(wanted)
    )
    if is_postgres(conn):
        query = query.with_for_update()
    return {(r[0], r[1]): r[2] for r in conn.execute(query)}


def save_states(
    conn: Connection,
    session_id: str,
    states: Mapping[tuple[str, str], tuple[int, str]],
) -> None:
    """Store the newest counter state of each stream: {stream: (timestamp_ms, json)}."""
    if not states:
        return
    stmt = dialect_insert(conn, stream_states)
    stmt = stmt.on_conflict_do_update(
        index_elements=["session_id", "participant_id", "peer_connection_id"],
        set_={"timestamp_ms": stmt.excluded.timestamp_ms, "state": stmt.excluded.state},
    )
    conn.execute(
        stmt,
        [
            {
                "session_id": session_id,
                "participant_id": p,
                "peer_connection_id": pc,
                "timestamp_ms": ts,
                "state": state,
            }
            for (p, pc), (ts, state) in states.items()
        ],
    )


def insert_samples(
    conn: Connection, rows: Sequence[dict[str, Any]], rollup_origin_ms: int | None = None
) -> None:
    """Insert new sample rows of one session, and add them to its rollups if it has them.

    The rows must not be stored yet (ingest checks under its lock): a row whose key exists
    is left as it is, but would be counted twice in the rollups.
    """
    if not rows:
        return
    stmt = dialect_insert(conn, samples).on_conflict_do_nothing(
        index_elements=["session_id", "participant_id", "peer_connection_id", "timestamp_ms"]
    )
    conn.execute(stmt, list(rows))
    if rollup_origin_ms is not None:
        rollups.add_samples(conn, rows, rollup_origin_ms)


def load_intervals(
    conn: Connection, session_id: str, participant_ids: Iterable[str]
) -> dict[str, list[tuple[int, int]]]:
    """Each participant's presence intervals, sorted."""
    ids = list(set(participant_ids))
    result: dict[str, list[tuple[int, int]]] = {p: [] for p in ids}
    if not ids:
        return result
    rows = conn.execute(
        select(
            participant_intervals.c.participant_id,
            participant_intervals.c.start_ms,
            participant_intervals.c.end_ms,
        )
        .where(
            participant_intervals.c.session_id == session_id,
            participant_intervals.c.participant_id.in_(ids),
        )
        .order_by(participant_intervals.c.start_ms)
    )
    for p, start, end in rows:
        result[p].append((int(start), int(end)))
    return result


def replace_intervals(
    conn: Connection, session_id: str, changed: Mapping[str, list[tuple[int, int]]]
) -> None:
    """Rewrite the intervals of the participants whose intervals changed (two statements)."""
    if not changed:
        return
    ids = list(changed)
    for start in range(0, len(ids), 500):
        conn.execute(
            delete(participant_intervals).where(
                and_(
                    participant_intervals.c.session_id == session_id,
                    participant_intervals.c.participant_id.in_(ids[start : start + 500]),
                )
            )
        )
    rows = [
        {"session_id": session_id, "participant_id": p, "start_ms": start, "end_ms": end}
        for p, intervals in changed.items()
        for start, end in intervals
    ]
    if rows:
        conn.execute(participant_intervals.insert(), rows)


def end_session(conn: Connection, session_id: str, end_ms: int) -> None:
    """Mark a session ended at ``end_ms``."""
    conn.execute(
        update(sessions).where(sessions.c.session_id == session_id).values(end_ms=end_ms)
    )


def purge_samples_before(conn: Connection, cutoff_ms: int) -> int:
    """Delete samples received before ``cutoff_ms``, and their rollups; returns how many.

    A rollup minute goes when its newest sample does: a minute whose samples straddle the
    cutoff keeps its older samples' part until the next purge (at most one minute's worth).
    """
    result = conn.execute(delete(samples).where(samples.c.received_ms < cutoff_ms))
    conn.execute(delete(sample_rollups).where(sample_rollups.c.received_ms < cutoff_ms))
    conn.execute(delete(session_rollups).where(session_rollups.c.received_ms < cutoff_ms))
    return int(result.rowcount or 0)
