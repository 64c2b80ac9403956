"""The HTTP application: middleware and the app factory."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Engine
from starlette.middleware.cors import CORSMiddleware

from callquality import __version__
from callquality.api import web
from callquality.api.bodylimit import BodyLimit, limits_from
from callquality.api.errors import install_error_handlers
from callquality.api.forwarded import trusted_networks
from callquality.api.metrics import Metrics
from callquality.api.responses import OrjsonResponse
from callquality.api.routes import ROUTERS
from callquality.api.state import AppState
from callquality.config import Settings
from callquality.domain.errors import StoreUnavailable
from callquality.service import geo
from callquality.service.delivery import DeliveryWorker
from callquality.service.retention import PURGE_EVERY_S, purge_expired
from callquality.store.db import create_store_engine, migrate

log = logging.getLogger("callquality.api")

async def _purge_periodically(engine: Engine, settings: Settings) -> None:
    while True:
        try:
            purged = await run_in_threadpool(
                purge_expired, engine, settings, int(time.time() * 1000)
            )
            if purged:
                log.info("retention purge", extra={"purged_samples": purged})
        except StoreUnavailable:
            log.warning("retention purge skipped: the database is unavailable")
        except Exception as error:  # noqa: BLE001 - the next hour retries; the loop must live
            # The type only: a driver's message can quote the statement and its parameters.
            log.error("retention purge failed (%s); retried in %d s",
                      type(error).__name__, PURGE_EVERY_S)
        await asyncio.sleep(PURGE_EVERY_S)


class AccessLog:
    """Counts, times and logs every request (pure ASGI: the body streams through untouched).

    Logged: method, route template, status and time only; never the Authorization header,
    the query or the body.
    """

    def __init__(self, app: Any, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # unless a response starts: an exception became ServerErrorMiddleware's

        async def send_and_note(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            elapsed = time.perf_counter() - started
            template = getattr(scope.get("route"), "path", "unmatched")
            method = scope["method"]
            self.metrics.requests.labels(method, template, str(status)).inc()
            self.metrics.latency.labels(template).observe(elapsed)
            if template == "/v2/stats" and status >= 400:
                self.metrics.ingest_errors.labels(str(status)).inc()
            log.info(
                "request",
                extra={
                    "method": method, "route": template, "status": status,
                    "ms": round(elapsed * 1000, 1),
                },
            )


def create_app(settings: Settings, engine: Engine | None = None) -> FastAPI:
    """The ASGI app; migrations run on start-up."""
    # A bad TRUSTED_PROXIES or GeoIP path fails here, at start, naming the setting.
    trusted_networks(settings.trusted_proxies)
    geo.resolver(settings.geoip_city_db, settings.geoip_asn_db)
    own_engine = engine is None
    eng = engine or create_store_engine(settings.resolved_database_url)

    @asynccontextmanager
    async def lifespan(application: FastAPI) -> AsyncIterator[None]:
        migrate(eng)
        purger = asyncio.create_task(_purge_periodically(eng, settings))
        ingest_log = application.state.cq.ingest_log
        if ingest_log is not None:
            await ingest_log.connect()
        deliveries = DeliveryWorker(eng, settings) if settings.webhook_delivery else None
        if deliveries is not None:
            deliveries.start()
        # What start-up made lives as long as the process: out of the collector's full
        # passes, which otherwise walk it all every few large answers (a participant's
        # extended series made one a 40 ms pause every ~6 requests; docs/performance.md).
        # Collected first, so that no garbage of start-up is kept for good.
        gc.collect()
        gc.freeze()
        yield
        purger.cancel()
        await run_in_threadpool(application.state.cq.series_closer.stop)
        if deliveries is not None:
            await run_in_threadpool(deliveries.stop)
        if ingest_log is not None:
            await ingest_log.close()
        if own_engine:
            eng.dispose()

    app = FastAPI(
        title="callquality",
        version=__version__,
        description="WebRTC call-quality statistics, compatible with VideoSDK's sessions API.",
        default_response_class=OrjsonResponse,
        lifespan=lifespan,
        # /docs is served by api/web.py from vendored Swagger UI (FastAPI's own page and
        # /redoc load their scripts from a CDN, and are blank without internet).
        docs_url=None,
        redoc_url=None,
    )
    app.state.cq = AppState(settings, eng)
    install_error_handlers(app)

    app.add_middleware(AccessLog, metrics=app.state.cq.metrics)

    # Every body is bounded: MAX_BODY_BYTES, and the dump import its own larger limit
    # (inside CORS, so that a 413 carries the CORS headers too).
    default_limit, per_path = limits_from(settings)
    app.add_middleware(BodyLimit, limit=default_limit, per_path=per_path)
    # collector.js posts from the sites that embed it, cross-origin, with its token in
    # Authorization (no cookies, so no credentials mode). Retry-After is exposed for its
    # backoff; preflights are cached for 2 h (Chromium's cap).
    app.add_middleware(
        CORSMiddleware,
        allow_origins=["*"],
        allow_methods=["GET", "POST"],
        allow_headers=["Authorization", "Content-Type"],
        expose_headers=["Retry-After"],
        max_age=7200,
    )
    for router in ROUTERS:
        app.include_router(router)
    app.include_router(web.router)
    return app
