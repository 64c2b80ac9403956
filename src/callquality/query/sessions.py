"""Sessions, participants and timelogs, shaped as VideoSDK's sessions API returns them."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select

from callquality.errors import NotFound
from callquality.query.stats import iso_ms
from callquality.store.schema import participant_intervals, participants, sessions

MAX_PER_PAGE = 100


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """A session's identity and bounds."""

    session_id: str
    api_key: str
    room_id: str
    custom_room_id: str | None
    start_ms: int
    last_report_ms: int
    end_ms: int | None

    def status(self, now_ms: int, idle_timeout_s: int) -> str:
        """'ended' once ended explicitly or idle for longer than the idle timeout."""
        if self.end_ms is not None or now_ms - self.last_report_ms > idle_timeout_s * 1000:
            return "ended"
        return "ongoing"

    def ended_at(self, now_ms: int, idle_timeout_s: int) -> int | None:
        """When the session ended (its last report, when it ended by idling), or None."""
        if self.status(now_ms, idle_timeout_s) == "ongoing":
            return None
        return self.end_ms if self.end_ms is not None else self.last_report_ms


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a list, VideoSDK's pageInfo."""

    current_page: int
    per_page: int
    total: int

    @property
    def last_page(self) -> int:
        """The number of the last page (1 for an empty list)."""
        return max(1, math.ceil(self.total / self.per_page))

    def as_json(self) -> dict[str, int]:
        """The ``pageInfo`` object."""
        return {
            "currentPage": self.current_page,
            "perPage": self.per_page,
            "lastPage": self.last_page,
            "total": self.total,
        }


def _info(row: Any) -> SessionInfo:
    return SessionInfo(
        session_id=row.session_id,
        api_key=row.api_key,
        room_id=row.room_id,
        custom_room_id=row.custom_room_id,
        start_ms=row.start_ms,
        last_report_ms=row.last_report_ms,
        end_ms=row.end_ms,
    )


def get_session(conn: Connection, api_key: str, session_id: str) -> SessionInfo:
    """A session of this API key; another key's session is NotFound, as a missing one."""
    row = conn.execute(
        select(sessions).where(
            sessions.c.session_id == session_id, sessions.c.api_key == api_key
        )
    ).first()
    if row is None:
        raise NotFound(f"no session {session_id!r} for this API key; list them at /v2/sessions/")
    return _info(row)


def participants_of(
    conn: Connection, session_ids: list[str]
) -> dict[str, dict[str, str | None]]:
    """{session_id: {participant_id: name}}, participants in id order."""
    if not session_ids:
        return {}
    rows = conn.execute(
        select(participants.c.session_id, participants.c.participant_id, participants.c.name)
        .where(participants.c.session_id.in_(session_ids))
        .order_by(participants.c.session_id, participants.c.participant_id)
    )
    result: dict[str, dict[str, str | None]] = defaultdict(dict)
    for s, p, n in rows:
        result[s][p] = n
    return result


def participant_names(conn: Connection, session_id: str) -> dict[str, str | None]:
    """{participant_id: name} of a session, in id order."""
    rows = conn.execute(
        select(participants.c.participant_id, participants.c.name)
        .where(participants.c.session_id == session_id)
        .order_by(participants.c.participant_id)
    )
    return {r[0]: r[1] for r in rows}


def timelogs(
    conn: Connection, session_ids: list[str], participant_ids: list[str] | None = None
) -> dict[tuple[str, str], list[tuple[int, int]]]:
    """{(session, participant): [(start_ms, end_ms), ...]} in time order."""
    if not session_ids:
        return {}
    query = (
        select(
            participant_intervals.c.session_id,
            participant_intervals.c.participant_id,
            participant_intervals.c.start_ms,
            participant_intervals.c.end_ms,
        )
        .where(participant_intervals.c.session_id.in_(session_ids))
        .order_by(participant_intervals.c.start_ms)
    )
    if participant_ids is not None:
        query = query.where(participant_intervals.c.participant_id.in_(participant_ids))
    result: dict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)
    for s, p, start, end in conn.execute(query):
        result[(s, p)].append((int(start), int(end)))
    return result


