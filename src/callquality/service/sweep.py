"""The events sweep: what no request announces (docs/webhooks.md, "Where events come from").

Every ``EVENTS_SWEEP_S`` a process (one at a time: an advisory lock on PostgreSQL, the write
lock on SQLite) looks at the *watched* events only (started sessions and joined participants
whose end it has not seen, a partial index), never at the whole sessions table:

- a participant whose interval is over: ``participant-left``;
- a session idle for ``IDLE_TIMEOUT_S``: ``participant-left`` of everyone still in it, the
  resolution of its firing alerts, then ``session-ended``;
- the absent-data rules (``noStatsS``) over the participants of the ongoing ones.

``POST /v2/sessions/end`` closes its session the same way, in its own transaction
(``on_session_end``).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import Connection, Engine

from callquality.config import Settings
from callquality.domain.session import Session
from callquality.service import alerts, events
from callquality.store import outbox
from callquality.store.db import read_transaction, write_transaction

_BATCH = 5000


def run(engine: Engine, settings: Settings, now_ms: int, *, batch: int = _BATCH) -> int:
    """One sweep; the events it wrote. It reads every watched event, light rows, and looks
    at them whole sessions at a time (about ``batch`` events), each in a read transaction
    first, taking the write lock only when there is something to write (then looking at
    those sessions again under it)."""
    with read_transaction(engine) as conn:
        rows = outbox.watched(conn)
    written = 0
    for chunk in _by_sessions(rows, batch):
        with read_transaction(engine) as conn:
            if not _close(conn, settings, now_ms, chunk, {}, dry=True):
                continue
        ids = [r.session_id for r in chunk]
        with write_transaction(engine) as conn:
            if not outbox.try_sweep_lock(conn):
                return written
            written += _close(conn, settings, now_ms, outbox.watched_of_sessions(conn, ids), {})
    return written


def _by_sessions(rows: list[outbox.WatchedRow], size: int) -> list[list[outbox.WatchedRow]]:
    """Rows (by session) cut into chunks of about ``size``, never inside a session."""
    chunks: list[list[outbox.WatchedRow]] = []
    chunk: list[outbox.WatchedRow] = []
    for row in rows:
        if len(chunk) >= size and row.session_id != chunk[-1].session_id:
            chunks.append(chunk)
            chunk = []
        chunk.append(row)
    return [*chunks, chunk] if chunk else chunks


def on_session_end(
    conn: Connection, settings: Settings, session: Session, end_ms: int, now_ms: int
) -> int:
    """The events of a session ended explicitly, in the transaction that ends it."""
    return _close(conn, settings, now_ms, outbox.watched_of_sessions(conn, [session.session_id]),
                  {session.session_id: end_ms})


def _close(
    conn: Connection, settings: Settings, now_ms: int, watched: list[outbox.WatchedRow],
    ended_now: dict[str, int], *, dry: bool = False,
) -> int:
    """Write the events the watched ones call for (``dry``: only count them and the watched
    events they would close)."""
    if not watched:
        return 0
    by_session: dict[str, list[events.Watched]] = defaultdict(list)
    for row in watched:
        if row.session_id is not None:
            by_session[row.session_id].append(events.Watched(
                row.event_id, row.session_id,
                row.participant_id if row.webhook_type == events.PARTICIPANT_JOINED else None,
                row.span_start_ms,
            ))
    sessions = outbox.sessions_by_id(conn, by_session)
    intervals = outbox.intervals_of_sessions(conn, sessions)
    names = outbox.participant_names(conn, intervals)
    closing: list[dict[str, Any]] = []
    endings: list[dict[str, Any]] = []
    closed = [r.event_id for r in watched if r.session_id not in sessions]  # purged sessions
    ended: dict[str, tuple[Session, int]] = {}
    ongoing: dict[str, Session] = {}
    spans_of: dict[str, dict[str, Any]] = defaultdict(dict)  # session -> participant -> spans
    for (s, p), v in intervals.items():
        spans_of[s][p] = v
    for session_id, watching in by_session.items():
        session = sessions.get(session_id)
        if session is None:
            continue
        end_ms = ended_now.get(session_id, session.ended_at(now_ms, settings.idle_timeout_s))
        spans = spans_of.get(session_id, {})
        made, done = events.closing_events(
            session, watching, spans, {p: names.get((session_id, p)) for p in spans},
            ended_ms=end_ms, now_ms=now_ms, participant_gap_s=settings.participant_gap_s,
        )
        closed.extend(done)
        for made_row in made:  # session-ended last, after the session's alerts resolved
            ended_row = made_row["webhook_type"] == events.SESSION_ENDED
            (endings if ended_row else closing).append(made_row)
        if end_ms is not None:
            ended[session_id] = (session, end_ms)
        else:
            ongoing[session_id] = session
    closing += alerts.evaluate_absent(
        conn, ongoing, {k: v for k, v in intervals.items() if k[0] in ongoing}, now_ms,
        save=not dry,
    )
    closing += alerts.resolve_sessions(conn, ended, now_ms, save=not dry)
    if dry:
        return len(closing) + len(endings) + len(closed)
    outbox.add_events(conn, closing + endings)
    outbox.unwatch(conn, closed)
    return len(closing) + len(endings)
