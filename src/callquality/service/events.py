"""The events of sessions and participants (VideoSDK's four webhooks), as outbox rows.

Where each comes from (docs/webhooks.md):

- ``session-started``, ``participant-joined``: the ingest transaction, from what it already
  knows (a new session; a presence interval that contains none stored before it).
- ``participant-left``: the sweep, once the participant's interval is over (silent for longer
  than ``PARTICIPANT_GAP_S``, or a later interval of theirs exists), or the session's end.
- ``session-ended``: ``POST /v2/sessions/end`` in its transaction, or the sweep once the
  session has been idle for ``IDLE_TIMEOUT_S``, after the participant-left of everyone still
  present.

Each event's ``event_key`` is a function of what it describes, so two writers of one event
(the sweep of two processes, the sweep and an explicit end) store it once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from callquality.domain.session import Session
from callquality.domain.timefmt import iso_ms

SESSION_STARTED = "session-started"
SESSION_ENDED = "session-ended"
PARTICIPANT_JOINED = "participant-joined"
PARTICIPANT_LEFT = "participant-left"
QUALITY_ALERT = "quality-alert"
QUALITY_ALERT_RESOLVED = "quality-alert-resolved"
TEST = "test"
# What an endpoint receives when it names no types.
WEBHOOK_TYPES = (
    SESSION_STARTED, SESSION_ENDED, PARTICIPANT_JOINED, PARTICIPANT_LEFT, QUALITY_ALERT,
    QUALITY_ALERT_RESOLVED,
)


def idempotency_key(event_key: str) -> str:
    """The delivery's idempotency key: the same for every attempt and every process."""
    return "evt_" + hashlib.sha256(event_key.encode()).hexdigest()[:32]


def _part(value: str) -> str:
    """A key component that cannot run into the next one (ids may hold '/')."""
    return f"{len(value)}:{value}"


def event_row(
    event_key: str,
    api_key: str,
    webhook_type: str,
    data: Mapping[str, Any],
    *,
    occurred_ms: int,
    now_ms: int,
    session_id: str | None = None,
    participant_id: str | None = None,
    endpoint_ids: Sequence[str] | None = None,
    watch: bool = False,
    span_start_ms: int | None = None,
    dispatched: bool = False,
) -> dict[str, Any]:
    """One outbox row (``store.outbox.EVENT_COLUMNS``)."""
    return {
        "event_key": event_key,
        "api_key": api_key,
        "session_id": session_id,
        "participant_id": participant_id,
        "webhook_type": webhook_type,
        "occurred_ms": occurred_ms,
        "created_ms": now_ms,
        "data": orjson.dumps(data).decode(),
        "endpoint_ids": orjson.dumps(list(endpoint_ids)).decode()
        if endpoint_ids is not None else None,
        "undispatched": None if dispatched else 1,
        "watch": 1 if watch else None,
        "span_start_ms": span_start_ms,
    }


def _data(
    session: Session, participant_id: str | None, name: str | None, start_ms: int,
    end_ms: int | None,
) -> dict[str, Any]:
    # VideoSDK's body; keys it leaves out for an event are null here (CONTRACT.md).
    return {
        "meetingId": session.room_id,
        "sessionId": session.session_id,
        "participantId": participant_id,
        "participantName": name,
        "start": iso_ms(start_ms),
        "end": iso_ms(end_ms) if end_ms is not None else None,
    }


def session_started(session: Session, now_ms: int) -> dict[str, Any]:
    """The session-started row of a new session (watched until it ends)."""
    return event_row(
        f"{SESSION_STARTED}/{session.session_id}", session.api_key, SESSION_STARTED,
        _data(session, None, None, session.start_ms, None), occurred_ms=session.start_ms,
        now_ms=now_ms, session_id=session.session_id, watch=True,
    )


def session_ended(session: Session, end_ms: int, now_ms: int) -> dict[str, Any]:
    """The session-ended row."""
    return event_row(
        f"{SESSION_ENDED}/{session.session_id}", session.api_key, SESSION_ENDED,
        _data(session, None, None, session.start_ms, end_ms), occurred_ms=end_ms,
        now_ms=now_ms, session_id=session.session_id,
    )


