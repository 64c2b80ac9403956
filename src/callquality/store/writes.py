"""The statements ingest needs, each one function over an open write transaction."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import orjson
from sqlalchemy import Connection, bindparam, delete, func, select, text, update

from callquality.domain.session import Session
from callquality.store import bulk, rollups, series_rollups
from callquality.store.db import is_postgres
from callquality.store.schema import (
    participant_intervals,
    participants,
    sample_rollups,
    samples,
    score_input_rollups,
    series_rollups_pending,
    session_rollups,
    session_rollups_pending,
    session_warnings,
    sessions,
    stream_states,
)
from callquality.store.schema import series_rollups as series_rows


def lock_rooms(conn: Connection, api_key: str, room_ids: Sequence[str]) -> None:
    """Take the ingest locks of several rooms (one statement), in ``room_ids`` order: every
    caller passes them sorted, so two requests sharing rooms never wait on each other in a
    cycle."""
    if is_postgres(conn) and room_ids:
        keys = [
            int.from_bytes(
                hashlib.blake2b(f"{api_key}/{room_id}".encode(), digest_size=8).digest(),
                "big",
                signed=True,
            )
            for room_id in room_ids
        ]
        # unnest yields the array in order, and each row takes its lock before the next.
        conn.execute(_LOCK_ROOMS, {"keys": keys})


_LOCK_ROOMS = text("SELECT pg_advisory_xact_lock(k) FROM unnest(CAST(:keys AS bigint[])) AS k")


def _session_row(row: Any) -> Session:
    return Session(
        session_id=row.session_id,
        api_key=row.api_key,
        room_id=row.room_id,
        custom_room_id=row.custom_room_id,
        start_ms=row.start_ms,
        last_report_ms=row.last_report_ms,
        end_ms=row.end_ms,
        rollup_origin_ms=row.rollup_origin_ms,
    )


def latest_sessions(
    conn: Connection, api_key: str, room_ids: Sequence[str]
) -> dict[str, Session]:
    """Each room's most recent session, ended or not (rooms without one are left out)."""
    if not room_ids:
        return {}
    latest: dict[str, Session] = {}
    for row in conn.execute(_LATEST_SESSIONS, {"api_key": api_key, "rooms": list(room_ids)}):
        old = latest.get(row.room_id)
        # Two sessions of a room that started in the same millisecond: the larger id, as
        # a tie-break that every process makes alike.
        if old is None or (row.start_ms, row.session_id) > (old.start_ms, old.session_id):
            latest[row.room_id] = _session_row(row)
    return latest


def _latest_sessions() -> Any:
    newer = sessions.alias("newer")
    starts = (
        select(func.max(newer.c.start_ms))
        .where(newer.c.api_key == sessions.c.api_key, newer.c.room_id == sessions.c.room_id)
        .scalar_subquery()
    )
    return select(sessions).where(
        sessions.c.api_key == bindparam("api_key"),
        sessions.c.room_id.in_(bindparam("rooms", expanding=True)),
        sessions.c.start_ms == starts,
    )


_LATEST_SESSIONS = _latest_sessions()


def session_by_id(conn: Connection, session_id: str) -> Session | None:
    """A session by its id, whichever API key owns it."""
    row = conn.execute(select(sessions).where(sessions.c.session_id == session_id)).first()
    return _session_row(row) if row else None


def new_session_id() -> str:
    """A 24-hex-digit id, the shape of VideoSDK's session ids."""
    return secrets.token_hex(12)


def save_session_warnings(conn: Connection, session_id: str, warnings: Sequence[str]) -> None:
    """Keep what an import found wrong with a dump, with its session."""
    if warnings:
        conn.execute(
            session_warnings.insert().values(
                session_id=session_id, warnings=orjson.dumps(list(warnings)).decode()
            )
        )


def end_session(conn: Connection, session_id: str, end_ms: int) -> None:
    """Mark a session ended at ``end_ms``, and write its pending series buckets."""
    conn.execute(
        update(sessions).where(sessions.c.session_id == session_id).values(end_ms=end_ms)
    )
    series_rollups.flush_session(conn, session_id)


