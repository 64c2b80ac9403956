"""The one request-body limit (413), as ASGI middleware, for every route.

Bodies are refused by Content-Length first. Then the body is counted as it arrives: routes
that read their body as a stream (POST /v2/stats, the dump import) get it chunk by chunk,
and the chunk that passes the limit raises ``PayloadTooLarge`` inside the route, which the
error handlers answer as 413; for the others, whose body FastAPI parses, the body is read
here, up to the limit, and handed on whole.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from callquality.api.errors import error_response
from callquality.config import Settings
from callquality.domain.errors import PayloadTooLarge

Scope = dict[str, Any]
Message = dict[str, Any]

IMPORT_PATH = "/v2/sessions/import"
STREAMED_PATHS = frozenset({"/v2/stats", IMPORT_PATH})
# A multipart upload carries its boundaries and part headers beside the file.
MULTIPART_OVERHEAD_BYTES = 64 * 1024


def limits_from(settings: Settings) -> tuple[int, dict[str, int]]:
    """The default limit and the per-path ones: MAX_BODY_BYTES, and MAX_IMPORT_BYTES (plus
    the multipart overhead) for the dump import."""
    per_path = {IMPORT_PATH: settings.max_import_bytes + MULTIPART_OVERHEAD_BYTES}
    return settings.max_body_bytes, per_path


def _message(limit: int, path: str) -> str:
    setting = "MAX_IMPORT_BYTES" if path == IMPORT_PATH else "MAX_BODY_BYTES"
    return f"the body is larger than {limit} bytes; send less per request ({setting})"


class BodyLimit:
    """Refuse bodies over ``limit`` bytes (``per_path`` overrides by exact path)."""

    def __init__(
        self,
        app: Any,
        limit: int,
        per_path: Mapping[str, int] | None = None,
        streamed: Collection[str] = STREAMED_PATHS,
    ) -> None:
        self.app = app
        self.limit = limit
        self.per_path = dict(per_path or {})
        self.streamed = frozenset(streamed)

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        limit = self.per_path.get(path, self.limit)
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                await _send_413(scope, send, _message(limit, path))
                return
        if path in self.streamed:
            await self.app(scope, _counting(receive, limit, _message(limit, path)), send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message: Message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _send_413(scope, send, _message(limit, path))
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return dict(await receive())  # after the body: wait for the disconnect

        await self.app(scope, replay, send)


def _counting(receive: Any, limit: int, message: str) -> Any:
    size = 0

    async def counted() -> Message:
        nonlocal size
        got: Message = await receive()
        if got["type"] == "http.request":
            size += len(got.get("body", b""))
            if size > limit:
                raise PayloadTooLarge(message)
        return got

    return counted


async def _send_413(scope: Scope, send: Any, message: str) -> None:
    async def _no_body() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    await error_response(413, message)(scope, _no_body, send)
