"""Operations: /metrics (Prometheus) and /healthz."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse

from callquality.api.routes._common import ERRORS, state
from callquality.store.db import ping

router = APIRouter(responses=ERRORS, tags=["operations"])


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {}}}},
)
def metrics(request: Request) -> Any:
    """Prometheus text format: requests, ingest items and errors, stored samples."""
    return PlainTextResponse(
        state(request).metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8"
    )


@router.get("/healthz")
def healthz(request: Request) -> Any:
    """200 when the database answers, 503 otherwise."""
    app = state(request)
    ping(app.engine)
    return {"status": "ok", "uptimeS": round(time.time() - app.started, 1)}
