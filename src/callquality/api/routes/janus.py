"""POST /v2/ingest/janus: the events of a Janus event handler (server-side statistics).

Janus's HTTP event handler (``janus.eventhandler.sampleevh``) can only authenticate with
HTTP basic credentials (``backend_user``/``backend_pwd``, libcurl's CURLOPT_USERNAME and
CURLOPT_PASSWORD in ``src/events/janus_sampleevh.c``): the user is the API key and the
password a token with the ``janus`` role (``callquality token --role janus``). A token in
``Authorization`` (raw or ``Bearer``) works too, for other senders. Bodies may be gzipped
(the handler's ``compress = true``).
"""

from __future__ import annotations

import base64
import binascii
import zlib
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from callquality.api.responses import OrjsonResponse
from callquality.api.routes._common import ERRORS, judge_alerts, now_ms, read_body, state
from callquality.domain.errors import AuthError, Forbidden, InvalidInput, PayloadTooLarge
from callquality.domain.session_ids import public_session_id
from callquality.service.janus import ingest_janus, parse_janus_body
from callquality.tokens import Claims

router = APIRouter(responses=ERRORS, tags=["ingest"])


class JanusAnswer(BaseModel):
    events: int = Field(description="events in the request")
    accepted: int = Field(description="interval samples stored (one per stream and interval)")
    duplicates: int = Field(description="samples already stored (a repeated request)")
    ignored: int = Field(description="events of kinds callquality does not read")
    sessionIds: list[str] = Field(description="the sessions the samples were assigned to")


def _janus_claims(request: Request) -> Claims:
    """The claims of the request's token: basic credentials (user = API key, password =
    token) or a token in Authorization; it must have the janus role."""
    app = state(request)
    header = (request.headers.get("authorization") or "").strip()
    user = None
    if header[:6].lower() == "basic ":
        try:
            user, _, header = base64.b64decode(header[6:], validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise AuthError("the basic credentials are not base64 of 'user:password'") from exc
    client = request.client.host if request.client is not None else ""
    caller = app.auth.claims(header, client)  # unknown keys limited per address
    app.limiter.check(caller.api_key)
    if user is not None and user != caller.api_key:
        raise AuthError(
            "the basic-auth user must be the token's API key: set backend_user to the key "
            "and backend_pwd to the token (janus.eventhandler.sampleevh.jcfg)"
        )
    if not caller.may_send_janus:
        raise Forbidden(
            "POST /v2/ingest/janus needs a token with the 'janus' role; make one with "
            "`callquality token --role janus`"
        )
    if caller.participant_id is not None:
        raise Forbidden("a token limited to one participant cannot send a media server's events")
    return caller


def _decoded(raw: bytes, encoding: str, limit: int) -> bytes:
    if encoding in ("", "identity"):
        return raw
    if encoding != "gzip":
        raise InvalidInput(f"Content-Encoding {encoding!r}: send gzip or no encoding")
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(raw, limit + 1)
    except zlib.error as exc:
        raise InvalidInput(f"the body is not valid gzip ({exc})") from exc
    if len(out) > limit or inflater.unconsumed_tail:
        raise PayloadTooLarge(f"the body inflates beyond {limit} bytes (MAX_BODY_BYTES)")
    return out


@router.post(
    "/v2/ingest/janus",
    status_code=202,
    response_model=JanusAnswer,
    summary="Send Janus event-handler events (one event or a list, as sampleevh posts them)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": ["object", "array"]}}},
        }
    },
)
async def post_janus(request: Request) -> Any:
    app = state(request)
    caller = await run_in_threadpool(_janus_claims, request)
    raw = _decoded(
        await read_body(request),
        request.headers.get("content-encoding", "").strip().lower(),
        app.settings.max_body_bytes,
    )
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"the body is not valid JSON ({exc})") from exc
    events = parse_janus_body(body)
    result = await run_in_threadpool(
        ingest_janus, app.engine, app.settings, caller.api_key, events, now_ms(),
        room_scope=caller.room_id,
    )
    await judge_alerts(app, caller.api_key, result.reported)
    app.metrics.ingest_items.labels("accepted").inc(result.accepted)
    app.metrics.ingest_items.labels("duplicate").inc(result.duplicates)
    return OrjsonResponse(
        {
            "events": result.events,
            "accepted": result.accepted,
            "duplicates": result.duplicates,
            "ignored": result.ignored,
            "sessionIds": [public_session_id(s) for s in result.session_ids],
        },
        status_code=202,
    )