def purge_samples_before(conn: Connection, cutoff_ms: int) -> int:
    """Delete samples received before ``cutoff_ms``, and their rollups; returns how many
    samples. On PostgreSQL the rollups only: its samples go by whole partitions
    (store/sample_partitions.py, ``drop_expired``).

    A rollup minute goes when its newest sample does: a minute whose samples straddle the
    cutoff keeps its older samples' part until the next purge (at most one minute's worth).
    """
    purged = 0
    if not is_postgres(conn):
        result = conn.execute(delete(samples).where(samples.c.received_ms < cutoff_ms))
        purged = int(result.rowcount or 0)
    conn.execute(delete(sample_rollups).where(sample_rollups.c.received_ms < cutoff_ms))
    conn.execute(delete(session_rollups).where(session_rollups.c.received_ms < cutoff_ms))
    conn.execute(
        delete(score_input_rollups).where(score_input_rollups.c.received_ms < cutoff_ms)
    )
    # A pending minute whose participant rows are all gone has nothing left to compute.
    left = select(sample_rollups.c.bucket).where(
        sample_rollups.c.session_id == session_rollups_pending.c.session_id,
        sample_rollups.c.bucket == session_rollups_pending.c.bucket,
    )
    conn.execute(delete(session_rollups_pending).where(~left.exists()))
    conn.execute(delete(series_rows).where(series_rows.c.received_ms < cutoff_ms))
    # Pending buckets of sessions with no participant rows left: nothing left to compute.
    rest = select(sample_rollups.c.bucket).where(
        sample_rollups.c.session_id == series_rollups_pending.c.session_id)
    conn.execute(delete(series_rollups_pending).where(~rest.exists()))
    return purged


# The same statements for all the sessions of a request at once: one statement each (per
# chunk of keys), where the functions above take one session.

StreamKey = tuple[str, str, str]  # (session, participant, peer connection)


def existing_sample_keys_many(
    conn: Connection, keys: Sequence[tuple[str, str, str, int]]
) -> set[tuple[str, str, str, int]]:
    """Which (session, participant, peer connection, timestamp) are stored already."""
    rows = bulk.select_by_keys(conn, samples, _SAMPLE_KEY, keys, _SAMPLE_KEY)
    return {(r[0], r[1], r[2], int(r[3])) for r in rows}


_SAMPLE_KEY = ("session_id", "participant_id", "peer_connection_id", "timestamp_ms")
_STREAM_KEY = ("session_id", "participant_id", "peer_connection_id")


def load_states_many(
    conn: Connection, streams: Iterable[StreamKey], *, for_update: bool = True
) -> dict[StreamKey, str]:
    """The stored counter state (JSON text) of each stream; locked on PostgreSQL unless
    ``for_update`` is false."""
    rows = bulk.select_by_keys(
        conn, stream_states, _STREAM_KEY, sorted(set(streams)), (*_STREAM_KEY, "state"),
        for_update=for_update,
    )
    return {(r[0], r[1], r[2]): r[3] for r in rows}


def save_states_many(conn: Connection, states: Mapping[StreamKey, tuple[int, str]]) -> None:
    """Store the newest counter state of each stream: {stream: (timestamp_ms, json)}."""
    bulk.insert_many(
        conn,
        stream_states,
        [
            {"session_id": s, "participant_id": p, "peer_connection_id": pc,
             "timestamp_ms": ts, "state": state}
            for (s, p, pc), (ts, state) in states.items()
        ],
        _states_conflict,
    )


def _states_conflict(stmt: Any) -> Any:
    return stmt.on_conflict_do_update(
        index_elements=["session_id", "participant_id", "peer_connection_id"],
        set_={"timestamp_ms": stmt.excluded.timestamp_ms, "state": stmt.excluded.state},
    )


def upsert_participants_many(
    conn: Connection, api_key: str, names: Mapping[tuple[str, str], str | None]
) -> None:
    """Record participants {(session, participant): name}; a later name replaces an older."""
    bulk.insert_many(
        conn,
        participants,
        [
            {"session_id": s, "participant_id": p, "api_key": api_key, "name": n}
            for (s, p), n in names.items()
        ],
        _participants_conflict,
    )


def _participants_conflict(stmt: Any) -> Any:
    return stmt.on_conflict_do_update(
        index_elements=["session_id", "participant_id"],
        set_={"name": stmt.excluded.name},
        # Not rewritten when the name is the one stored (nearly every report): PostgreSQL
        # writes no new row version then, and neither database an unchanged row.
        where=stmt.excluded.name.is_not(None)
        & participants.c.name.is_distinct_from(stmt.excluded.name),
    )


