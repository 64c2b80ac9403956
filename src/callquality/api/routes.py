"""The routes: parse, authorise, call one function, shape the answer."""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field

from callquality import pipeline
from callquality.api.app import AppState, OrjsonResponse
from callquality.api.auth import check_scope, require_reader
from callquality.api.ingest_models import MAX_TIMESTAMP_MS, parse_items
from callquality.errors import Forbidden, InvalidInput, NotFound, PayloadTooLarge
from callquality.importer import import_file
from callquality.query import sessions as q_sessions
from callquality.query import summary
from callquality.query.stats import time_series
from callquality.store import writes
from callquality.store.db import read_transaction, write_transaction
from callquality.tokens import Claims


class ErrorBody(BaseModel):
    """Every error: CONTRACT.md's {statusCode, error, message}."""

    statusCode: int
    error: str
    message: str


_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in (
        (400, "validation failed; the message names the field"),
        (401, "token missing, malformed, badly signed, expired, or of an unknown API key"),
        (403, "the token may not do this"),
        (404, "no such session, participant or route for this API key"),
        (413, "the body is too large"),
        (429, "rate limited; see Retry-After"),
        (503, "the database is unavailable; see Retry-After"),
    )
}
router = APIRouter(responses=_ERRORS)
_CSV: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/json": {}, "text/csv": {"schema": {"type": "string"}}}}
}


def _state(request: Request) -> AppState:
    state: AppState = request.app.state.cq
    return state


def _claims(request: Request) -> Claims:
    state = _state(request)
    claims = state.auth.claims(request.headers.get("authorization"))
    state.limiter.check(claims.api_key)  # RATE_LIMIT_PER_S, per API key (api/ratelimit.py)
    return claims


def _reader(request: Request) -> Claims:
    claims = _claims(request)
    require_reader(claims)
    return claims


def _now_ms() -> int:
    return int(time.time() * 1000)


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    too_large = (
        f"the body is larger than {limit} bytes; send smaller batches (MAX_BODY_BYTES)"
    )
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(too_large)
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(too_large)
        chunks.append(chunk)
    return b"".join(chunks)


class IngestAnswer(BaseModel):
    accepted: int = Field(description="items stored by this request")
    duplicates: int = Field(description="items already stored earlier (or twice in the batch)")
    sessionIds: list[str] = Field(description="the sessions the items were assigned to")


@router.post(
    "/v2/stats",
    status_code=202,
    response_model=IngestAnswer,
    tags=["ingest"],
    summary="Send getStats() reports or computed samples (one item or a list)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": ["object", "array"]}}},
        }
    },
)
async def post_stats(request: Request) -> Any:
    state = _state(request)
    claims = await run_in_threadpool(_claims, request)
    raw = await _read_body(request, state.settings.max_body_bytes)
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(
            f"the body is not valid JSON ({exc}); NaN and Infinity are not JSON, send null"
        ) from exc
    items = parse_items(body, state.settings.max_batch_items)
    for item in items:
        check_scope(claims, item.room_id, item.participant_id, f"items[{item.index}]")
    result = await run_in_threadpool(
        pipeline.ingest, state.engine, state.settings, claims.api_key, items, _now_ms()
    )
    state.metrics.ingest_items.labels("accepted").inc(result.accepted)
    state.metrics.ingest_items.labels("duplicate").inc(result.duplicates)
    headers = {"Connection": "close"} if state.should_close() else None
    return OrjsonResponse(
        {
            "accepted": result.accepted,
            "duplicates": result.duplicates,
            "sessionIds": list(result.session_ids),
        },
        status_code=202,
        headers=headers,
    )


Interval = Annotated[int, Query(ge=5, le=3600, description="bucket length in seconds")]


def _session_for_reader(
    state: AppState, claims: Claims, session_id: str
) -> q_sessions.SessionInfo:
    with read_transaction(state.engine) as conn:
        info = q_sessions.get_session(conn, claims.api_key, session_id)
    check_scope(claims, info.room_id, claims.participant_id, f"session {session_id}")
    return info


