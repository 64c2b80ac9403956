"""POST /v2/stats: getStats() reports or computed samples, one item or a batch."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from callquality.api.auth import check_scope
from callquality.api.forwarded import request_location
from callquality.api.ingest_models import parse_items
from callquality.api.responses import OrjsonResponse
from callquality.api.routes._common import ERRORS, claims, now_ms, read_body, state
from callquality.api.state import AppState
from callquality.domain.errors import Forbidden, InvalidInput, StoreUnavailable
from callquality.service.alerts import evaluate_reports
from callquality.service.clients import with_location
from callquality.service.ingest import ingest
from callquality.service.ingestlog import check_reports

log = logging.getLogger("callquality.api")

router = APIRouter(responses=ERRORS, tags=["ingest"])


class IngestAnswer(BaseModel):
    accepted: int = Field(description="items stored by this request")
    duplicates: int = Field(description="items already stored earlier (or twice in the batch)")
    sessionIds: list[str] = Field(
        description="the sessions the items were assigned to (empty with INGEST_LOG: the "
        "processors assign them)"
    )


@router.post(
    "/v2/stats",
    status_code=202,
    response_model=IngestAnswer,
    summary="Send getStats() reports or computed samples (one item or a list)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": ["object", "array"]}}},
        }
    },
)
async def post_stats(request: Request) -> Any:
    app = state(request)
    caller = await run_in_threadpool(claims, request)
    if not caller.may_send_reports:
        raise Forbidden(
            "this token has only the 'janus' role, which may send Janus events to "
            "POST /v2/ingest/janus only; use a token with the 'rtc' role"
        )
    raw = await read_body(request)
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(
            f"the body is not valid JSON ({exc}); NaN and Infinity are not JSON, send null"
        ) from exc
    items = parse_items(body, app.settings.max_batch_items)
    items = with_location(items, request_location(request, app.settings))  # docs/api.md
    for item in items:
        check_scope(caller, item.room_id, item.participant_id, f"items[{item.index}]")
    session_ids: tuple[str, ...] = ()  # with INGEST_LOG, the processors assign sessions
    if app.ingest_log is not None:  # INGEST_LOG: processors store them (docs/scaling.md)
        await run_in_threadpool(check_reports, items)
        published = await app.ingest_log.publish(caller.api_key, items)
        accepted, duplicates = published.accepted, published.duplicates
    else:
        result = await run_in_threadpool(
            ingest, app.engine, app.settings, caller.api_key, items, now_ms()
        )
        accepted, duplicates, session_ids = (
            result.accepted, result.duplicates, result.session_ids
        )
        # The alert rules judge the new samples now that they are durable, before the
        # answer: a client's next report is judged after this one (service/alerts.py).
        if result.reported and not app.alert_rules.known_empty(caller.api_key):
            await run_in_threadpool(_judge_alerts, app, caller.api_key, result.reported)
    app.metrics.ingest_items.labels("accepted").inc(accepted)
    app.metrics.ingest_items.labels("duplicate").inc(duplicates)
    headers = {"Connection": "close"} if app.should_close() else None
    return OrjsonResponse(
        {"accepted": accepted, "duplicates": duplicates, "sessionIds": list(session_ids)},
        status_code=202,
        headers=headers,
    )


def _judge_alerts(app: AppState, api_key: str, reported: Any) -> None:
    try:
        evaluate_reports(app.engine, app.settings, app.alert_rules, api_key, reported, now_ms())
    except StoreUnavailable:  # the next report of the participant judges its window again
        log.warning("alert rules not judged: the database is unavailable")
