"""Sessions, participants and timelogs as dataclasses; ``api/render.py`` shapes them as
VideoSDK's sessions API does."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, and_, func, or_, select

from callquality.domain.client import EMPTY, ClientInfo
from callquality.domain.errors import NotFound
from callquality.domain.session import Session, Status
from callquality.domain.session_ids import candidate_ids
from callquality.store import clients
from callquality.store.schema import (
    participant_intervals,
    participants,
    sample_rollups,
    samples,
    session_warnings,
    sessions,
)

MAX_PER_PAGE = 100


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a list (VideoSDK's pageInfo)."""

    current_page: int
    per_page: int
    total: int

    @property
    def last_page(self) -> int:
        """The number of the last page (1 for an empty list)."""
        return max(1, math.ceil(self.total / self.per_page))

    def slice(self, items: list[Any]) -> list[Any]:
        """This page's part of the whole list."""
        return items[(self.current_page - 1) * self.per_page : self.current_page * self.per_page]


@dataclass(frozen=True, slots=True)
class Scores:
    """Average quality scores (docs/metrics.md: "Averages of a session and a participant")."""

    audio_mos: float | None = None
    video_vq: float | None = None


@dataclass(frozen=True, slots=True)
class ParticipantView:
    """A participant of a session: its timelog (``end`` None while present), averages,
    whether it is present now, and its client (device, SDK, location, connection)."""

    participant_id: str
    name: str | None
    timelog: tuple[tuple[int, int | None], ...]
    scores: Scores
    present: bool = False
    client: ClientInfo = EMPTY


@dataclass(frozen=True, slots=True)
class SessionView:
    """A session with its status and participants, as of ``now``."""

    session: Session
    status: Status
    ended_ms: int | None
    participants: tuple[ParticipantView, ...]
    scores: Scores
    # Seconds in which at least one participant was present (None when only some of the
    # participants were read: a page of them).
    active_duration_s: int | None = None
    warnings: tuple[str, ...] = ()  # what its import found wrong with the dump


def _session(row: Any) -> Session:
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


def get_session(conn: Connection, api_key: str, session_id: str) -> Session:
    """A session of this API key; another key's session is NotFound, as a missing one.

    ``session_id`` is the id the tenant knows; it may be stored scoped (domain/session_ids.py).
    """
    ids = candidate_ids(api_key, session_id)
    rows = {
        r.session_id: r
        for r in conn.execute(
            select(sessions).where(sessions.c.session_id.in_(ids), sessions.c.api_key == api_key)
        )
    }
    row = next((rows[i] for i in ids if i in rows), None)
    if row is None:
        raise NotFound(f"no session {session_id!r} for this API key; list them at /v2/sessions/")
    return _session(row)


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
    return participants_of(conn, [session_id]).get(session_id, {})


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


def participant_scores(
    conn: Connection, infos: list[Session]
) -> dict[tuple[str, str], Scores]:
    """Each participant's average scores: the mean of its interval scores over the whole
    session (docs/metrics.md), from the minute rollups where the session has them."""
    with_rollups = [i.session_id for i in infos if i.rollup_origin_ms is not None]
    without = [i.session_id for i in infos if i.rollup_origin_ms is None]
    out: dict[tuple[str, str], Scores] = {}
    if with_rollups:
        r = sample_rollups.c
        rows = conn.execute(
            select(
                r.session_id,
                r.participant_id,
                (func.sum(r.audio_mos_sum) / func.nullif(func.sum(r.audio_mos_n), 0)),
                (func.sum(r.video_vq_sum) / func.nullif(func.sum(r.video_vq_n), 0)),
            )
            .where(r.session_id.in_(with_rollups))
            .group_by(r.session_id, r.participant_id)
        )
        out.update({(s, p): Scores(_rounded(a), _rounded(v)) for s, p, a, v in rows})
    if without:
        rows = conn.execute(
            select(
                samples.c.session_id,
                samples.c.participant_id,
                func.avg(samples.c.audio_mos),
                func.avg(samples.c.video_vq),
            )
            .where(samples.c.session_id.in_(without), samples.c.interval_ms.is_not(None))
            .group_by(samples.c.session_id, samples.c.participant_id)
        )
        out.update({(s, p): Scores(_rounded(a), _rounded(v)) for s, p, a, v in rows})
    return out


