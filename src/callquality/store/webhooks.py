"""Webhook endpoints, their delivery queues and leases (docs/webhooks.md)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, and_, delete, exists, func, or_, select, update

from callquality.store import bulk
from callquality.store.db import is_postgres
from callquality.store.schema import events, webhook_deliveries, webhook_endpoints


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A registered webhook endpoint."""

    endpoint_id: str
    api_key: str
    url: str
    secret: str
    webhook_types: tuple[str, ...]
    description: str | None
    enabled: bool
    created_ms: int
    updated_ms: int


def _endpoint(row: Any) -> Endpoint:
    return Endpoint(
        endpoint_id=row.endpoint_id, api_key=row.api_key, url=row.url, secret=row.secret,
        webhook_types=tuple(orjson.loads(row.webhook_types)), description=row.description,
        enabled=bool(row.enabled), created_ms=int(row.created_ms),
        updated_ms=int(row.updated_ms),
    )


def insert_endpoint(conn: Connection, endpoint: Endpoint) -> None:
    """Store a new endpoint."""
    conn.execute(webhook_endpoints.insert().values(
        endpoint_id=endpoint.endpoint_id, api_key=endpoint.api_key, url=endpoint.url,
        secret=endpoint.secret, webhook_types=orjson.dumps(list(endpoint.webhook_types)).decode(),
        description=endpoint.description, enabled=int(endpoint.enabled),
        created_ms=endpoint.created_ms, updated_ms=endpoint.updated_ms,
    ))


def get_endpoint(conn: Connection, api_key: str, endpoint_id: str) -> Endpoint | None:
    """One endpoint of an API key."""
    row = conn.execute(select(webhook_endpoints).where(
        webhook_endpoints.c.endpoint_id == endpoint_id, webhook_endpoints.c.api_key == api_key,
    )).first()
    return _endpoint(row) if row is not None else None


def list_endpoints(conn: Connection, api_key: str) -> list[Endpoint]:
    """An API key's endpoints, oldest first."""
    rows = conn.execute(
        select(webhook_endpoints).where(webhook_endpoints.c.api_key == api_key)
        .order_by(webhook_endpoints.c.created_ms, webhook_endpoints.c.endpoint_id)
    )
    return [_endpoint(r) for r in rows]


def enabled_endpoints(conn: Connection, api_keys: Iterable[str]) -> dict[str, list[Endpoint]]:
    """The enabled endpoints of several API keys."""
    keys = sorted(set(api_keys))
    found: dict[str, list[Endpoint]] = {k: [] for k in keys}
    if keys:
        rows = conn.execute(select(webhook_endpoints).where(
            webhook_endpoints.c.api_key.in_(keys), webhook_endpoints.c.enabled == 1,
        ))
        for row in rows:
            found[row.api_key].append(_endpoint(row))
    return found


def replace_endpoint(conn: Connection, endpoint: Endpoint) -> None:
    """Store an endpoint's new url, types, description, enabled flag and secret."""
    conn.execute(
        update(webhook_endpoints)
        .where(webhook_endpoints.c.endpoint_id == endpoint.endpoint_id,
               webhook_endpoints.c.api_key == endpoint.api_key)
        .values(url=endpoint.url, secret=endpoint.secret,
                webhook_types=orjson.dumps(list(endpoint.webhook_types)).decode(),
                description=endpoint.description, enabled=int(endpoint.enabled),
                updated_ms=endpoint.updated_ms)
    )


def delete_endpoint(conn: Connection, api_key: str, endpoint_id: str) -> bool:
    """Delete an endpoint and its delivery log; whether it existed."""
    result = conn.execute(delete(webhook_endpoints).where(
        webhook_endpoints.c.endpoint_id == endpoint_id, webhook_endpoints.c.api_key == api_key,
    ))
    conn.execute(delete(webhook_deliveries).where(
        webhook_deliveries.c.endpoint_id == endpoint_id, webhook_deliveries.c.api_key == api_key,
    ))
    return bool(result.rowcount)


