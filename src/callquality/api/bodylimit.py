"""A request body limit for every route (413), as ASGI middleware.

Bodies are refused by Content-Length first. Routes that read their body as a stream and count
it themselves (POST /v2/stats against MAX_BODY_BYTES, the dump import against its own larger
limit) get it as it comes; for the others (POST /v2/sessions/end, ...), whose body FastAPI
parses, the body is read here, up to the limit, and handed on whole.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

Scope = dict[str, Any]
Message = dict[str, Any]


class BodyLimit:
    """Refuse bodies over ``limit`` bytes (``per_path`` overrides by exact path)."""

    def __init__(
        self,
        app: Any,
        limit: int,
        per_path: Mapping[str, int] | None = None,
        self_counting: Collection[str] = (),
    ) -> None:
        self.app = app
        self.limit = limit
        self.per_path = dict(per_path or {})
        self.self_counting = frozenset(self_counting)

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        limit = self.per_path.get(path, self.limit)
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                await _send_413(scope, send, limit)
                return
        if path in self.self_counting:
            await self.app(scope, receive, send)
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
                await _send_413(scope, send, limit)
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


async def _send_413(scope: Scope, send: Any, limit: int) -> None:
    from callquality.api.app import error_response

    async def _no_body() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    message = f"the body is larger than {limit} bytes; send smaller requests (MAX_BODY_BYTES)"
    await error_response(413, message)(scope, _no_body, send)
