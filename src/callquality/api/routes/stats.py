"""The quality series of a session or of one participant, and the session's summary."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse

from callquality.api.auth import check_scope, require_tenant_reader
from callquality.api.render import (
    bucket_json,
    client_json,
    csv_text,
    participant_stats_json,
)
from callquality.api.responses import OrjsonResponse
from callquality.api.routes._common import (
    CSV_OR_JSON,
    ERRORS,
    MAX_INTERVAL_S,
    Interval,
    reader,
    state,
)
from callquality.api.state import AppState
from callquality.domain.client import EMPTY
from callquality.domain.errors import InvalidInput, NotFound
from callquality.domain.session import Session
from callquality.domain.session_ids import public_session_id
from callquality.query import sessions as q_sessions
from callquality.query import summary
from callquality.query.participant_series import participant_series
from callquality.query.stats import time_series
from callquality.store import clients
from callquality.store.db import read_transaction
from callquality.tokens import Claims

router = APIRouter(responses=ERRORS, tags=["sessions"])


def session_for_reader(app: AppState, caller: Claims, session_id: str) -> Session:
    """The caller's session (404 for another key's), within the token's room."""
    with read_transaction(app.engine) as conn:
        session = q_sessions.get_session(conn, caller.api_key, session_id)
    check_scope(caller, session.room_id, caller.participant_id, f"session {session_id}")
    return session


def check_buckets(app: AppState, session: Session, interval_s: int) -> None:
    """Refuse a read of more than MAX_STATS_BUCKETS buckets, naming the interval that fits."""
    limit = app.settings.max_stats_buckets
    span_ms = max(0, session.last_report_ms - session.start_ms)
    buckets = span_ms // (interval_s * 1000) + 1
    if buckets <= limit:
        return
    smallest = span_ms // (max(1, limit - 1) * 1000) + 1
    while span_ms // (smallest * 1000) + 1 > limit:
        smallest += 1
    fix = (
        f"ask interval={smallest} or more" if smallest <= MAX_INTERVAL_S
        else "this session is too long to read as a series"
    )
    raise InvalidInput(
        f"interval: {interval_s} s makes {buckets} buckets of this session's "
        f"{span_ms // 1000} s; at most {limit} are returned per read (MAX_STATS_BUCKETS): "
        f"{fix}"
    )


def _series(
    request: Request,
    caller: Claims,
    session_id: str,
    participant_id: str | None,
    interval: int,
    extended: bool,
    format: str,
) -> Any:
    app = state(request)
    if participant_id is None:
        require_tenant_reader(caller, "the session's series")
    session = session_for_reader(app, caller, session_id)
    if participant_id is not None:
        check_scope(caller, session.room_id, participant_id, f"participant {participant_id}")
    check_buckets(app, session, interval)
    public_id = public_session_id(session.session_id)
    with read_transaction(app.engine) as conn:
        body: dict[str, Any] = {"sessionId": public_id, "meetingId": session.room_id}
        if participant_id is not None:
            names = q_sessions.participant_names(conn, session.session_id)
            if participant_id not in names:
                raise NotFound(
                    f"no participant {participant_id!r} in session {session_id!r}; list them "
                    f"at /v2/sessions/{session_id}/participants"
                )
            body["participantId"] = participant_id
            body["participantName"] = names[participant_id]
            known = clients.load_many(conn, [(session.session_id, participant_id)])
            body.update(client_json(known.get((session.session_id, participant_id), EMPTY)))
            found = participant_series(
                conn, session.session_id, session.start_ms, interval_s=interval,
                participant_id=participant_id, extended=extended,
            )
        else:
            series = time_series(
                conn, session.session_id, session.start_ms, interval_s=interval,
                extended=extended,
            )
    if participant_id is not None:
        body["stats"], body["resolutionUsage"] = participant_stats_json(found, extended)
    else:
        body["stats"] = [bucket_json(b) for b in series]
    if format == "csv":
        return PlainTextResponse(
            csv_text(body["stats"]),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="{public_id}-stats.csv"'
            },
        )
    return OrjsonResponse(body)


@router.get("/v2/sessions/{sessionId}/stats", responses=CSV_OR_JSON)
def session_stats(
    request: Request,
    sessionId: str,
    caller: Annotated[Claims, Depends(reader)],
    interval: Interval = 60,
    extended: bool = False,
    format: Literal["json", "csv"] = "json",
) -> Any:
    """The session's quality time series (VideoSDK's Fetch Session Quality Stats)."""
    return _series(request, caller, sessionId, None, interval, extended, format)


@router.get("/v2/sessions/{sessionId}/participant/{participantId}/stats", responses=CSV_OR_JSON)
def participant_stats(
    request: Request,
    sessionId: str,
    participantId: str,
    caller: Annotated[Claims, Depends(reader)],
    interval: Interval = 60,
    extended: bool = False,
    format: Literal["json", "csv"] = "json",
) -> Any:
    """One participant's quality time series."""
    return _series(request, caller, sessionId, participantId, interval, extended, format)


@router.get("/v2/sessions/{sessionId}/summary")
def session_summary(
    request: Request, sessionId: str, caller: Annotated[Claims, Depends(reader)]
) -> Any:
    """Worst intervals, time below MOS 3.5 / 3.0, percentiles, the likely cause of bad quality."""
    app = state(request)
    require_tenant_reader(caller, "the session's summary")
    session = session_for_reader(app, caller, sessionId)
    with read_transaction(app.engine) as conn:
        names = q_sessions.participant_names(conn, session.session_id)
        body = summary.session_summary(conn, session.session_id, names)
        warnings = q_sessions.session_warnings_of(conn, [session.session_id])
    return OrjsonResponse({
        "sessionId": public_session_id(session.session_id),
        "meetingId": session.room_id,
        **body,
        "warnings": list(warnings.get(session.session_id, ())),
    })
