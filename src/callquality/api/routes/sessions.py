"""Sessions and participants, as VideoSDK's sessions API has them; ending a session."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection

from callquality.api.auth import check_scope, require_ender, require_may_end
from callquality.api.ingest_models import ID_PATTERN, MAX_TIMESTAMP_MS, Id
from callquality.api.render import (
    active_participants_json,
    page_json,
    participants_json,
    session_json,
)
from callquality.api.responses import OrjsonResponse
from callquality.api.routes._common import (
    ERRORS,
    PageNumber,
    PerPage,
    base_url,
    claims,
    now_ms,
    state,
    tenant_reader,
)
from callquality.api.routes.stats import session_for_reader
from callquality.api.state import AppState
from callquality.domain.session import Session
from callquality.query import sessions as q_sessions
from callquality.service.sessions import end_session as end_session_service
from callquality.store.db import read_transaction
from callquality.tokens import Claims

router = APIRouter(responses=ERRORS, tags=["sessions"])


def _view(
    conn: Connection, app: AppState, session: Session, participant_ids: list[str] | None = None
) -> q_sessions.SessionView:
    """One session as of now, with its participants (or those of ``participant_ids``)."""
    return q_sessions.session_views(
        conn, [session], now_ms=now_ms(), idle_timeout_s=app.settings.idle_timeout_s,
        participant_gap_s=app.settings.participant_gap_s, participant_ids=participant_ids,
    )[0]


@router.get("/v2/sessions/{sessionId}")
def get_session(
    request: Request, sessionId: str, caller: Annotated[Claims, Depends(tenant_reader)]
) -> Any:
    """One session with its participants and their timelogs."""
    app = state(request)
    session = session_for_reader(app, caller, sessionId)
    with read_transaction(app.engine) as conn:
        view = _view(conn, app, session)
    return OrjsonResponse(session_json(view, base_url(request)))


@router.get("/v2/sessions/{sessionId}/participants")
def list_participants(
    request: Request,
    sessionId: str,
    caller: Annotated[Claims, Depends(tenant_reader)],
    page: PageNumber = 1,
    perPage: PerPage = 20,
) -> Any:
    """The session (VideoSDK's shape) with a page of its participants and their timelogs."""
    app = state(request)
    session = session_for_reader(app, caller, sessionId)
    with read_transaction(app.engine) as conn:
        ids = list(q_sessions.participant_names(conn, session.session_id))
        page_info = q_sessions.Page(page, perPage, len(ids))
        view = _view(conn, app, session, participant_ids=page_info.slice(ids))
    return OrjsonResponse(participants_json(view, page_info, base_url(request)))


@router.get("/v2/sessions/{sessionId}/participants/active")
def list_active_participants(
    request: Request,
    sessionId: str,
    caller: Annotated[Claims, Depends(tenant_reader)],
    page: PageNumber = 1,
    perPage: PerPage = 20,
) -> Any:
    """The same, of the participants present now (none once the session has ended)."""
    app = state(request)
    session = session_for_reader(app, caller, sessionId)
    with read_transaction(app.engine) as conn:
        view = _view(conn, app, session)
    present = [p for p in view.participants if p.present]
    page_info = q_sessions.Page(page, perPage, len(present))
    view = replace(view, participants=tuple(page_info.slice(present)))
    return OrjsonResponse(active_participants_json(view, page_info, base_url(request)))


@router.get("/v2/sessions", include_in_schema=False)
@router.get("/v2/sessions/")
def list_sessions(
    request: Request,
    caller: Annotated[Claims, Depends(tenant_reader)],
    roomId: str | None = None,
    customRoomId: str | None = None,
    status: Literal["ongoing", "ended"] | None = None,
    startDate: Annotated[
        int | None, Query(ge=0, le=MAX_TIMESTAMP_MS, description="epoch ms, sessions from")
    ] = None,
    endDate: Annotated[
        int | None, Query(ge=0, le=MAX_TIMESTAMP_MS, description="epoch ms, sessions until")
    ] = None,
    page: PageNumber = 1,
    perPage: PerPage = 20,
) -> Any:
    """The API key's sessions, newest first."""
    app = state(request)
    if caller.room_id is not None:
        if roomId is not None and roomId != caller.room_id:
            check_scope(caller, roomId, caller.participant_id, "roomId")
        roomId = caller.room_id
    now = now_ms()
    settings = app.settings
    with read_transaction(app.engine) as conn:
        found, page_info = q_sessions.list_sessions(
            conn, caller.api_key, now_ms=now, idle_timeout_s=settings.idle_timeout_s,
            room_id=roomId, custom_room_id=customRoomId, status=status, start_ms=startDate,
            end_ms=endDate, page=page, per_page=perPage,
        )
        views = q_sessions.session_views(
            conn, found, now_ms=now, idle_timeout_s=settings.idle_timeout_s,
            participant_gap_s=settings.participant_gap_s,
        )
    url = base_url(request)
    return OrjsonResponse(
        {
            "pageInfo": page_json(page_info),
            "data": [session_json(v, url, full=False) for v in views],
        }
    )


class EndSession(BaseModel):
    model_config = ConfigDict(extra="forbid")
    roomId: Id | None = None
    customRoomId: Id | None = None
    sessionId: Annotated[str, Field(max_length=128, pattern=ID_PATTERN)] | None = None


@router.post("/v2/sessions/end")
def end_session(
    request: Request, body: EndSession, caller: Annotated[Claims, Depends(claims)]
) -> Any:
    """End a room's latest session (or the given one); the next report opens a new one.

    Needs the crawler role (within the token's room), or allow_mod with the room's roomId.
    """
    app = state(request)
    require_may_end(caller)

    def authorise(session: Session) -> None:
        require_ender(caller, session.room_id)

    view = end_session_service(
        app.engine, app.settings, caller.api_key, room=body.roomId,
        custom_room_id=body.customRoomId, session_id=body.sessionId, now_ms=now_ms(),
        authorise=authorise,
    )
    return OrjsonResponse(session_json(view, base_url(request)))