@router.post(
    "/v2/sessions/import",
    status_code=201,
    tags=["ingest"],
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {
                            "file": {"type": "string", "format": "binary"},
                            "roomId": {"type": "string"},
                        },
                    }
                }
            },
        }
    },
)
async def import_dump(request: Request) -> Any:
    """Import a webrtc-internals, RTCStatsDump or jitsi rtcstats dump as a new session."""
    state = _state(request)
    claims = await run_in_threadpool(_claims, request)
    limit = state.settings.max_import_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit + 64 * 1024:
        raise PayloadTooLarge(f"the upload is larger than {limit} bytes (MAX_IMPORT_BYTES)")
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise InvalidInput("send the dump as multipart/form-data with a 'file' field")
    form = await request.form(max_files=1, max_fields=4, max_part_size=limit)
    upload = form.get("file")
    room = form.get("roomId")
    if upload is None or isinstance(upload, str):
        raise InvalidInput("file: required; send the dump as the multipart field 'file'")
    if room is not None and not isinstance(room, str):
        raise InvalidInput("roomId: must be a text field")
    room_id = room or None
    if claims.room_id is not None:
        check_scope(claims, room_id or claims.room_id, None, "roomId")
        room_id = claims.room_id
    data = await upload.read()
    name = upload.filename or "dump"
    result = await run_in_threadpool(
        import_file, state.engine, state.settings, claims.api_key, data,
        name=name, room_id=room_id, max_bytes=limit,
    )
    return OrjsonResponse(
        {
            "sessionId": result.session_id,
            "roomId": result.room_id,
            "format": result.format,
            "browser": result.browser,
            "reports": result.reports,
            "peerConnections": list(result.peer_connections),
        },
        status_code=201,
    )


@router.get("/v2/sessions/{sessionId}/stats", tags=["sessions"], responses=_CSV)
def session_stats(
    request: Request,
    sessionId: str,
    claims: Annotated[Claims, Depends(_reader)],
    interval: Interval = 60,
    extended: bool = False,
    format: Literal["json", "csv"] = "json",
) -> Any:
    """The session's quality time series (VideoSDK's Fetch Session Quality Stats)."""
    state = _state(request)
    info = _session_for_reader(state, claims, sessionId)
    if claims.participant_id is not None:
        raise_participant_only(claims)
    with read_transaction(state.engine) as conn:
        stats = time_series(
            conn, info.session_id, info.start_ms, interval_s=interval, extended=extended
        )
    body = {"sessionId": info.session_id, "meetingId": info.room_id, "stats": stats}
    return _render(body, format)


def raise_participant_only(claims: Claims) -> None:
    """A participant-bound token reads only its own participant's stats."""
    raise Forbidden(
        f"this token is limited to participant {claims.participant_id!r}; use "
        f"/v2/sessions/{{sessionId}}/participant/{claims.participant_id}/stats"
    )


@router.get(
    "/v2/sessions/{sessionId}/participant/{participantId}/stats",
    tags=["sessions"],
    responses=_CSV,
)
def participant_stats(
    request: Request,
    sessionId: str,
    participantId: str,
    claims: Annotated[Claims, Depends(_reader)],
    interval: Interval = 60,
    extended: bool = False,
    format: Literal["json", "csv"] = "json",
) -> Any:
    """One participant's quality time series."""
    state = _state(request)
    info = _session_for_reader(state, claims, sessionId)
    check_scope(claims, info.room_id, participantId, f"participant {participantId}")
    with read_transaction(state.engine) as conn:
        names = q_sessions.participant_names(conn, info.session_id)
        if participantId not in names:
            raise NotFound(
                f"no participant {participantId!r} in session {sessionId!r}; list them at "
                f"/v2/sessions/{sessionId}/participants"
            )
        stats = time_series(
            conn,
            info.session_id,
            info.start_ms,
            interval_s=interval,
            participant_id=participantId,
            extended=extended,
        )
    body = {
        "sessionId": info.session_id,
        "meetingId": info.room_id,
        "participantId": participantId,
        "participantName": names[participantId],
        "stats": stats,
    }
    return _render(body, format)


