"""POST /v2/stats: getStats() reports or computed samples, one item or a batch."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from callquality.api.auth import check_scope
from callquality.api.forwarded import request_location
from callquality.api.ingest_models import ingest_body_schema, parse_body
from callquality.api.responses import OrjsonResponse
from callquality.api.routes._common import (
    ERRORS,
    claims,
    judge_alerts,
    now_ms,
    read_body,
    state,
)
from callquality.api.state import AppState
from callquality.domain.errors import Forbidden, InvalidInput
from callquality.domain.session_ids import public_session_id
from callquality.service.clients import with_location
from callquality.service.ingest import ingest
from callquality.service.ingestlog import check_reports

router = APIRouter(responses=ERRORS, tags=["ingest"])


class IngestAnswer(BaseModel):
    accepted: int = Field(description="items stored by this request")
    duplicates: int = Field(description="items already stored earlier (or twice in the batch)")
    sessionIds: list[str] = Field(
        description="the sessions the items were assigned to (empty with INGEST_LOG: the "
        "processors assign them)"
    )


def _check_content_type(value: str | None) -> None:
    """JSON, or no Content-Type at all (read as JSON, as curl --data-binary without -H)."""
    if not value:
        return
    media = value.split(";", 1)[0].strip().lower()
    if media == "application/json" or media.endswith("+json"):
        return
    raise InvalidInput(
        f"Content-Type: the body is read as JSON, not {media!r}; send "
        "'Content-Type: application/json' (curl: --json, or -H 'Content-Type: application/json')"
    )


@router.post(
    "/v2/stats",
    status_code=202,
    response_model=IngestAnswer,
    summary="Send getStats() reports or computed samples (one item or a list)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": ingest_body_schema()}
            },
        }
    },
)
async def post_stats(request: Request) -> Any:
    """Store the items; ``202`` once durable. A body without Content-Type is read as JSON."""
    app = state(request)
    app.ingest_in_flight += 1  # the event loop's thread alone counts: no lock
    try:
        return await _post_stats(request, app)
    finally:
        app.ingest_in_flight -= 1


async def _post_stats(request: Request, app: AppState) -> Any:
    caller = await run_in_threadpool(claims, request)
    if not caller.may_send_reports:
        raise Forbidden(
            "this token has only the 'janus' role, which may send Janus events to "
            "POST /v2/ingest/janus only; use a token with the 'rtc' role"
        )
    _check_content_type(request.headers.get("content-type"))
    raw = await read_body(request)
    now = now_ms()
    items = parse_body(
        raw,
        app.settings.max_batch_items,
        latest_timestamp_ms=now + app.settings.max_clock_skew_s * 1000,
    )
    items = with_location(items, request_location(request, app.settings))  # docs/api.md
    for item in items:
        check_scope(caller, item.room_id, item.participant_id, f"items[{item.index}]")
    app.item_limiter.check(caller.api_key, len(items))  # RATE_LIMIT_ITEMS_PER_S
    session_ids: tuple[str, ...] = ()  # with INGEST_LOG, the processors assign sessions
    if app.ingest_log is not None:  # INGEST_LOG: processors store them (docs/scaling.md)
        await run_in_threadpool(check_reports, items)
        published = await app.ingest_log.publish(caller.api_key, items)
        accepted, duplicates = published.accepted, published.duplicates
    else:
        result = await run_in_threadpool(
            ingest, app.engine, app.settings, caller.api_key, items, now, app.series_closer
        )
        accepted, duplicates, session_ids = (
            result.accepted, result.duplicates, result.session_ids
        )
        await judge_alerts(app, caller.api_key, result.reported)
    app.metrics.ingest_items.labels("accepted").inc(accepted)
    app.metrics.ingest_items.labels("duplicate").inc(duplicates)
    headers = {"Connection": "close"} if app.should_close() else None
    return OrjsonResponse(
        {
            "accepted": accepted,
            "duplicates": duplicates,
            "sessionIds": [public_session_id(s) for s in session_ids],
        },
        status_code=202,
        headers=headers,
    )