def participant_json(
    participant_id: str,
    name: str | None,
    intervals: list[tuple[int, int]],
    still_present: bool,
) -> dict[str, Any]:
    """A participant as VideoSDK shows it; an ongoing last interval has ``end: null``."""
    log = []
    for i, (start, end) in enumerate(intervals):
        last = i == len(intervals) - 1
        log.append({"start": iso_ms(start), "end": None if last and still_present else iso_ms(end)})
    return {"participantId": participant_id, "name": name, "timelog": log}


def sessions_json(
    conn: Connection,
    infos: list[SessionInfo],
    *,
    now_ms: int,
    idle_timeout_s: int,
    participant_gap_s: int,
    base_url: str,
) -> list[dict[str, Any]]:
    """Session objects as GET /v2/sessions/{id} returns them; two queries for any number."""
    ids = [info.session_id for info in infos]
    names = participants_of(conn, ids)
    logs = timelogs(conn, ids)
    bodies = []
    for info in infos:
        status = info.status(now_ms, idle_timeout_s)
        ended = info.ended_at(now_ms, idle_timeout_s)
        people = []
        for p, n in names.get(info.session_id, {}).items():
            log = logs.get((info.session_id, p), [])
            present = _still_present(status, log, now_ms, participant_gap_s)
            people.append(participant_json(p, n, log, present))
        bodies.append(
            {
                "id": info.session_id,
                "roomId": info.room_id,
                "customRoomId": info.custom_room_id,
                "start": iso_ms(info.start_ms),
                "end": iso_ms(ended) if ended is not None else None,
                "status": status,
                "participants": people,
                "links": {
                    "get_room": f"{base_url}/v2/rooms/{info.room_id}",
                    "get_session": f"{base_url}/v2/sessions/{info.session_id}",
                },
            }
        )
    return bodies


def session_json(
    conn: Connection,
    info: SessionInfo,
    *,
    now_ms: int,
    idle_timeout_s: int,
    participant_gap_s: int,
    base_url: str,
) -> dict[str, Any]:
    """A session object as GET /v2/sessions/{id} returns it."""
    return sessions_json(
        conn,
        [info],
        now_ms=now_ms,
        idle_timeout_s=idle_timeout_s,
        participant_gap_s=participant_gap_s,
        base_url=base_url,
    )[0]


def _still_present(
    status: str, intervals: list[tuple[int, int]], now_ms: int, participant_gap_s: int
) -> bool:
    return (
        status == "ongoing"
        and bool(intervals)
        and now_ms - intervals[-1][1] <= participant_gap_s * 1000
    )


def list_sessions(
    conn: Connection,
    api_key: str,
    *,
    now_ms: int,
    idle_timeout_s: int,
    room_id: str | None = None,
    custom_room_id: str | None = None,
    status: str | None = None,
    start_ms: int | None = None,
    end_ms: int | None = None,
    page: int = 1,
    per_page: int = 20,
) -> tuple[list[SessionInfo], Page]:
    """A page of the key's sessions, newest first, with the filters of CONTRACT.md."""
    conditions = [sessions.c.api_key == api_key]
    if room_id is not None:
        conditions.append(sessions.c.room_id == room_id)
    if custom_room_id is not None:
        conditions.append(sessions.c.custom_room_id == custom_room_id)
    idle_cutoff = now_ms - idle_timeout_s * 1000
    if status == "ended":
        conditions.append(
            or_(sessions.c.end_ms.is_not(None), sessions.c.last_report_ms < idle_cutoff)
        )
    elif status == "ongoing":
        conditions.append(
            and_(sessions.c.end_ms.is_(None), sessions.c.last_report_ms >= idle_cutoff)
        )
    if start_ms is not None:
        conditions.append(sessions.c.start_ms >= start_ms)
    if end_ms is not None:
        conditions.append(sessions.c.start_ms <= end_ms)
    where = and_(*conditions)
    total = conn.execute(select(func.count()).select_from(sessions).where(where)).scalar_one()
    rows = conn.execute(
        select(sessions)
        .where(where)
        .order_by(sessions.c.start_ms.desc(), sessions.c.session_id)
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    return [_info(r) for r in rows], Page(page, per_page, int(total))
