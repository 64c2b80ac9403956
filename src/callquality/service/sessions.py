"""Ending sessions (CONTRACT.md: ``POST /v2/sessions/end``)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, Engine

from callquality.config import Settings
from callquality.domain.errors import InvalidInput, NotFound
from callquality.domain.session import Session
from callquality.query import sessions as q_sessions
from callquality.service import sweep
from callquality.store import writes
from callquality.store.db import write_transaction


def end_session(
    engine: Engine,
    settings: Settings,
    api_key: str,
    *,
    room: str | None,
    custom_room_id: str | None,
    session_id: str | None,
    now_ms: int,
    authorise: Callable[[Session], None],
) -> q_sessions.SessionView:
    """End a room's latest session, or the given one; ``room`` may hold a roomId or a
    customRoomId, as VideoSDK's ``roomId`` does. ``authorise`` is called with the session
    before anything is written (it raises if the caller may not end it)."""
    if room is None and custom_room_id is None and session_id is None:
        raise InvalidInput("send roomId or customRoomId (and optionally sessionId)")
    with write_transaction(engine) as conn:
        session = _session_to_end(conn, settings, api_key, room, custom_room_id, session_id,
                                  now_ms)
        authorise(session)
        if session.end_ms is None:
            # An ongoing session ends now; one that went idle ends at its last report.
            ongoing = session.status(now_ms, settings.idle_timeout_s) == "ongoing"
            end_ms = now_ms if ongoing else session.last_report_ms
            writes.end_session(conn, session.session_id, end_ms)
            session.end_ms = end_ms
            sweep.on_session_end(conn, settings, session, end_ms, now_ms)  # the webhooks'
        return q_sessions.session_views(
            conn, [session], now_ms=now_ms, idle_timeout_s=settings.idle_timeout_s,
            participant_gap_s=settings.participant_gap_s,
        )[0]


def _session_to_end(
    conn: Connection,
    settings: Settings,
    api_key: str,
    room: str | None,
    custom_room_id: str | None,
    session_id: str | None,
    now_ms: int,
) -> Session:
    if session_id is not None:
        session = q_sessions.get_session(conn, api_key, session_id)
        if room is not None and room not in (session.room_id, session.custom_room_id):
            raise InvalidInput(
                f"sessionId {session_id!r} belongs to another room than {room!r}; send the "
                "session's own roomId, or only the sessionId"
            )
        return session
    found: list[Session] = []
    if room is not None:
        found, _ = q_sessions.list_sessions(
            conn, api_key, now_ms=now_ms, idle_timeout_s=settings.idle_timeout_s,
            room_id=room, per_page=1,
        )
    if not found:
        # VideoSDK's roomId takes "your roomId or customRoomId".
        found, _ = q_sessions.list_sessions(
            conn, api_key, now_ms=now_ms, idle_timeout_s=settings.idle_timeout_s,
            custom_room_id=custom_room_id if custom_room_id is not None else room, per_page=1,
        )
    if not found:
        name = room if room is not None else custom_room_id
        raise NotFound(f"room {name!r} has no session for this API key")
    return found[0]
