"""Rooms, read side, as VideoSDK's rooms API shows them, so that every ``links.get_room``
resolves. A room here is derived from the API key's sessions (query/rooms.py): there is no
room to create, update or deactivate, since a self-hosted collector opens sessions itself."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from callquality.api.auth import check_scope
from callquality.api.render import page_json, room_json
from callquality.api.responses import OrjsonResponse
from callquality.api.routes._common import ERRORS, PageNumber, PerPage, base_url, reader, state
from callquality.query import rooms as q_rooms
from callquality.store.db import read_transaction
from callquality.tokens import Claims

router = APIRouter(responses=ERRORS, tags=["rooms"])


@router.get("/v2/rooms", include_in_schema=False)
@router.get("/v2/rooms/")
def list_rooms(
    request: Request,
    caller: Annotated[Claims, Depends(reader)],
    page: PageNumber = 1,
    perPage: PerPage = 20,
) -> Any:
    """The API key's rooms (a token bound to a room sees that room alone), newest first."""
    app = state(request)
    with read_transaction(app.engine) as conn:
        found, page_info = q_rooms.list_rooms(
            conn, caller.api_key, room_id=caller.room_id, page=page, per_page=perPage
        )
    url = base_url(request)
    return OrjsonResponse(
        {"pageInfo": page_json(page_info), "data": [room_json(r, url) for r in found]}
    )


@router.get("/v2/rooms/{roomId:path}")
def get_room(
    request: Request, roomId: str, caller: Annotated[Claims, Depends(reader)]
) -> Any:
    """One room, by its roomId or customRoomId; another API key's room is a 404."""
    app = state(request)
    with read_transaction(app.engine) as conn:
        room = q_rooms.get_room(conn, caller.api_key, roomId)
    check_scope(caller, room.room_id, caller.participant_id, f"room {room.room_id}")
    return OrjsonResponse(room_json(room, base_url(request)))
