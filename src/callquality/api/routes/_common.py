"""What every route needs: the app state, the caller's claims, bodies, shared parameters."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from callquality.api.auth import require_reader, require_tenant_reader
from callquality.api.state import AppState
from callquality.domain.errors import StoreUnavailable
from callquality.query.sessions import MAX_PER_PAGE
from callquality.service.alerts import evaluate_reports
from callquality.tokens import Claims

log = logging.getLogger("callquality.api")


class ErrorBody(BaseModel):
    """Every error: CONTRACT.md's {statusCode, error, message}."""

    statusCode: int
    error: str
    message: str


ERRORS: dict[int | str, dict[str, Any]] = {
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
CSV_OR_JSON: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/json": {}, "text/csv": {"schema": {"type": "string"}}}}
}

MAX_INTERVAL_S = 3600
Interval = Annotated[
    int, Query(ge=5, le=MAX_INTERVAL_S, description="bucket length in seconds")
]
PageNumber = Annotated[int, Query(ge=1, le=1_000_000, description="page number, from 1")]
PerPage = Annotated[int, Query(ge=1, le=MAX_PER_PAGE, description="items per page")]


def state(request: Request) -> AppState:
    """The application state (settings, engine, authenticator, ...)."""
    app_state: AppState = request.app.state.cq
    return app_state


def claims(request: Request) -> Claims:
    """The verified claims of the request's token, rate-limited per API key."""
    app_state = state(request)
    client = request.client.host if request.client is not None else ""
    verified = app_state.auth.claims(request.headers.get("authorization"), client)
    app_state.limiter.check(verified.api_key)  # RATE_LIMIT_PER_S (api/ratelimit.py)
    return verified


def reader(request: Request) -> Claims:
    """The claims of a token that may use the read API (crawler)."""
    verified = claims(request)
    require_reader(verified)
    return verified


def tenant_reader(request: Request) -> Claims:
    """The claims of a token that may read more than one participant's data."""
    verified = claims(request)
    require_tenant_reader(verified, request.url.path)
    return verified


def now_ms() -> int:
    """The server's clock, epoch ms."""
    return int(time.time() * 1000)


def base_url(request: Request) -> str:
    """The server's own URL, for ``links``."""
    return str(request.base_url).rstrip("/")


async def read_body(request: Request) -> bytes:
    """The request body (its size is bounded by ``api/bodylimit.py``)."""
    return b"".join([chunk async for chunk in request.stream()])


async def judge_alerts(
    app: AppState, api_key: str, reported: Sequence[tuple[tuple[str, str], int]]
) -> None:
    """Judge the alert rules on the participants a committed ingest brought new samples for
    (``POST /v2/stats``, ``POST /v2/ingest/janus``), before the answer: a sender's next
    request is judged after this one (service/alerts.py). A key known to have no rules costs
    no thread hop."""
    if not reported or app.alert_rules.known_empty(api_key):
        return
    await run_in_threadpool(_judge, app, api_key, reported)


def _judge(app: AppState, api_key: str, reported: Sequence[tuple[tuple[str, str], int]]) -> None:
    try:
        evaluate_reports(app.engine, app.settings, app.alert_rules, api_key, reported, now_ms())
    except StoreUnavailable:  # the next report of the participant judges its window again
        log.warning("alert rules not judged: the database is unavailable")