def participant_joined(
    session: Session, participant_id: str, name: str | None, start_ms: int, now_ms: int
) -> dict[str, Any]:
    """The participant-joined row of a new presence interval (watched until it is over)."""
    return event_row(
        f"{PARTICIPANT_JOINED}/{session.session_id}/{_part(participant_id)}/{start_ms}",
        session.api_key, PARTICIPANT_JOINED,
        _data(session, participant_id, name, start_ms, None), occurred_ms=start_ms,
        now_ms=now_ms, session_id=session.session_id, participant_id=participant_id,
        watch=True, span_start_ms=start_ms,
    )


def participant_left(
    session: Session, participant_id: str, name: str | None, joined_start_ms: int,
    start_ms: int, end_ms: int, now_ms: int,
) -> dict[str, Any]:
    """The participant-left row closing the interval whose join started at
    ``joined_start_ms``."""
    return event_row(
        f"{PARTICIPANT_LEFT}/{session.session_id}/{_part(participant_id)}/{joined_start_ms}",
        session.api_key, PARTICIPANT_LEFT,
        _data(session, participant_id, name, start_ms, end_ms), occurred_ms=end_ms,
        now_ms=now_ms, session_id=session.session_id, participant_id=participant_id,
    )


def from_ingest(
    sessions: Iterable[Session],
    names: Mapping[tuple[str, str], str | None],
    before: Mapping[tuple[str, str], list[tuple[int, int]]],
    after: Mapping[tuple[str, str], list[tuple[int, int]]],
    *,
    now_ms: int,
    idle_timeout_s: int,
) -> list[dict[str, Any]]:
    """The events of one ingest transaction: its new sessions, then its new presence
    intervals (``before``/``after``: each (session, participant)'s intervals stored before
    and after it, ``after`` only where they changed).

    A session that is over by the server's clock once the request is in (an imported dump,
    a client whose clock is far behind) makes no events: nobody would be told "started" of
    a session that has already ended.
    """
    by_id = {s.session_id: s for s in sessions}
    live = {
        sid for sid, s in by_id.items() if s.status(now_ms, idle_timeout_s) == "ongoing"
    }
    rows = [session_started(by_id[sid], now_ms) for sid in sorted(live) if by_id[sid].is_new]
    for (session_id, participant_id), intervals in sorted(after.items()):
        if session_id not in live:
            continue
        old = before.get((session_id, participant_id), [])
        for start, end in intervals:
            # An interval that grew (or merged) contains one stored before; a new one none.
            if not any(start <= a and b <= end for a, b in old):
                rows.append(participant_joined(
                    by_id[session_id], participant_id, names.get((session_id, participant_id)),
                    start, now_ms,
                ))
    return rows


@dataclass(frozen=True, slots=True)
class Watched:
    """A watched event: a started session, or a participant's joined interval."""

    event_id: int
    session_id: str
    participant_id: str | None  # None: the session-started row
    span_start_ms: int | None


def closing_events(
    session: Session,
    watched: Sequence[Watched],
    intervals: Mapping[str, list[tuple[int, int]]],
    names: Mapping[str, str | None],
    *,
    ended_ms: int | None,
    now_ms: int,
    participant_gap_s: int,
) -> tuple[list[dict[str, Any]], list[int]]:
    """The participant-left and session-ended rows that one session's watched events call
    for now, and the watched events they close. ``ended_ms``: when the session ended, or
    None while it is ongoing; ``intervals``: each participant's presence intervals."""
    rows: list[dict[str, Any]] = []
    closed: list[int] = []
    gap_ms = participant_gap_s * 1000
    for w in watched:
        if w.participant_id is None or w.span_start_ms is None:
            continue
        spans = intervals.get(w.participant_id, [])
        # The interval the join opened: the one holding its start (it may have grown or
        # merged since), else the last one before it.
        span = next((s for s in spans if s[0] <= w.span_start_ms <= s[1]), None)
        if span is None:
            earlier = [s for s in spans if s[0] <= w.span_start_ms]
            span = earlier[-1] if earlier else (w.span_start_ms, w.span_start_ms)
        later = any(s[0] > span[1] for s in spans)
        if ended_ms is not None or later or now_ms - span[1] > gap_ms:
            rows.append(participant_left(
                session, w.participant_id, names.get(w.participant_id), w.span_start_ms,
                span[0], span[1], now_ms,
            ))
            closed.append(w.event_id)
    started = [w.event_id for w in watched if w.participant_id is None]
    if ended_ms is not None and started:  # a session that was announced, announced ended
        rows.append(session_ended(session, ended_ms, now_ms))
        closed.extend(started)
    return rows, closed
