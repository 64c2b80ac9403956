"""Webhook endpoints: registration (with the SSRF check), signing, and the test event.

The delivery worker is ``service/delivery.py``; what is delivered, ``service/events.py``.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import orjson
from sqlalchemy import Engine

from callquality import __version__
from callquality.config import Settings
from callquality.domain.errors import InvalidInput, NotFound
from callquality.service import events
from callquality.store import outbox
from callquality.store import webhooks as store
from callquality.store.db import read_transaction, write_transaction

MAX_URL_LENGTH = 2000
SIGNATURE_HEADER = "CallQuality-Signature"
USER_AGENT = f"callquality-webhooks/{__version__}"
_ALLOW_HINT = "set WEBHOOK_ALLOW_PRIVATE_URLS=true to allow it (a receiver on this network)"


class UnsafeUrl(InvalidInput):
    """A webhook URL that the server must not call (SSRF)."""


def check_url(url: str, *, allow_private: bool, field: str = "url") -> str:
    """The URL, if it is http(s) and resolves to public addresses only (unless
    ``allow_private``); ``InvalidInput`` naming ``field`` otherwise. The message never
    names the addresses."""
    if len(url) > MAX_URL_LENGTH:
        raise InvalidInput(f"{field}: longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidInput(f"{field}: not a URL ({exc})") from exc
    if parts.scheme not in ("http", "https"):
        raise InvalidInput(f"{field}: use an http:// or https:// URL, not {parts.scheme!r}")
    if not parts.hostname:
        raise InvalidInput(f"{field}: the URL names no host")
    if parts.username is not None or parts.password is not None:
        raise InvalidInput(f"{field}: credentials in the URL are not accepted; the signature "
                           "header authenticates callquality to the receiver")
    if parts.fragment:
        raise InvalidInput(f"{field}: a webhook URL has no #fragment")
    try:
        public_addresses(parts.hostname, port or _default_port(parts.scheme),
                         allow_private=allow_private)
    except (socket.gaierror, UnicodeError, ValueError) as exc:
        raise InvalidInput(f"{field}: the host {parts.hostname!r} does not resolve") from exc
    except UnsafeUrl as exc:
        raise UnsafeUrl(f"{field}: {exc.message}") from exc
    return url


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


def public_addresses(host: str, port: int, *, allow_private: bool) -> list[str]:
    """The host's addresses, each checked: loopback, private, link-local, multicast,
    reserved and unspecified ones raise ``UnsafeUrl`` unless ``allow_private``."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        mapped = getattr(address, "ipv4_mapped", None)
        if mapped is not None:
            address = mapped
        if not allow_private and (not address.is_global or address.is_multicast):
            raise UnsafeUrl(f"the host resolves to a loopback, private or link-local "
                            f"address; {_ALLOW_HINT}")
        addresses.append(str(address))
    if not addresses:
        raise socket.gaierror("no address")
    return addresses


def signature(secret: str, timestamp_s: int, body: bytes) -> str:
    """The signature header's value: ``t=<unix seconds>,v1=<hex HMAC-SHA256 of
    "<t>." + body>`` (docs/webhooks.md has the receiver's check)."""
    mac = hmac.new(secret.encode(), f"{timestamp_s}.".encode() + body, hashlib.sha256)
    return f"t={timestamp_s},v1={mac.hexdigest()}"


def body_of(webhook_type: str, data: str) -> bytes:
    """The request body: VideoSDK's ``{"webhookType", "data"}``."""
    return b'{"webhookType":' + orjson.dumps(webhook_type) + b',"data":' + data.encode() + b"}"


