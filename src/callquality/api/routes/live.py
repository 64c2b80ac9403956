"""The live view: ``GET /v2/sessions/{sessionId}/live``, Server-Sent Events of an ongoing
session's new intervals, and the ticket that opens it from an EventSource.

A stream finds the new intervals in the samples table (every ``POLL_S``) in the direct mode,
and on the session's NATS subject (service/intervals.py) with the ingest log, where the
processors store them and the API has nothing to poll."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from callquality.api.auth import check_scope, require_reader
from callquality.api.responses import OrjsonResponse
from callquality.api.routes._common import ERRORS, now_ms, reader, state
from callquality.api.routes.stats import session_for_reader
from callquality.api.state import AppState
from callquality.domain.errors import AuthError
from callquality.domain.session_ids import public_session_id
from callquality.domain.timefmt import iso_ms
from callquality.query import sessions as q_sessions
from callquality.service import live
from callquality.service.intervals import SessionFeed
from callquality.store.db import read_transaction
from callquality.store.keys import secret_for
from callquality.tokens import Claims

log = logging.getLogger("callquality.api")

router = APIRouter(responses=ERRORS, tags=["sessions"])

POLL_S = 0.5  # how often a stream looks for new intervals (the dashboard's 2-s budget)
# With the ingest log, new intervals come on NATS as they are stored (service/intervals.py);
# the stream reads its session this often for its end, and the table this often (and after
# a lost connection to NATS) for what NATS may not have brought: it is at most once.
CHECK_S = 2.0
CATCH_UP_S = 30.0
KEEPALIVE_S = 15.0  # a comment line, so that proxies keep an idle stream open
MAX_STREAM_S = 3600.0  # then the client reconnects (EventSource does, with Last-Event-ID)


@router.post("/v2/sessions/{sessionId}/live/ticket")
def live_ticket(
    request: Request, sessionId: str, caller: Annotated[Claims, Depends(reader)]
) -> Any:
    """A short-lived ticket that opens this session's live stream from an EventSource
    (which cannot send Authorization): ``GET .../live?ticket=...``."""
    app = state(request)
    session = session_for_reader(app, caller, sessionId)
    with read_transaction(app.engine) as conn:
        secret = secret_for(conn, caller.api_key)
    if secret is None:
        raise AuthError("the token's apikey is not known here")
    expires = now_ms() + app.settings.live_ticket_ttl_s * 1000
    public_id = public_session_id(session.session_id)  # the id the tenant knows
    ticket = live.make_ticket(secret, live.Ticket(
        caller.api_key, public_id, caller.participant_id, expires))
    return OrjsonResponse({
        "ticket": ticket,
        "expiresAt": iso_ms(expires),
        "url": f"/v2/sessions/{public_id}/live?ticket={ticket}",
    })


def _grant(app: AppState, request: Request, session_id: str,
           ticket: str | None) -> tuple[str, str | None]:
    """(api key, participant filter) of a caller with a ticket or an Authorization header."""
    if ticket is not None:
        grant = live.verify_ticket(app.engine, ticket, session_id, now_ms())
        return grant.api_key, grant.participant_id
    caller = app.auth.claims(request.headers.get("authorization"))
    app.limiter.check(caller.api_key)
    require_reader(caller)
    with read_transaction(app.engine) as conn:
        session = q_sessions.get_session(conn, caller.api_key, session_id)
    check_scope(caller, session.room_id, caller.participant_id, f"session {session_id}")
    return caller.api_key, caller.participant_id


async def _feed(app: AppState, api_key: str, session_id: str) -> SessionFeed | None:
    """The session's interval subject, with the ingest log (else None: read the table)."""
    if app.ingest_log is None:
        return None
    try:
        return await SessionFeed.open(app.ingest_log.connection, api_key, session_id)
    except Exception:  # NATS away: this stream reads the table as in the direct mode
        log.warning("live view: no NATS subscription; reading the table")
        return None


def _sse(event: str, data: Any, event_id: str | None = None) -> bytes:
    head = f"event: {event}\n" + (f"id: {event_id}\n" if event_id else "")
    return head.encode() + b"data: " + orjson.dumps(data) + b"\n\n"


@router.get(
    "/v2/sessions/{sessionId}/live",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def live_view(
    request: Request,
    sessionId: str,
    ticket: Annotated[str | None, Query(max_length=2000, description=(
        "from POST /v2/sessions/{sessionId}/live/ticket; or send Authorization instead"))] = None,
) -> Any:
    """Server-Sent Events: ``hello``, then an ``interval`` per new sample of the session
    (or of the token's participant), then ``ended`` when the session ends."""
    app = state(request)
    api_key, participant_id = await run_in_threadpool(_grant, app, request, sessionId, ticket)
    settings = app.settings

    def read_session() -> Any:
        with read_transaction(app.engine) as conn:
            return q_sessions.get_session(conn, api_key, sessionId)  # 404 for another key's

    session = await run_in_threadpool(read_session)
    last_event = request.headers.get("last-event-id", "")
    since = int(last_event) if last_event.isdigit() else now_ms() - 1000
    # The stored id: a tenant's session may be stored scoped (domain/session_ids.py).
    cursor = live.Cursor(session.session_id, participant_id, since)
    sent = app.metrics.live_intervals

    def check(read_table: bool) -> tuple[Any, list[dict[str, Any]]]:
        """The session now (has it ended?), and the table's intervals not sent yet."""
        with read_transaction(app.engine) as conn:
            current = q_sessions.get_session(conn, api_key, sessionId)
            return current, cursor.poll(conn) if read_table else []

    async def stream() -> AsyncIterator[bytes]:
        status = session.status(now_ms(), settings.idle_timeout_s)
        yield b"retry: 2000\n\n" + _sse("hello", {"sessionId": sessionId, "status": status})
        # With the ingest log, subscribe before the first read of the table, so that what
        # is stored in between comes one way or the other (the cursor sends it once).
        feed = await _feed(app, api_key, session.session_id)
        started = last_beat = time.monotonic()
        next_check = next_read = started
        try:
            while time.monotonic() - started < MAX_STREAM_S:
                if time.monotonic() >= next_check:
                    read_table = feed is None or feed.reconnected() or (
                        time.monotonic() >= next_read)
                    current, fresh = await run_in_threadpool(check, read_table)
                    for interval in fresh:
                        yield _sse("interval", interval, str(cursor.newest_ms))
                    sent.labels("table").inc(len(fresh))
                    ended_at = current.ended_at(now_ms(), settings.idle_timeout_s)
                    if ended_at is not None:
                        yield _sse("ended", {"sessionId": sessionId, "end": iso_ms(ended_at)})
                        return
                    next_check = time.monotonic() + (POLL_S if feed is None else CHECK_S)
                    if read_table:
                        next_read = time.monotonic() + CATCH_UP_S
                if time.monotonic() - last_beat > KEEPALIVE_S:
                    last_beat = time.monotonic()
                    yield b": keepalive\n\n"
                wait_s = max(0.0, next_check - time.monotonic())
                if feed is None:
                    await asyncio.sleep(wait_s)
                    continue
                fresh = cursor.take(await feed.next(max(0.01, wait_s)))
                for interval in fresh:
                    yield _sse("interval", interval, str(cursor.newest_ms))
                sent.labels("log").inc(len(fresh))
        finally:
            if feed is not None:
                await feed.close()

    return StreamingResponse(stream(), media_type="text/event-stream", headers={
        "Cache-Control": "no-store", "X-Accel-Buffering": "no",
    })