def active_duration_s(logs: list[list[tuple[int, int]]]) -> int:
    """Whole seconds covered by at least one of the timelogs' intervals."""
    covered_ms = 0
    end_ms: int | None = None
    for start, end in sorted(span for log in logs for span in log):
        if end_ms is None or start > end_ms:
            covered_ms += end - start
            end_ms = end
        elif end > end_ms:
            covered_ms += end - end_ms
            end_ms = end
    return covered_ms // 1000


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(float(value), 2)


def _mean(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return round(sum(known) / len(known), 2) if known else None


def session_warnings_of(conn: Connection, session_ids: list[str]) -> dict[str, tuple[str, ...]]:
    """{session_id: warnings} of the imported sessions among these that have any."""
    if not session_ids:
        return {}
    rows = conn.execute(
        select(session_warnings.c.session_id, session_warnings.c.warnings).where(
            session_warnings.c.session_id.in_(session_ids)
        )
    )
    return {s: tuple(orjson.loads(w)) for s, w in rows}


def session_views(
    conn: Connection,
    infos: list[Session],
    *,
    now_ms: int,
    idle_timeout_s: int,
    participant_gap_s: int,
    participant_ids: list[str] | None = None,
) -> list[SessionView]:
    """Sessions with their participants, timelogs, averages and clients; four queries for
    any number. ``participant_ids`` limits the participants shown (a page of them)."""
    ids = [info.session_id for info in infos]
    names = participants_of(conn, ids)
    logs = timelogs(conn, ids, participant_ids)
    scores = participant_scores(conn, infos)
    known = clients.of_sessions(conn, ids, participant_ids)
    wanted = set(participant_ids) if participant_ids is not None else None
    notes = session_warnings_of(conn, ids)
    views = []
    for info in infos:
        people = []
        for p, n in names.get(info.session_id, {}).items():
            if wanted is not None and p not in wanted:
                continue
            log = logs.get((info.session_id, p), [])
            present = info.still_present(log, now_ms, idle_timeout_s, participant_gap_s)
            timelog = tuple(
                (start, None if present and i == len(log) - 1 else end)
                for i, (start, end) in enumerate(log)
            )
            averages = scores.get((info.session_id, p), Scores())
            client = known.get((info.session_id, p), EMPTY)
            people.append(ParticipantView(p, n, timelog, averages, present, client))
        session_scores = [scores[k] for k in scores if k[0] == info.session_id]
        active = None
        if participant_ids is None:
            active = active_duration_s(
                [logs.get((info.session_id, p), []) for p in names.get(info.session_id, {})]
            )
        views.append(
            SessionView(
                session=info,
                status=info.status(now_ms, idle_timeout_s),
                ended_ms=info.ended_at(now_ms, idle_timeout_s),
                participants=tuple(people),
                # The mean over participants of their averages: the series' rule (mean over
                # the participants that had the media) with one bucket for the whole session.
                scores=Scores(
                    _mean([s.audio_mos for s in session_scores]),
                    _mean([s.video_vq for s in session_scores]),
                ),
                active_duration_s=active,
                warnings=notes.get(info.session_id, ()),
            )
        )
    return views


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
) -> tuple[list[Session], Page]:
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
    return [_session(r) for r in rows], Page(page, per_page, int(total))


def sessions_like(
    conn: Connection, api_key: str, start_ms: int, participant_ids: set[str]
) -> list[Session]:
    """The key's sessions that started at ``start_ms`` with exactly these participants."""
    rows = conn.execute(
        select(sessions)
        .where(sessions.c.api_key == api_key, sessions.c.start_ms == start_ms)
        .order_by(sessions.c.session_id)
    ).all()
    people = participants_of(conn, [row.session_id for row in rows])
    return [_session(row) for row in rows if set(people.get(row.session_id, {})) == participant_ids]
