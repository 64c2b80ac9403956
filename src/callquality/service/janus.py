"""Janus ingest (``POST /v2/ingest/janus``): events → samples, stored as the browser path's.

One write transaction holds the Janus sessions' states (read for update), the samples the
events yield (through :func:`callquality.service.ingest.ingest_in`, so they are assigned to
sessions, scored and rolled up exactly as ``POST /v2/stats`` items are) and the new states:
a request is stored whole or not at all, and a repeated request (Janus retransmits when it
sees no answer) stores nothing twice, since a stream's events older than its state are
skipped and samples are idempotent on (participant, stream, timestamp).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from callquality.config import Settings
from callquality.domain.errors import Forbidden, InvalidInput
from callquality.ingest import janus
from callquality.ingest.items import IngestItem
from callquality.service.ingest import ingest_in
from callquality.store.db import write_transaction
from callquality.store.janus import load_janus_states, save_janus_states

_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class JanusResult:
    """What a request's events became."""

    events: int
    accepted: int  # samples stored
    duplicates: int
    ignored: int  # events of kinds callquality does not read
    session_ids: tuple[str, ...]
    # ((session, participant), newest timestamp_ms) with new samples, for the alert rules
    reported: tuple[tuple[tuple[str, str], int], ...] = ()


def parse_janus_body(body: object) -> list[janus.JanusEvent]:
    """The events of a request body, or InvalidInput naming the field."""
    try:
        return janus.parse_events(body)
    except janus.JanusEventError as exc:
        raise InvalidInput(str(exc)) from exc


def ingest_janus(
    engine: Engine,
    settings: Settings,
    api_key: str,
    events: list[janus.JanusEvent],
    now_ms: int,
    *,
    room_scope: str | None = None,
) -> JanusResult:
    """Apply a request's events to the stored states and store the samples they yield.

    ``room_scope``: the one room the caller's token may send for (a 403 for any other)."""
    if len(events) > settings.max_batch_items:
        raise InvalidInput(
            f"events: {len(events)} events in one request, more than MAX_BATCH_ITEMS "
            f"({settings.max_batch_items}); Janus's sample handler sends at most 100"
        )
    for attempt in range(_ATTEMPTS):
        try:
            with write_transaction(engine) as conn:
                states = load_janus_states(conn, api_key, janus.session_ids(events))
                applied = janus.apply_events(states, events)
                items = [
                    IngestItem(
                        index=n,
                        room_id=s.room_id,
                        participant_id=s.participant_id,
                        participant_name=s.participant_name,
                        peer_connection_id=s.peer_connection_id,
                        timestamp_ms=s.timestamp_ms,
                        sample=s.sample,
                    )
                    for n, s in enumerate(applied.samples)
                ]
                for item in items:
                    if room_scope is not None and item.room_id != room_scope:
                        raise Forbidden(
                            f"events: this token is limited to room {room_scope!r}, and the "
                            f"events hold room {item.room_id!r}"
                        )
                result = ingest_in(conn, settings, api_key, items, now_ms)
                save_janus_states(conn, api_key, applied.states, now_ms)
                return JanusResult(
                    len(events), result.accepted, result.duplicates, applied.ignored,
                    result.session_ids, result.reported,
                )
        except IntegrityError:
            if attempt == _ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")
