"""POST /v2/sessions/import: a dump file becomes a session."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool

from callquality.api.auth import check_scope, require_importer
from callquality.api.ingest_models import ID_MAX_LENGTH, ID_PATTERN
from callquality.api.responses import OrjsonResponse
from callquality.api.routes._common import ERRORS, claims, state
from callquality.domain.errors import InvalidInput
from callquality.ingest.dumps.diagnose import PeerConnectionSummary
from callquality.service.imports import import_file

router = APIRouter(responses=ERRORS, tags=["ingest"])


_ROOM_ID = re.compile(ID_PATTERN)


def _room_id(room: str | None) -> str | None:
    """The roomId field, checked as ingest checks an item's roomId."""
    if room is not None and (len(room) > ID_MAX_LENGTH or not _ROOM_ID.match(room)):
        raise InvalidInput(
            f"roomId: at most {ID_MAX_LENGTH} characters, none of them a control character "
            "(NUL, newline, ...); send the room's id as ingest does, or leave it out"
        )
    return room


@router.post(
    "/v2/sessions/import",
    status_code=201,
    responses={
        201: {"description": "the dump's session, what each peer connection gave, warnings"},
        200: {
            "description": "a valid dump with nothing to store: sessionId is null and "
            "warnings say why (a Jicofo dump holds no media statistics)"
        },
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {
                            "file": {"type": "string", "format": "binary"},
                            "roomId": {
                                "type": "string",
                                "maxLength": ID_MAX_LENGTH,
                                "pattern": ID_PATTERN,
                                "description": "the room of the new session; absent or "
                                "empty: import-<file name>",
                            },
                        },
                    }
                }
            },
        }
    },
)
async def import_dump(request: Request) -> Any:
    """Import a browser's dump (webrtc-internals, RTCStatsDump, rtcstats) or a jitsi
    videobridge's as a new session; the answer says what was used, skipped, and why."""
    app = state(request)
    caller = await run_in_threadpool(claims, request)
    require_importer(caller)
    limit = app.settings.max_import_bytes
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise InvalidInput("send the dump as multipart/form-data with a 'file' field")
    form = await request.form(max_files=1, max_fields=4, max_part_size=limit)
    upload = form.get("file")
    room = form.get("roomId")
    if upload is None or isinstance(upload, str):
        raise InvalidInput("file: required; send the dump as the multipart field 'file'")
    if room is not None and not isinstance(room, str):
        raise InvalidInput("roomId: must be a text field")
    room_id = _room_id(room or None)
    if caller.room_id is not None:
        check_scope(caller, room_id or caller.room_id, None, "roomId")
        room_id = caller.room_id
    data = await upload.read()
    name = upload.filename or "dump"
    result = await run_in_threadpool(
        import_file, app.engine, app.settings, caller.api_key, data,
        name=name, room_id=room_id, max_bytes=limit,
    )
    return OrjsonResponse(
        {
            "sessionId": result.session_id,
            "roomId": result.room_id,
            "format": result.format,
            "browser": result.browser,
            "reports": result.reports,
            "peerConnections": list(result.peer_connections),
            "source": result.source,
            "samplesWithMedia": result.usable_samples,
            "warnings": list(result.warnings),
            "peerConnectionDetails": [_detail(pc) for pc in result.details],
        },
        status_code=201 if result.session_id is not None else 200,
    )


def _detail(pc: PeerConnectionSummary) -> dict[str, Any]:
    return {
        "peerConnectionId": pc.peer_connection_id,
        "stats": pc.stats,
        "reports": pc.reports,
        "intervals": pc.intervals,
        "intervalsWithMedia": pc.with_media,
        "skipped": [{"reason": r, "reports": n} for r, n in pc.skipped.items()],
        "withoutMedia": [{"reason": r, "intervals": n} for r, n in pc.without_media.items()],
        "warning": pc.warning,
    }
