"""Domain errors to HTTP, in one place: one status per exception class, one error body.

Every error answer is CONTRACT.md's ``{"statusCode", "error", "message"}``, with ``error``
the status's standard phrase (``http.HTTPStatus``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from callquality.api.responses import OrjsonResponse
from callquality.domain.errors import (
    AuthError,
    CallQualityError,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    Retryable,
    StoreUnavailable,
)

log = logging.getLogger("callquality.api")

STATUS_OF: dict[type[CallQualityError], HTTPStatus] = {
    InvalidInput: HTTPStatus.BAD_REQUEST,
    AuthError: HTTPStatus.UNAUTHORIZED,
    Forbidden: HTTPStatus.FORBIDDEN,
    NotFound: HTTPStatus.NOT_FOUND,
    Conflict: HTTPStatus.CONFLICT,
    PayloadTooLarge: HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
    RateLimited: HTTPStatus.TOO_MANY_REQUESTS,
    StoreUnavailable: HTTPStatus.SERVICE_UNAVAILABLE,
}


def status_of(exc: CallQualityError) -> HTTPStatus:
    """The HTTP status of a domain error (its nearest class in the table)."""
    for cls in type(exc).__mro__:
        if cls in STATUS_OF:
            return STATUS_OF[cls]
    return HTTPStatus.INTERNAL_SERVER_ERROR


# RFC 7231's name for 413, which CONTRACT.md uses; Python's phrase depends on its version
# ("Request Entity Too Large" before 3.13, "Content Too Large" after).
_PHRASES = {HTTPStatus.REQUEST_ENTITY_TOO_LARGE: "Payload Too Large"}


def phrase(status: int) -> str:
    """The ``error`` of an error body: the status's standard phrase."""
    return _PHRASES.get(HTTPStatus(status), HTTPStatus(status).phrase)


def error_response(
    status: int, message: str, headers: Mapping[str, str] | None = None
) -> Response:
    """The contract's error body: {statusCode, error, message}."""
    return OrjsonResponse(
        {"statusCode": status, "error": phrase(status), "message": message},
        status_code=status,
        headers=headers,
    )


def _validation_message(exc: RequestValidationError) -> str:
    err = exc.errors()[0]
    loc = [str(p) for p in err.get("loc", ()) if p not in ("query", "path", "body")]
    where = ".".join(loc) or "request"
    return f"{where}: {err.get('msg', 'invalid value')}"


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers: domain errors, validation, routing, and anything else (500)."""

    @app.exception_handler(CallQualityError)
    async def _domain(_: Request, exc: CallQualityError) -> Response:
        headers = None
        if isinstance(exc, Retryable):
            headers = {"Retry-After": str(exc.retry_after_s)}
        if isinstance(exc, StoreUnavailable):
            log.warning("store unavailable: %s", exc.__cause__.__class__.__name__)
        return error_response(status_of(exc), exc.message, headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> Response:
        return error_response(HTTPStatus.BAD_REQUEST, _validation_message(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        message = str(exc.detail)
        if exc.status_code == HTTPStatus.NOT_FOUND:
            message = f"no route {request.url.path}; see /docs for the API"
        elif exc.status_code == HTTPStatus.METHOD_NOT_ALLOWED:
            message = f"{request.method} is not allowed on {request.url.path}; see /docs"
        return error_response(exc.status_code, message, exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> Response:
        log.exception("unhandled error: %s", exc.__class__.__name__)
        return error_response(
            HTTPStatus.INTERNAL_SERVER_ERROR, "internal error; the server log has the details"
        )
