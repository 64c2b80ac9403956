"""Operations: /metrics (Prometheus, behind METRICS_TOKEN) and /healthz."""

from __future__ import annotations

import hmac
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse

from callquality.api.routes._common import ERRORS, state
from callquality.domain.errors import AuthError, NotFound
from callquality.store.db import ping

router = APIRouter(responses=ERRORS, tags=["operations"])


@router.get(
    "/metrics",
    # Not response_class=PlainTextResponse: the errors' JSON would be documented as text.
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
def metrics(request: Request) -> Any:
    """Prometheus text format: requests, ingest items and errors (and, with
    METRICS_STORE_FIGURES, stored samples and sessions). Off unless METRICS_TOKEN is set;
    then it needs ``Authorization: Bearer <METRICS_TOKEN>``."""
    app = state(request)
    expected = app.settings.metrics_token
    if not expected:
        raise NotFound("no route /metrics: it is off; set METRICS_TOKEN to serve it")
    given = request.headers.get("authorization", "").strip()
    if given[:7].lower() == "bearer ":
        given = given[7:].strip()
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise AuthError("/metrics needs 'Authorization: Bearer <METRICS_TOKEN>'")
    return PlainTextResponse(
        app.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8"
    )


@router.get("/healthz")
def healthz(request: Request) -> Any:
    """200 when the database answers, 503 otherwise."""
    app = state(request)
    ping(app.engine)
    return {"status": "ok", "uptimeS": round(time.time() - app.started, 1)}
