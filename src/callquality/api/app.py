"""The HTTP application: error mapping, middleware, and the app factory."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from fastapi import FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import Engine
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware

from callquality import __version__
from callquality.api.auth import Authenticator
from callquality.api.bodylimit import BodyLimit
from callquality.api.metrics import Metrics
from callquality.api.ratelimit import RateLimiter
from callquality.config import Settings
from callquality.errors import CallQualityError, RateLimited, StoreUnavailable
from callquality.store.db import create_store_engine, migrate, write_transaction
from callquality.store.writes import purge_samples_before

log = logging.getLogger("callquality.api")

class OrjsonResponse(JSONResponse):
    """JSON rendered with orjson (fast on large time series)."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


_STATUS_NAMES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """The contract's error body: {statusCode, error, message}."""
    return OrjsonResponse(
        {"statusCode": status, "error": _STATUS_NAMES.get(status, "Error"), "message": message},
        status_code=status,
        headers=headers,
    )


def _validation_message(exc: RequestValidationError) -> str:
    err = exc.errors()[0]
    loc = [str(p) for p in err.get("loc", ()) if p not in ("query", "path", "body")]
    where = ".".join(loc) or "request"
    return f"{where}: {err.get('msg', 'invalid value')}"


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(CallQualityError)
    async def _domain(_: Request, exc: CallQualityError) -> Response:
        headers = None
        if isinstance(exc, RateLimited | StoreUnavailable):
            headers = {"Retry-After": str(exc.retry_after_s)}
        if isinstance(exc, StoreUnavailable):
            log.warning("store unavailable: %s", exc.__cause__.__class__.__name__)
        return error_response(exc.status, exc.message, headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> Response:
        return error_response(400, _validation_message(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        message = str(exc.detail)
        if exc.status_code == 404:
            message = f"no route {request.url.path}; see /docs for the API"
        elif exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}; see /docs"
        return error_response(exc.status_code, message)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> Response:
        log.exception("unhandled error: %s", exc.__class__.__name__)
        return error_response(500, "internal error; the server log has the details")


PURGE_EVERY_S = 3600


def purge_expired(engine: Engine, settings: Settings, now_ms: int) -> int:
    """Delete samples received more than RETENTION_DAYS ago; returns how many."""
    cutoff = now_ms - settings.retention_days * 86_400_000
    with write_transaction(engine) as conn:
        return purge_samples_before(conn, cutoff)


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
        await asyncio.sleep(PURGE_EVERY_S)


class AppState:
    """What every request needs: settings, the engine, the authenticator."""

    def __init__(self, settings: Settings, engine: Engine) -> None:
        self.settings = settings
        self.engine = engine
        self.auth = Authenticator(engine, settings.token_leeway_s)
        self.metrics = Metrics(engine)
        self.limiter = RateLimiter(settings.rate_limit_per_s, settings.rate_limit_burst)
        self.started = time.time()
        self.last_close = -math.inf  # when an ingest answer last closed its connection

    def should_close(self) -> bool:
        """Whether this ingest answer closes its connection (``Connection: close``).

        Workers of one port share its listening socket, and a kept-alive connection stays
        with the worker that accepted it, so a few busy connections can pile onto one
        worker while another idles. With several workers, an ingest answer closes its
        connection at most every ``_REBALANCE_S`` per worker: the client reconnects, and
        the connect goes to whichever worker is free first (docs/performance.md).
        """
        if self.settings.web_concurrency <= 1:
            return False
        now = time.monotonic()
        if now - self.last_close < _REBALANCE_S:
            return False
        self.last_close = now
        return True


_REBALANCE_S = 0.2


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
    from callquality.api import routes, web

    own_engine = engine is None
    eng = engine or create_store_engine(settings.resolved_database_url)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        migrate(eng)
        purger = asyncio.create_task(_purge_periodically(eng, settings))
        yield
        purger.cancel()
        if own_engine:
            eng.dispose()

    app = FastAPI(
        title="callquality",
        version=__version__,
        description="WebRTC call-quality statistics, compatible with VideoSDK's sessions API.",
        default_response_class=OrjsonResponse,
        lifespan=lifespan,
    )
    app.state.cq = AppState(settings, eng)
    _install_error_handlers(app)

    app.add_middleware(AccessLog, metrics=app.state.cq.metrics)

    # Every body is bounded: MAX_BODY_BYTES, and the dump import its own larger limit
    # (inside CORS, so that a 413 carries the CORS headers too).
    app.add_middleware(
        BodyLimit,
        limit=settings.max_body_bytes,
        per_path={"/v2/sessions/import": settings.max_import_bytes + 64 * 1024},
        self_counting={"/v2/stats", "/v2/sessions/import"},
    )
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
    app.include_router(routes.router)
    app.include_router(web.router)
    return app