def request_headers(
    secret: str, event_key: str, webhook_type: str, body: bytes, now_ms: int
) -> dict[str, str]:
    """The headers of one attempt: signature, idempotency key, type."""
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Idempotency-Key": events.idempotency_key(event_key),
        "CallQuality-Webhook-Type": webhook_type,
        SIGNATURE_HEADER: signature(secret, now_ms // 1000, body),
    }


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt got: a status, or an error; and whether to try again."""

    status_code: int | None
    error: str | None
    retry: bool
    retry_after_s: float | None = None
    duration_ms: int = 0

    @property
    def delivered(self) -> bool:
        """A 2xx answer."""
        return self.status_code is not None and 200 <= self.status_code < 300


def outcome_of_status(status: int, retry_after: str | None, duration_ms: int) -> Outcome:
    """2xx delivered; 408, 429 and 5xx retried (429's and 503's Retry-After honoured);
    any other answer is final (a receiver that says 400 will say it again)."""
    if 200 <= status < 300:
        return Outcome(status, None, False, duration_ms=duration_ms)
    wait: float | None = None
    if retry_after is not None and retry_after.strip().isdigit():
        wait = float(retry_after.strip())
    if status in (408, 429) or status >= 500:
        return Outcome(status, f"HTTP {status}", True, wait, duration_ms)
    if 300 <= status < 400:
        return Outcome(status, f"HTTP {status}: redirects are not followed; register the "
                       "final URL", False, duration_ms=duration_ms)
    return Outcome(status, f"HTTP {status}", False, duration_ms=duration_ms)


class Sender:
    """POSTs a delivery to the vetted address of its URL's host (the URL is checked again
    at each attempt, against DNS rebinding); redirects are not followed."""

    def __init__(self, settings: Settings) -> None:
        self._allow_private = settings.webhook_allow_private_urls
        self._client = httpx.Client(
            timeout=settings.webhook_timeout_s, follow_redirects=False, trust_env=False,
            limits=httpx.Limits(max_keepalive_connections=20),
        )

    def close(self) -> None:
        """Close pooled connections."""
        self._client.close()

    def post(self, url: str, headers: dict[str, str], body: bytes) -> Outcome:
        """One attempt."""
        started = time.monotonic()

        def took() -> int:
            return int((time.monotonic() - started) * 1000)

        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or _default_port(parts.scheme)
        try:
            address = public_addresses(host, port, allow_private=self._allow_private)[0]
        except UnsafeUrl as exc:
            return Outcome(None, exc.message, False, duration_ms=took())
        except (socket.gaierror, UnicodeError):
            return Outcome(None, "the host does not resolve", True, duration_ms=took())
        netloc = f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
        target = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
        host_header = host if parts.port is None else f"{host}:{parts.port}"
        extensions = {"sni_hostname": host} if parts.scheme == "https" else {}
        try:
            with self._client.stream(
                "POST", target, content=body, headers={**headers, "Host": host_header},
                extensions=extensions,
            ) as answer:
                for _ in answer.iter_bytes():  # read (and drop) the answer, to reuse the
                    pass                       # connection
                return outcome_of_status(
                    answer.status_code, answer.headers.get("retry-after"), took()
                )
        except httpx.TimeoutException:
            return Outcome(None, "timed out", True, duration_ms=took())
        except httpx.TransportError as exc:
            return Outcome(None, f"connection failed ({type(exc).__name__})", True,
                           duration_ms=took())


# Endpoint registration.

def _check_types(types: Sequence[str] | None) -> tuple[str, ...]:
    if types is None:
        return events.WEBHOOK_TYPES
    if not types:
        raise InvalidInput("events: name at least one webhook type, or leave it out for all")
    for i, t in enumerate(types):
        if t not in events.WEBHOOK_TYPES:
            raise InvalidInput(
                f"events[{i}]: unknown webhook type {t!r}; use one of "
                + ", ".join(events.WEBHOOK_TYPES)
            )
    return tuple(dict.fromkeys(types))


def new_secret() -> str:
    """A signing secret (shown once, on create and on rotate)."""
    return "whsec_" + secrets.token_urlsafe(32)


def create_endpoint(
    engine: Engine, settings: Settings, api_key: str, *, url: str,
    types: Sequence[str] | None, description: str | None, enabled: bool, now_ms: int,
) -> store.Endpoint:
    """Register an endpoint with its own signing secret; it receives the events that
    happen from now on."""
    endpoint = store.Endpoint(
        endpoint_id="wh_" + secrets.token_hex(12), api_key=api_key,
        url=check_url(url, allow_private=settings.webhook_allow_private_urls),
        secret=new_secret(), webhook_types=_check_types(types), description=description,
        enabled=enabled, created_ms=now_ms, updated_ms=now_ms,
    )
    with write_transaction(engine) as conn:
        store.insert_endpoint(conn, endpoint)
    return endpoint


def get_endpoint(engine: Engine, api_key: str, endpoint_id: str) -> store.Endpoint:
    """One endpoint of this API key (another key's is a 404)."""
    with read_transaction(engine) as conn:
        endpoint = store.get_endpoint(conn, api_key, endpoint_id)
    if endpoint is None:
        raise NotFound(f"no webhook {endpoint_id!r} for this API key")
    return endpoint


def list_endpoints(engine: Engine, api_key: str) -> list[store.Endpoint]:
    """This API key's endpoints."""
    with read_transaction(engine) as conn:
        return store.list_endpoints(conn, api_key)


def update_endpoint(
    engine: Engine, settings: Settings, api_key: str, endpoint_id: str, changes: dict[str, Any],
    now_ms: int,
) -> store.Endpoint:
    """Change url, events, description, enabled; ``rotateSecret`` makes a new secret."""
    with write_transaction(engine) as conn:
        endpoint = store.get_endpoint(conn, api_key, endpoint_id)
        if endpoint is None:
            raise NotFound(f"no webhook {endpoint_id!r} for this API key")
        if changes.get("url") is not None:
            endpoint = replace(endpoint, url=check_url(
                changes["url"], allow_private=settings.webhook_allow_private_urls))
        if "events" in changes:
            endpoint = replace(endpoint, webhook_types=_check_types(changes["events"]))
        if "description" in changes:
            endpoint = replace(endpoint, description=changes["description"])
        if changes.get("enabled") is not None:
            endpoint = replace(endpoint, enabled=bool(changes["enabled"]))
        if changes.get("rotate_secret"):
            endpoint = replace(endpoint, secret=new_secret())
        endpoint = replace(endpoint, updated_ms=now_ms)
        store.replace_endpoint(conn, endpoint)
    return endpoint


def delete_endpoint(engine: Engine, api_key: str, endpoint_id: str) -> None:
    """Delete an endpoint, its queue and its log."""
    with write_transaction(engine) as conn:
        if not store.delete_endpoint(conn, api_key, endpoint_id):
            raise NotFound(f"no webhook {endpoint_id!r} for this API key")


def deliveries(
    engine: Engine, api_key: str, endpoint_id: str, *, status: str | None, page: int,
    per_page: int,
) -> tuple[list[store.Delivery], int]:
    """An endpoint's delivery log, newest first, and its length."""
    with read_transaction(engine) as conn:
        if store.get_endpoint(conn, api_key, endpoint_id) is None:
            raise NotFound(f"no webhook {endpoint_id!r} for this API key")
        return store.deliveries_page(conn, api_key, endpoint_id, status=status,
                                     offset=(page - 1) * per_page, limit=per_page)


@dataclass(frozen=True, slots=True)
class TestResult:
    """What the test event got."""

    event_id: int
    idempotency_key: str
    outcome: Outcome


def send_test_event(
    engine: Engine, settings: Settings, api_key: str, endpoint_id: str, now_ms: int
) -> TestResult:
    """Send a signed ``test`` event to one endpoint now (once, not retried) and log it."""
    endpoint = get_endpoint(engine, api_key, endpoint_id)
    event_key = f"{events.TEST}/{endpoint_id}/{secrets.token_hex(8)}"
    data = {"endpointId": endpoint_id, "message": "a test event from callquality"}
    row = events.event_row(event_key, api_key, events.TEST, data, occurred_ms=now_ms,
                           now_ms=now_ms, endpoint_ids=[endpoint_id], dispatched=True)
    body = body_of(events.TEST, row["data"])
    sender = Sender(settings)
    try:
        outcome = sender.post(endpoint.url, request_headers(
            endpoint.secret, event_key, events.TEST, body, now_ms), body)
    finally:
        sender.close()
    with write_transaction(engine) as conn:
        outbox.add_events(conn, [row])
        event_id = outbox.event_id_of(conn, event_key)
        store.add_deliveries(conn, [{
            "endpoint_id": endpoint_id, "event_id": event_id, "api_key": api_key,
            "status": "delivered" if outcome.delivered else "failed", "attempts": 1,
            "created_ms": now_ms, "next_attempt_ms": None, "first_attempt_ms": now_ms,
            "last_attempt_ms": now_ms, "last_status_code": outcome.status_code,
            "last_error": outcome.error, "delivered_ms": now_ms if outcome.delivered else None,
        }])
    return TestResult(event_id, events.idempotency_key(event_key), outcome)