def add_deliveries(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Queue deliveries (one per endpoint and event; a queued one stays as it is)."""
    bulk.insert_many(conn, webhook_deliveries, rows, _deliveries_conflict)


def _deliveries_conflict(stmt: Any) -> Any:
    return stmt.on_conflict_do_nothing(index_elements=["endpoint_id", "event_id"])


def _pending() -> Any:
    return exists().where(
        webhook_deliveries.c.endpoint_id == webhook_endpoints.c.endpoint_id,
        webhook_deliveries.c.status == "pending",
    )


def _claimable(now_ms: int) -> Any:
    return and_(
        or_(webhook_endpoints.c.lease_until_ms.is_(None),
            webhook_endpoints.c.lease_until_ms < now_ms),
        or_(webhook_endpoints.c.blocked_until_ms.is_(None),
            webhook_endpoints.c.blocked_until_ms <= now_ms),
        webhook_endpoints.c.enabled == 1,
    )


def has_due_endpoint(conn: Connection, now_ms: int) -> bool:
    """Whether some endpoint has a delivery to make now and no lease (a read)."""
    query = select(webhook_endpoints.c.endpoint_id).where(_claimable(now_ms), _pending())
    return conn.execute(query.limit(1)).first() is not None


def claim_endpoints(
    conn: Connection, owner: str, now_ms: int, lease_ms: int, limit: int
) -> list[str]:
    """Lease up to ``limit`` endpoints with a delivery due and no live lease: the lease
    holder alone delivers an endpoint's queue, in order, until the lease ends. PostgreSQL
    skips the rows another process is claiming; the outer condition is checked again on the
    locked row, so two claimers never both win one endpoint."""
    candidates = (
        select(webhook_endpoints.c.endpoint_id).where(_claimable(now_ms), _pending())
        .order_by(webhook_endpoints.c.endpoint_id).limit(limit)
    )
    if is_postgres(conn):
        candidates = candidates.with_for_update(skip_locked=True, of=webhook_endpoints)
    statement = (
        update(webhook_endpoints)
        .where(webhook_endpoints.c.endpoint_id.in_(candidates.scalar_subquery()),
               _claimable(now_ms))
        .values(lease_owner=owner, lease_until_ms=now_ms + lease_ms)
        .returning(webhook_endpoints.c.endpoint_id)
    )
    return sorted(r[0] for r in conn.execute(statement))


@dataclass(frozen=True, slots=True)
class Delivery:
    """One (endpoint, event) delivery and its retry state."""

    endpoint_id: str
    event_id: int
    status: str
    attempts: int
    created_ms: int
    next_attempt_ms: int | None
    first_attempt_ms: int | None
    last_attempt_ms: int | None
    last_status_code: int | None
    last_error: str | None
    delivered_ms: int | None
    webhook_type: str | None = None
    event_key: str | None = None


def _delivery(row: Any) -> Delivery:
    return Delivery(
        endpoint_id=row.endpoint_id, event_id=int(row.event_id), status=row.status,
        attempts=int(row.attempts), created_ms=int(row.created_ms),
        next_attempt_ms=row.next_attempt_ms, first_attempt_ms=row.first_attempt_ms,
        last_attempt_ms=row.last_attempt_ms, last_status_code=row.last_status_code,
        last_error=row.last_error, delivered_ms=row.delivered_ms,
        webhook_type=getattr(row, "webhook_type", None),
        event_key=getattr(row, "event_key", None),
    )


def queue_head(conn: Connection, endpoint_id: str) -> Delivery | None:
    """The oldest pending delivery of an endpoint (its queue's head)."""
    row = conn.execute(
        select(webhook_deliveries)
        .where(webhook_deliveries.c.endpoint_id == endpoint_id,
               webhook_deliveries.c.status == "pending")
        .order_by(webhook_deliveries.c.event_id).limit(1)
    ).first()
    return _delivery(row) if row is not None else None


def renew_lease(
    conn: Connection, endpoint_id: str, owner: str, lease_until_ms: int | None,
    blocked_until_ms: int | None = None,
) -> bool:
    """Move (or, with None, end) the lease of an endpoint this owner still holds, and set
    when its head may be tried next; False when the lease went to another process."""
    values: dict[str, Any] = {"lease_until_ms": lease_until_ms, "blocked_until_ms":
                              blocked_until_ms}
    if lease_until_ms is None:
        values["lease_owner"] = None
    result = conn.execute(
        update(webhook_endpoints)
        .where(webhook_endpoints.c.endpoint_id == endpoint_id,
               webhook_endpoints.c.lease_owner == owner)
        .values(**values)
    )
    return bool(result.rowcount)


def record_attempt(conn: Connection, endpoint_id: str, event_id: int, **values: Any) -> None:
    """Store the outcome of one attempt (status, attempts, times, last status and error)."""
    conn.execute(
        update(webhook_deliveries)
        .where(webhook_deliveries.c.endpoint_id == endpoint_id,
               webhook_deliveries.c.event_id == event_id)
        .values(**values)
    )


def deliveries_page(
    conn: Connection, api_key: str, endpoint_id: str, *, status: str | None, offset: int,
    limit: int,
) -> tuple[list[Delivery], int]:
    """An endpoint's deliveries, newest first, with the event's type; and their number."""
    where = [webhook_deliveries.c.endpoint_id == endpoint_id,
             webhook_deliveries.c.api_key == api_key]
    if status is not None:
        where.append(webhook_deliveries.c.status == status)
    total = int(conn.execute(
        select(func.count()).select_from(webhook_deliveries).where(*where)
    ).scalar_one())
    rows = conn.execute(
        select(webhook_deliveries, events.c.webhook_type, events.c.event_key)
        .select_from(webhook_deliveries.outerjoin(
            events, events.c.event_id == webhook_deliveries.c.event_id))
        .where(*where)
        .order_by(webhook_deliveries.c.event_id.desc())
        .offset(offset).limit(limit)
    )
    return [_delivery(r) for r in rows], total


def endpoint_by_id(conn: Connection, endpoint_id: str) -> Endpoint | None:
    """An endpoint by id, whichever API key owns it (for the delivery worker)."""
    row = conn.execute(
        select(webhook_endpoints).where(webhook_endpoints.c.endpoint_id == endpoint_id)
    ).first()
    return _endpoint(row) if row is not None else None
