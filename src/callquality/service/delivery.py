"""The webhook delivery worker: dispatch events into endpoint queues, deliver each queue in
order under a lease, retry with backoff (docs/webhooks.md).

Every API process runs one (``WEBHOOK_DELIVERY``); they share the work through the database:

1. **Dispatch**: events not dispatched yet (PostgreSQL: ``FOR UPDATE SKIP LOCKED``) become one
   pending delivery per endpoint that takes them, in the same transaction that marks them
   dispatched.
2. **Claim**: a process leases endpoints that have a delivery due (one conditional UPDATE;
   no two processes win one endpoint). The holder alone delivers that endpoint's queue, oldest
   event first, renewing the lease at each attempt; a process killed mid-delivery loses its
   lease after ``WEBHOOK_LEASE_S`` and another one sends that event again, with the same
   idempotency key.
3. **Retry**: timeouts, connection errors, 408, 429 and 5xx are retried after
   ``min(max, base * 2^(n-1))``, half of it fixed and half random ("equal jitter"), until
   ``WEBHOOK_RETRY_WINDOW_S`` has passed since the first attempt; any other 4xx is final. The
   queue's head waits for its retry; the events behind it wait with it, so that an endpoint
   receives its events in order.

Time comes from ``clock`` (epoch ms) and randomness from ``rng``: tests drive the schedule
without sleeping.
"""

from __future__ import annotations

import logging
import os
import random
import secrets
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import orjson
from sqlalchemy import Engine

from callquality.config import Settings
from callquality.domain.errors import StoreUnavailable
from callquality.service import sweep
from callquality.service.webhooks import Outcome, Sender, body_of, request_headers
from callquality.store import outbox
from callquality.store import webhooks as store
from callquality.store.db import read_transaction, write_transaction

log = logging.getLogger("callquality.webhooks")

Clock = Callable[[], int]
_DISPATCH_BATCH = 500
_CLAIM_BATCH = 4
_QUEUE_BUDGET = 100  # deliveries of one endpoint per lease, before others get a turn
_PURGE_EVERY_MS = 3600_000


def wall_clock_ms() -> int:
    """The real clock, epoch ms."""
    return int(time.time() * 1000)


def retry_delay_ms(attempts: int, settings: Settings, rng: random.Random) -> int:
    """The wait before attempt ``attempts + 1``: exponential, capped, equal jitter (half
    fixed, half uniform; M. Brooker, "Exponential Backoff And Jitter", AWS Architecture
    Blog, 2015)."""
    ceiling = min(settings.webhook_retry_max_s, settings.webhook_retry_base_s
                  * 2 ** min(attempts - 1, 40)) * 1000
    return int(ceiling / 2 + rng.random() * ceiling / 2)


