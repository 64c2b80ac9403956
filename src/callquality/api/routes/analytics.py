"""Fleet analytics: GET /v2/analytics/quality and /v2/analytics/worst (docs/api.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import PlainTextResponse

from callquality.api.render import csv_text, page_json, quality_group_json, worst_json
from callquality.api.responses import OrjsonResponse
from callquality.api.routes._common import (
    CSV_OR_JSON,
    ERRORS,
    PageNumber,
    PerPage,
    base_url,
    now_ms,
    reader,
    state,
)
from callquality.domain.errors import Forbidden, InvalidInput
from callquality.query import analytics
from callquality.query.sessions import Page
from callquality.service.summaries import refresh_dirty
from callquality.store.analytics import Scope
from callquality.store.db import read_transaction
from callquality.tokens import Claims

router = APIRouter(responses=ERRORS, tags=["analytics"])
DEFAULT_PERIOD_MS = 30 * 86_400_000
FILTER_HELP = "comma-separated values of this dimension; 'unknown' matches a missing value"
Filter = Annotated[str | None, Query(description=FILTER_HELP)]


def _time(name: str, raw: str | None, default: int) -> int:
    if raw is None or raw == "":
        return default
    if raw.isdigit():
        return int(raw)
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(
            f"{name}={raw!r} is neither epoch milliseconds nor an ISO 8601 time; send e.g. "
            f"{name}=1767225600000 or {name}=2026-01-01T00:00:00Z"
        ) from None
    if parsed.tzinfo is None:
        raise InvalidInput(f"{name}={raw!r} has no time zone; end it with Z or +00:00")
    return int(parsed.timestamp() * 1000)


def _group_by(raw: str) -> list[str]:
    if raw == "all":
        return []  # one group: the whole scope
    names = [n.strip() for n in raw.split(",") if n.strip()]
    wrong = [n for n in names if n not in analytics.DIMENSIONS]
    if not names or len(names) > 2 or wrong or len(set(names)) != len(names):
        raise InvalidInput(
            f"groupBy={raw!r}: give one or two different dimensions, comma-separated, of "
            f"{', '.join(analytics.DIMENSIONS)}; or all (one group)"
        )
    return names


def _scope(
    caller: Claims, from_: str | None, to: str | None, kind: str | None,
    filters: dict[str, str | None],
) -> Scope:
    if caller.participant_id is not None:
        raise Forbidden("a participant-bound token reads only its own participant's stats; "
                        "fleet analytics need a crawler token without participantId")
    now = now_ms()
    to_ms = _time("to", to, now)
    from_ms = _time("from", from_, to_ms - DEFAULT_PERIOD_MS)
    if from_ms >= to_ms:
        raise InvalidInput(f"from ({from_ms}) must be before to ({to_ms})")
    parsed = {k: [v.strip() for v in raw.split(",") if v.strip()]
              for k, raw in filters.items() if raw}
    for name in ("day", "hour"):
        if any(not v.isdigit() for v in parsed.get(name, [])):
            raise InvalidInput(f"{name}: give {name}s since 1970 as integers, as groupBy "
                               f"returns them in 'key'")
    if caller.room_id is not None:  # a room-bound token sees that room alone
        parsed["room"] = [caller.room_id]
    return Scope(caller.api_key, from_ms, to_ms, parsed, kind)


Kind = Annotated[Literal["audio", "video"] | None, Query(description="one media kind")]
From = Annotated[str | None, Query(alias="from", description="epoch ms or ISO 8601; "
                                   "default: 30 days before to")]
To = Annotated[str | None, Query(description="epoch ms or ISO 8601 (excluded); default: now")]


@router.get("/v2/analytics/quality", responses=CSV_OR_JSON)
def quality(
    request: Request,
    caller: Annotated[Claims, Depends(reader)],
    groupBy: str = "day",
    from_: From = None,
    to: To = None,
    kind: Kind = None,
    browser: Filter = None, os: Filter = None, device: Filter = None, sdk: Filter = None,
    connection: Filter = None, network: Filter = None, country: Filter = None,
    asn: Filter = None, codec: Filter = None, room: Filter = None, day: Filter = None,
    hour: Filter = None,
    page: PageNumber = 1,
    perPage: Annotated[int, Query(ge=1, le=1000)] = 100,
    format: Literal["json", "csv"] = "json",
) -> Any:
    """Participant-sessions, minutes, poor-stream rate, MOS p50/p5 and top causes per group."""
    names = _group_by(groupBy)
    filters = {"browser": browser, "os": os, "device": device, "sdk": sdk,
               "connection": connection, "network": network, "country": country, "asn": asn,
               "codec": codec, "room": room, "day": day, "hour": hour}
    scope = _scope(caller, from_, to, kind, filters)
    app = state(request)
    refresh_dirty(app.engine, caller.api_key, now_ms())
    with read_transaction(app.engine) as conn:
        groups = analytics.quality(conn, scope, names)
    total = len(groups)
    shown = groups[(page - 1) * perPage: page * perPage]
    data = [quality_group_json(g, names) for g in shown]
    if format == "csv":
        return PlainTextResponse(
            csv_text(data), media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="analytics-quality.csv"'},
        )
    return OrjsonResponse({
        "groupBy": names,
        "from": scope.from_ms,
        "to": scope.to_ms,
        "kind": kind,
        "data": data,
        "pageInfo": page_json(Page(page, perPage, total)),
    })


@router.get("/v2/analytics/worst", responses=CSV_OR_JSON)
def worst(
    request: Request,
    caller: Annotated[Claims, Depends(reader)],
    from_: From = None,
    to: To = None,
    kind: Kind = None,
    browser: Filter = None, os: Filter = None, device: Filter = None, sdk: Filter = None,
    connection: Filter = None, network: Filter = None, country: Filter = None,
    asn: Filter = None, codec: Filter = None, room: Filter = None,
    page: PageNumber = 1,
    perPage: PerPage = 20,
    format: Literal["json", "csv"] = "json",
) -> Any:
    """The participant-sessions of the period with the largest poor share, then lowest MOS."""
    filters = {"browser": browser, "os": os, "device": device, "sdk": sdk,
               "connection": connection, "network": network, "country": country, "asn": asn,
               "codec": codec, "room": room}
    scope = _scope(caller, from_, to, kind, filters)
    app = state(request)
    refresh_dirty(app.engine, caller.api_key, now_ms())
    with read_transaction(app.engine) as conn:
        rows, total = analytics.worst(conn, scope, perPage, (page - 1) * perPage)
    data = [worst_json(r, base_url(request)) for r in rows]
    if format == "csv":
        return PlainTextResponse(
            csv_text(data), media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="analytics-worst.csv"'},
        )
    return OrjsonResponse({
        "from": scope.from_ms,
        "to": scope.to_ms,
        "kind": kind,
        "data": data,
        "pageInfo": page_json(Page(page, perPage, total)),
    })