def _render(body: dict[str, Any], format: str) -> Any:
    if format == "csv":
        from callquality.query.export import stats_csv

        return PlainTextResponse(
            stats_csv(body["stats"]),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="{body["sessionId"]}-stats.csv"'
            },
        )
    return OrjsonResponse(body)


@router.get("/v2/sessions/{sessionId}/summary", tags=["sessions"])
def session_summary(
    request: Request, sessionId: str, claims: Annotated[Claims, Depends(_reader)]
) -> Any:
    """Worst intervals, time below MOS 3.5 / 3.0, percentiles, the likely cause of bad quality."""
    state = _state(request)
    info = _session_for_reader(state, claims, sessionId)
    with read_transaction(state.engine) as conn:
        names = q_sessions.participant_names(conn, info.session_id)
        if claims.participant_id is not None:
            raise_participant_only(claims)
        body = summary.session_summary(conn, info.session_id, names)
    return OrjsonResponse({"sessionId": info.session_id, "meetingId": info.room_id, **body})


@router.get("/v2/sessions/{sessionId}", tags=["sessions"])
def get_session(
    request: Request, sessionId: str, claims: Annotated[Claims, Depends(_reader)]
) -> Any:
    """One session with its participants and their timelogs."""
    state = _state(request)
    info = _session_for_reader(state, claims, sessionId)
    with read_transaction(state.engine) as conn:
        body = q_sessions.session_json(
            conn,
            info,
            now_ms=_now_ms(),
            idle_timeout_s=state.settings.idle_timeout_s,
            participant_gap_s=state.settings.participant_gap_s,
            base_url=_base_url(request),
        )
    return OrjsonResponse(body)


Page = Annotated[int, Query(ge=1, le=1_000_000, description="page number, from 1")]
PerPage = Annotated[int, Query(ge=1, le=q_sessions.MAX_PER_PAGE, description="items per page")]


@router.get("/v2/sessions/{sessionId}/participants", tags=["sessions"])
def list_participants(
    request: Request,
    sessionId: str,
    claims: Annotated[Claims, Depends(_reader)],
    page: Page = 1,
    perPage: PerPage = 20,
) -> Any:
    """The session's participants, paginated, with their timelogs."""
    state = _state(request)
    info = _session_for_reader(state, claims, sessionId)
    now = _now_ms()
    with read_transaction(state.engine) as conn:
        names = q_sessions.participant_names(conn, info.session_id)
        ids = list(names)
        chosen = ids[(page - 1) * perPage : page * perPage]
        logs = q_sessions.timelogs(conn, [info.session_id], chosen)
    status = info.status(now, state.settings.idle_timeout_s)
    gap = state.settings.participant_gap_s
    data = []
    for p in chosen:
        log = logs.get((info.session_id, p), [])
        present = status == "ongoing" and bool(log) and now - log[-1][1] <= gap * 1000
        data.append(q_sessions.participant_json(p, names[p], log, present))
    page_info = q_sessions.Page(page, perPage, len(ids))
    return OrjsonResponse({"pageInfo": page_info.as_json(), "data": data})