class Deliverer:
    """One delivering party (a thread of a process): dispatch, claim, deliver."""

    def __init__(
        self, engine: Engine, settings: Settings, *, clock: Clock = wall_clock_ms,
        rng: random.Random | None = None, owner: str | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.clock = clock
        self.rng = rng or random.Random()
        self.owner = owner or f"{socket.gethostname()[:30]}:{os.getpid()}:{secrets.token_hex(4)}"
        self.sender = Sender(settings)
        self._next_sweep_ms = 0
        self._next_purge_ms = 0

    def close(self) -> None:
        """Close the HTTP connections."""
        self.sender.close()

    def run_once(self, *, do_sweep: bool = True) -> int:
        """One round: dispatch, sweep when due, deliver what is due; the attempts made."""
        now = self.clock()
        self.dispatch(now)
        if do_sweep and now >= self._next_sweep_ms:
            self._next_sweep_ms = now + int(self.settings.events_sweep_s * 1000)
            sweep.run(self.engine, self.settings, now)
            self.dispatch(self.clock())
        if do_sweep and now >= self._next_purge_ms:
            self._next_purge_ms = now + _PURGE_EVERY_MS
            with write_transaction(self.engine) as conn:
                outbox.purge_before(conn, now - self.settings.retention_days * 86400_000)
        return self.deliver_due()

    def dispatch(self, now_ms: int) -> int:
        """Turn undispatched events into deliveries; how many events."""
        with read_transaction(self.engine) as conn:
            if not outbox.has_undispatched(conn):
                return 0
        with write_transaction(self.engine) as conn:
            found = outbox.claim_undispatched(conn, _DISPATCH_BATCH)
            endpoints = store.enabled_endpoints(conn, {e.api_key for e in found})
            rows = []
            for event in found:
                targets = orjson.loads(event.endpoint_ids) if event.endpoint_ids else None
                for endpoint in endpoints.get(event.api_key, []):
                    if endpoint.created_ms > event.created_ms:
                        continue  # an endpoint receives the events written after it
                    if targets is not None:
                        if endpoint.endpoint_id not in targets:
                            continue
                    elif event.webhook_type not in endpoint.webhook_types:
                        continue
                    rows.append({
                        "endpoint_id": endpoint.endpoint_id, "event_id": event.event_id,
                        "api_key": event.api_key, "status": "pending", "attempts": 0,
                        "created_ms": now_ms, "next_attempt_ms": now_ms,
                        "first_attempt_ms": None, "last_attempt_ms": None,
                        "last_status_code": None, "last_error": None, "delivered_ms": None,
                    })
            store.add_deliveries(conn, rows)
            outbox.mark_dispatched(conn, [e.event_id for e in found])
        return len(found)

    def deliver_due(self) -> int:
        """Lease the endpoints with a delivery due and deliver their queues."""
        now = self.clock()
        with read_transaction(self.engine) as conn:
            if not store.has_due_endpoint(conn, now):
                return 0
        with write_transaction(self.engine) as conn:
            claimed = store.claim_endpoints(
                conn, self.owner, now, self.settings.webhook_lease_s * 1000, _CLAIM_BATCH
            )
        return sum(self.deliver_queue(endpoint_id) for endpoint_id in claimed)

    def deliver_queue(self, endpoint_id: str) -> int:
        """Deliver a leased endpoint's queue in order, until it is empty, its head must
        wait, or the budget is spent; then give the lease back."""
        attempts = 0
        blocked_until: int | None = None
        lease_ms = self.settings.webhook_lease_s * 1000
        while attempts < _QUEUE_BUDGET:
            now = self.clock()
            with read_transaction(self.engine) as conn:
                head = store.queue_head(conn, endpoint_id)
                endpoint = store.endpoint_by_id(conn, endpoint_id)
                event = outbox.events_by_id(conn, [head.event_id]).get(head.event_id) \
                    if head is not None else None
            if head is None or endpoint is None or not endpoint.enabled:
                break
            if head.next_attempt_ms is not None and head.next_attempt_ms > now:
                blocked_until = head.next_attempt_ms
                break
            if event is None:  # purged under a live queue: nothing left to send
                outcome = Outcome(None, "the event was purged", False)
            else:
                body = body_of(event.webhook_type, event.data)
                outcome = self.sender.post(endpoint.url, request_headers(
                    endpoint.secret, event.event_key, event.webhook_type, body, now), body)
            attempts += 1
            done = self.clock()
            with write_transaction(self.engine) as conn:
                if not store.renew_lease(conn, endpoint_id, self.owner, done + lease_ms):
                    return attempts  # the lease ran out and another process took the queue
                store.record_attempt(conn, endpoint_id, head.event_id,
                                     **self._next_state(head, outcome, now, done))
        with write_transaction(self.engine) as conn:
            store.renew_lease(conn, endpoint_id, self.owner, None, blocked_until)
        return attempts

    def _next_state(
        self, head: store.Delivery, outcome: Outcome, started_ms: int, done_ms: int
    ) -> dict[str, Any]:
        attempts = head.attempts + 1
        first = head.first_attempt_ms if head.first_attempt_ms is not None else started_ms
        state: dict[str, Any] = {
            "attempts": attempts, "first_attempt_ms": first, "last_attempt_ms": started_ms,
            "last_status_code": outcome.status_code, "last_error": outcome.error,
        }
        if outcome.delivered:
            return {**state, "status": "delivered", "delivered_ms": done_ms,
                    "next_attempt_ms": None}
        if not outcome.retry:
            return {**state, "status": "failed", "next_attempt_ms": None}
        if done_ms - first >= self.settings.webhook_retry_window_s * 1000:
            error = f"{outcome.error}; gave up after {attempts} attempts"
            return {**state, "status": "failed", "next_attempt_ms": None,
                    "last_error": error[:500]}
        delay = retry_delay_ms(attempts, self.settings, self.rng)
        if outcome.retry_after_s is not None:  # the receiver's Retry-After, within the cap
            delay = max(delay, int(min(outcome.retry_after_s, self.settings.webhook_retry_max_s)
                                   * 1000))
        return {**state, "status": "pending", "next_attempt_ms": done_ms + delay}


class DeliveryWorker:
    """A process's delivery thread: a ``Deliverer`` round every ``WEBHOOK_POLL_S``."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self._deliverer = Deliverer(engine, settings)
        self._poll_s = settings.webhook_poll_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="webhooks", daemon=True)

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop after the current round (an attempt in flight finishes or times out)."""
        self._stop.set()
        self._thread.join(30)
        self._deliverer.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                busy = self._deliverer.run_once()
            except StoreUnavailable:
                log.warning("webhook delivery paused: the database is unavailable")
                busy = 0
            except Exception as exc:  # a bug must not stop deliveries for good
                log.exception("webhook delivery round failed: %s", type(exc).__name__)
                busy = 0
            if not busy:
                self._stop.wait(self._poll_s)
