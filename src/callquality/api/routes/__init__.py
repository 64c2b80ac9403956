"""The routes, one module per area; each handler parses, authorises, calls one function of
``service/`` or ``query/``, and renders the answer (``api/render.py``)."""

from fastapi import APIRouter

from callquality.api.routes import (
    alerts,
    analytics,
    imports,
    ingest,
    janus,
    live,
    ops,
    rooms,
    sessions,
    stats,
    webhooks,
)

ROUTERS: tuple[APIRouter, ...] = (
    ingest.router,
    janus.router,
    imports.router,
    stats.router,
    sessions.router,
    analytics.router,
    rooms.router,
    ops.router,
    live.router,
    webhooks.router,
    alerts.router,
)