@router.get("/v2/sessions", tags=["sessions"], include_in_schema=False)
@router.get("/v2/sessions/", tags=["sessions"])
def list_sessions(
    request: Request,
    claims: Annotated[Claims, Depends(_reader)],
    roomId: str | None = None,
    customRoomId: str | None = None,
    status: Literal["ongoing", "ended"] | None = None,
    startDate: Annotated[
        int | None, Query(ge=0, le=MAX_TIMESTAMP_MS, description="epoch ms, sessions from")
    ] = None,
    endDate: Annotated[
        int | None, Query(ge=0, le=MAX_TIMESTAMP_MS, description="epoch ms, sessions until")
    ] = None,
    page: Page = 1,
    perPage: PerPage = 20,
) -> Any:
    """The API key's sessions, newest first."""
    state = _state(request)
    if claims.room_id is not None:
        if roomId is not None and roomId != claims.room_id:
            check_scope(claims, roomId, claims.participant_id, "roomId")
        roomId = claims.room_id
    now = _now_ms()
    with read_transaction(state.engine) as conn:
        infos, page_info = q_sessions.list_sessions(
            conn,
            claims.api_key,
            now_ms=now,
            idle_timeout_s=state.settings.idle_timeout_s,
            room_id=roomId,
            custom_room_id=customRoomId,
            status=status,
            start_ms=startDate,
            end_ms=endDate,
            page=page,
            per_page=perPage,
        )
        data = q_sessions.sessions_json(
            conn,
            infos,
            now_ms=now,
            idle_timeout_s=state.settings.idle_timeout_s,
            participant_gap_s=state.settings.participant_gap_s,
            base_url=_base_url(request),
        )
    return OrjsonResponse({"pageInfo": page_info.as_json(), "data": data})


class EndSession(BaseModel):
    model_config = ConfigDict(extra="forbid")
    roomId: str | None = None
    customRoomId: str | None = None
    sessionId: str | None = None


@router.post("/v2/sessions/end", tags=["sessions"])
def end_session(
    request: Request, body: EndSession, claims: Annotated[Claims, Depends(_reader)]
) -> Any:
    """End a room's latest session (or the given one); the next report opens a new one."""
    state = _state(request)
    if body.roomId is None and body.customRoomId is None and body.sessionId is None:
        raise InvalidInput("send roomId or customRoomId (and optionally sessionId)")
    now = _now_ms()
    with write_transaction(state.engine) as conn:
        info = _session_to_end(conn, state, claims, body, now)
        check_scope(claims, info.room_id, claims.participant_id, "roomId")
        if info.end_ms is None:
            # An ongoing session ends now; one that went idle ends at its last report.
            ongoing = info.status(now, state.settings.idle_timeout_s) == "ongoing"
            writes.end_session(conn, info.session_id, now if ongoing else info.last_report_ms)
            info = q_sessions.get_session(conn, claims.api_key, info.session_id)
        answer = q_sessions.session_json(
            conn,
            info,
            now_ms=now,
            idle_timeout_s=state.settings.idle_timeout_s,
            participant_gap_s=state.settings.participant_gap_s,
            base_url=_base_url(request),
        )
    return OrjsonResponse(answer)


def _session_to_end(
    conn: Any, state: AppState, claims: Claims, body: EndSession, now: int
) -> q_sessions.SessionInfo:
    if body.sessionId is not None:
        info = q_sessions.get_session(conn, claims.api_key, body.sessionId)
        if body.roomId is not None and body.roomId != info.room_id:
            raise InvalidInput(
                f"sessionId {body.sessionId!r} belongs to room {info.room_id!r}, "
                f"not {body.roomId!r}"
            )
        return info
    infos, _ = q_sessions.list_sessions(
        conn,
        claims.api_key,
        now_ms=now,
        idle_timeout_s=state.settings.idle_timeout_s,
        room_id=body.roomId,
        custom_room_id=body.customRoomId,
        per_page=1,
    )
    if not infos:
        room = body.roomId if body.roomId is not None else body.customRoomId
        raise NotFound(f"room {room!r} has no session for this API key")
    return infos[0]


@router.get(
    "/metrics",
    tags=["operations"],
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {}}}},
)
def metrics(request: Request) -> Any:
    """Prometheus text format: requests, ingest items and errors, stored samples."""
    return PlainTextResponse(
        _state(request).metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8"
    )


@router.get("/healthz", tags=["operations"])
def healthz(request: Request) -> Any:
    """200 when the database answers, 503 otherwise."""
    from sqlalchemy import text

    state = _state(request)
    with read_transaction(state.engine) as conn:
        conn.execute(text("SELECT 1"))
    return {"status": "ok", "uptimeS": round(time.time() - state.started, 1)}