def insert_samples_many(
    conn: Connection,
    rows: Sequence[dict[str, Any]],
    rollup_origins: Mapping[str, int | None],
    *,
    defer_series: bool = False,
) -> series_rollups.Keys:
    """Insert new sample rows of several sessions, and add them to the rollups of each
    session that has them (``rollup_origins``: session -> its origin, or None). With
    ``defer_series``, the series buckets these rows close are returned, pending, for the
    caller to write after its commit (store/series_rollups.py).

    The rows must not be stored yet (ingest checks under its lock): a row whose key exists
    raises IntegrityError, and nothing of the transaction is stored.
    """
    if not rows:
        return []
    bulk.copy_rows(conn, samples, rows)
    by_session: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        if rollup_origins.get(row["session_id"]) is not None:
            by_session.setdefault(row["session_id"], []).append(row)
    with_origins = {s: (r, int(rollup_origins[s] or 0)) for s, r in by_session.items()}
    rollups.add_samples_many(conn, with_origins)
    return series_rollups.add_samples_many(conn, with_origins, defer=defer_series)


def load_intervals_many(
    conn: Connection, keys: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], list[tuple[int, int]]]:
    """Each (session, participant)'s presence intervals, sorted."""
    result: dict[tuple[str, str], list[tuple[int, int]]] = {k: [] for k in keys}
    rows = bulk.select_by_keys(
        conn, participant_intervals, ("session_id", "participant_id"), list(result),
        ("session_id", "participant_id", "start_ms", "end_ms"),
    )
    for s, p, start, end in rows:
        result[(s, p)].append((int(start), int(end)))
    for intervals in result.values():
        intervals.sort()
    return result


def save_intervals_many(
    conn: Connection,
    before: Mapping[tuple[str, str], list[tuple[int, int]]],
    after: Mapping[tuple[str, str], list[tuple[int, int]]],
) -> None:
    """Store the new intervals of (session, participant)s, given those stored (``before``).

    An interval is keyed by its start: one that grew is updated, one that was merged into
    another is deleted (rare: late data bridging a gap), a new one is inserted.
    """
    gone = [
        (s, p, start)
        for (s, p), intervals in after.items()
        for start in {a for a, _ in before.get((s, p), [])} - {a for a, _ in intervals}
    ]
    bulk.delete_by_keys(
        conn, participant_intervals, ("session_id", "participant_id", "start_ms"), gone
    )
    rows = [
        {"session_id": s, "participant_id": p, "start_ms": a, "end_ms": b}
        for (s, p), intervals in after.items()
        for a, b in intervals
        if (a, b) not in before.get((s, p), ())
    ]
    bulk.insert_many(conn, participant_intervals, rows, _intervals_conflict)


def _intervals_conflict(stmt: Any) -> Any:
    return stmt.on_conflict_do_update(
        index_elements=["session_id", "participant_id", "start_ms"],
        set_={"end_ms": stmt.excluded.end_ms},
    )


def save_sessions_many(conn: Connection, rows: Iterable[Session]) -> None:
    """Insert new sessions and move the bounds of touched ones (two statements at most)."""
    new = [r for r in rows if r.is_new]
    touched = [r for r in rows if not r.is_new and r.touched]
    if new:
        conn.execute(
            sessions.insert(),
            [
                {"session_id": r.session_id, "api_key": r.api_key, "room_id": r.room_id,
                 "custom_room_id": r.custom_room_id, "start_ms": r.start_ms,
                 "last_report_ms": r.last_report_ms, "end_ms": r.end_ms,
                 "rollup_origin_ms": r.rollup_origin_ms,
                 # score_input_rollups and series_rollups from its first sample, when it has
                 # rollups at all
                 "input_rollups": 1 if r.rollup_origin_ms is not None else None,
                 "series_rollups": 1 if r.rollup_origin_ms is not None else None}
                for r in new
            ],
        )
    if touched:
        conn.execute(
            update(sessions)
            .where(sessions.c.session_id == bindparam("b_session_id"))
            .values(
                start_ms=bindparam("b_start_ms"),
                last_report_ms=bindparam("b_last_report_ms"),
                custom_room_id=bindparam("b_custom_room_id"),
            ),
            [
                {"b_session_id": r.session_id, "b_start_ms": r.start_ms,
                 "b_last_report_ms": r.last_report_ms, "b_custom_room_id": r.custom_room_id}
                for r in touched
            ],
        )
