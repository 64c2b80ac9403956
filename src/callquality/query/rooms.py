"""Rooms as VideoSDK shows them, derived from a tenant's sessions: a self-hosted collector
does not create rooms, so a room exists here once a report for it has opened a session."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, and_, func, or_, select

from callquality.domain.errors import NotFound
from callquality.query.sessions import Page
from callquality.store.schema import api_keys, sessions


@dataclass(frozen=True, slots=True)
class RoomView:
    """A room: its ids, when its first session started and its last one was last active."""

    api_key: str
    owner_name: str | None  # the API key's name (VideoSDK's ``user.name``)
    room_id: str
    custom_room_id: str | None  # that of the room's latest session that has one
    created_ms: int
    updated_ms: int
    sessions: int


def _views(conn: Connection, api_key: str, room_ids: list[str]) -> list[RoomView]:
    """The rooms of ``room_ids``, in that order (two queries)."""
    if not room_ids:
        return []
    s = sessions.c
    where = and_(s.api_key == api_key, s.room_id.in_(room_ids))
    totals = {
        row.room_id: row
        for row in conn.execute(
            select(
                s.room_id,
                func.min(s.start_ms).label("created_ms"),
                func.max(s.last_report_ms).label("last_report_ms"),
                func.max(s.end_ms).label("end_ms"),
                func.count().label("sessions"),
            ).where(where).group_by(s.room_id)
        )
    }
    custom: dict[str, str] = {}
    for room_id, custom_room_id in conn.execute(
        select(s.room_id, s.custom_room_id)
        .where(where, s.custom_room_id.is_not(None))
        .order_by(s.start_ms, s.session_id)
    ):
        custom[room_id] = custom_room_id  # the latest wins
    name = conn.execute(
        select(api_keys.c.name).where(api_keys.c.api_key == api_key)
    ).scalar_one_or_none()
    return [
        RoomView(
            api_key=api_key,
            owner_name=name,
            room_id=r,
            custom_room_id=custom.get(r),
            created_ms=int(totals[r].created_ms),
            updated_ms=max(int(totals[r].last_report_ms), int(totals[r].end_ms or 0)),
            sessions=int(totals[r].sessions),
        )
        for r in room_ids
        if r in totals
    ]


def list_rooms(
    conn: Connection,
    api_key: str,
    *,
    room_id: str | None = None,
    page: int = 1,
    per_page: int = 20,
) -> tuple[list[RoomView], Page]:
    """A page of the key's rooms, the one with the newest session first."""
    s = sessions.c
    where = s.api_key == api_key if room_id is None else and_(
        s.api_key == api_key, s.room_id == room_id
    )
    total = conn.execute(
        select(func.count(func.distinct(s.room_id))).where(where)
    ).scalar_one()
    newest = func.max(s.start_ms)
    ids = [
        r
        for (r,) in conn.execute(
            select(s.room_id)
            .where(where)
            .group_by(s.room_id)
            .order_by(newest.desc(), s.room_id)
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
    ]
    return _views(conn, api_key, ids), Page(page, per_page, int(total))


def get_room(conn: Connection, api_key: str, room: str) -> RoomView:
    """The key's room by roomId, or else by customRoomId (VideoSDK's ``roomId`` takes either);
    another key's room is NotFound, as a missing one."""
    s = sessions.c
    found = conn.execute(
        select(s.room_id)
        .where(s.api_key == api_key, or_(s.room_id == room, s.custom_room_id == room))
        # A roomId match before a customRoomId match; then the latest session's room.
        .order_by((s.room_id == room).desc(), s.start_ms.desc())
        .limit(1)
    ).scalar_one_or_none()
    views = _views(conn, api_key, [found]) if found is not None else []
    if not views:
        raise NotFound(f"no room {room!r} for this API key; list them at /v2/rooms")
    return views[0]
