"""Webhook endpoints (``/v2/webhooks``): register, list, change, delete, test, delivery log."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from callquality.api.render import page_json
from callquality.api.responses import OrjsonResponse
from callquality.api.routes._common import ERRORS, PageNumber, PerPage, now_ms, reader, state
from callquality.domain.errors import Forbidden
from callquality.domain.timefmt import iso_ms
from callquality.query.sessions import Page
from callquality.service import webhooks as service
from callquality.service.events import WEBHOOK_TYPES, idempotency_key
from callquality.store.webhooks import Delivery, Endpoint
from callquality.tokens import Claims

router = APIRouter(responses=ERRORS, tags=["webhooks"])


def tenant_admin(caller: Annotated[Claims, Depends(reader)]) -> Claims:
    """A crawler token of the whole API key (not bound to a room or participant)."""
    if caller.room_id is not None or caller.participant_id is not None:
        raise Forbidden("webhooks and alert rules belong to the whole API key; use a crawler "
                        "token without roomId and participantId")
    return caller


def _ms(value: int | None) -> str | None:
    return iso_ms(value) if value is not None else None


def endpoint_json(endpoint: Endpoint, *, with_secret: bool = False) -> dict[str, Any]:
    """An endpoint; its secret only when it was made (create, rotate)."""
    body: dict[str, Any] = {
        "id": endpoint.endpoint_id,
        "url": endpoint.url,
        "events": list(endpoint.webhook_types),
        "description": endpoint.description,
        "enabled": endpoint.enabled,
        "createdAt": iso_ms(endpoint.created_ms),
        "updatedAt": iso_ms(endpoint.updated_ms),
    }
    if with_secret:
        body["secret"] = endpoint.secret
    return body


def delivery_json(d: Delivery) -> dict[str, Any]:
    """One line of the delivery log."""
    return {
        "eventId": d.event_id,
        "idempotencyKey": idempotency_key(d.event_key) if d.event_key else None,
        "webhookType": d.webhook_type,
        "status": d.status,
        "attempts": d.attempts,
        "lastStatusCode": d.last_status_code,
        "lastError": d.last_error,
        "createdAt": iso_ms(d.created_ms),
        "firstAttemptAt": _ms(d.first_attempt_ms),
        "lastAttemptAt": _ms(d.last_attempt_ms),
        "nextAttemptAt": _ms(d.next_attempt_ms) if d.status == "pending" else None,
        "deliveredAt": _ms(d.delivered_ms),
    }


class NewWebhook(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(description="http(s) URL that receives the POSTs", max_length=2000)
    events: list[str] | None = Field(
        None, description="webhook types to receive; all when left out: "
        + ", ".join(WEBHOOK_TYPES))
    description: str | None = Field(None, max_length=500)
    enabled: bool = True


class WebhookChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str | None = Field(None, max_length=2000)
    events: list[str] | None = None
    description: str | None = Field(None, max_length=500)
    enabled: bool | None = None
    rotateSecret: bool = Field(False, description="make a new signing secret (returned once)")


@router.post("/v2/webhooks", status_code=201)
def create_webhook(
    request: Request, body: NewWebhook, caller: Annotated[Claims, Depends(tenant_admin)]
) -> Any:
    """Register an endpoint; the answer holds its signing secret, shown only here."""
    app = state(request)
    endpoint = service.create_endpoint(
        app.engine, app.settings, caller.api_key, url=body.url, types=body.events,
        description=body.description, enabled=body.enabled, now_ms=now_ms(),
    )
    return OrjsonResponse(endpoint_json(endpoint, with_secret=True), status_code=201)


@router.get("/v2/webhooks")
def list_webhooks(request: Request, caller: Annotated[Claims, Depends(tenant_admin)]) -> Any:
    """The API key's endpoints."""
    found = service.list_endpoints(state(request).engine, caller.api_key)
    return OrjsonResponse({"data": [endpoint_json(e) for e in found]})


@router.get("/v2/webhooks/{webhookId}")
def get_webhook(
    request: Request, webhookId: str, caller: Annotated[Claims, Depends(tenant_admin)]
) -> Any:
    """One endpoint."""
    return OrjsonResponse(endpoint_json(
        service.get_endpoint(state(request).engine, caller.api_key, webhookId)))


@router.patch("/v2/webhooks/{webhookId}")
def change_webhook(
    request: Request, webhookId: str, body: WebhookChange,
    caller: Annotated[Claims, Depends(tenant_admin)],
) -> Any:
    """Change an endpoint's url, events, description or enabled flag; rotate its secret."""
    app = state(request)
    given = body.model_fields_set
    changes: dict[str, Any] = {
        name: getattr(body, name) for name in ("url", "events", "description", "enabled")
        if name in given
    }
    changes["rotate_secret"] = body.rotateSecret
    endpoint = service.update_endpoint(app.engine, app.settings, caller.api_key, webhookId,
                                       changes, now_ms())
    return OrjsonResponse(endpoint_json(endpoint, with_secret=body.rotateSecret))


@router.delete("/v2/webhooks/{webhookId}", status_code=204)
def delete_webhook(
    request: Request, webhookId: str, caller: Annotated[Claims, Depends(tenant_admin)]
) -> Response:
    """Delete an endpoint, its queue and its log."""
    service.delete_endpoint(state(request).engine, caller.api_key, webhookId)
    return Response(status_code=204)


@router.post("/v2/webhooks/{webhookId}/test")
async def test_webhook(
    request: Request, webhookId: str, caller: Annotated[Claims, Depends(tenant_admin)]
) -> Any:
    """Send a signed ``test`` event to the endpoint now, once, and say what it answered."""
    app = state(request)
    result = await run_in_threadpool(
        service.send_test_event, app.engine, app.settings, caller.api_key, webhookId, now_ms()
    )
    return OrjsonResponse({
        "eventId": result.event_id,
        "idempotencyKey": result.idempotency_key,
        "delivered": result.outcome.delivered,
        "statusCode": result.outcome.status_code,
        "error": result.outcome.error,
        "durationMs": result.outcome.duration_ms,
    })


@router.get("/v2/webhooks/{webhookId}/deliveries")
def webhook_deliveries(
    request: Request, webhookId: str, caller: Annotated[Claims, Depends(tenant_admin)],
    status: Literal["pending", "delivered", "failed"] | None = None,
    page: PageNumber = 1, perPage: PerPage = 20,
) -> Any:
    """The endpoint's delivery log, newest event first: status, attempts, last error."""
    found, total = service.deliveries(state(request).engine, caller.api_key, webhookId,
                                      status=status, page=page, per_page=perPage)
    return OrjsonResponse({
        "pageInfo": page_json(Page(page, perPage, total)),
        "data": [delivery_json(d) for d in found],
    })
