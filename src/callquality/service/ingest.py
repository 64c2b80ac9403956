"""The ingest path: items → sessions → interval samples → scores → one transaction.

A request is atomic: every item is assigned, derived and written in one transaction, or
none is. Raw reports are turned into samples against the counter state stored for their
(participant, peer connection), so any API process can take the next report.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import orjson
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError

from callquality.config import Settings
from callquality.domain.bounds import bounded_sample
from callquality.domain.errors import InvalidInput, NotFound, StoreUnavailable
from callquality.domain.sample import DirectionStats, Sample
from callquality.domain.session import Session
from callquality.domain.session_ids import candidate_ids
from callquality.ingest.items import IngestItem
from callquality.ingest.report import ReportError, process_report
from callquality.scoring import score_sample
from callquality.service import events
from callquality.service.clients import participant_clients
from callquality.service.series_closer import Closed, SeriesCloser, write_closed
from callquality.store import clients, outbox, summaries, writes
from callquality.store.db import is_postgres, read_transaction, write_transaction
from callquality.store.schema import DIRECTIONS, KINDS, stat_column

_ATTEMPTS = 3
_Presence = dict[tuple[str, str], list[tuple[int, int]]]  # (session, participant) -> spans


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What a request's items became."""

    accepted: int
    duplicates: int
    session_ids: tuple[str, ...]
    # ((session, participant), newest timestamp_ms) of each participant with new rows
    reported: tuple[tuple[tuple[str, str], int], ...] = ()
    rows: tuple[dict[str, Any], ...] = ()  # the samples rows stored (service/intervals.py)
    # the series buckets closed by these rows, pending: written after the commit
    # (service/series_closer.py), when the ingest deferred them
    closed: Closed = field(default_factory=Closed)


def ingest(
    engine: Engine, settings: Settings, api_key: str, items: Sequence[IngestItem], now_ms: int,
    closer: SeriesCloser | None = None,
) -> IngestResult:
    """Store a batch atomically; retried when a concurrent writer created the same row.

    The CPU work (differencing each report against its stream's counters, scoring) is done
    first, outside the write transaction, against the counter states as they were read then
    (``_precompute``). Inside the transaction each stream's stored state is read again: a
    stream whose state is still the one it was derived from, with the same items, keeps its
    derivation; any other is derived again there (optimistic concurrency). So the write lock
    is held for the statements alone, and two workers use both cores (SQLite only, below).
    The series buckets it closes are written after the commit (service/series_closer.py):
    by ``closer``'s thread, after the answer, or else here.
    """
    # SQLite only for now: on PostgreSQL it showed no gain in the one pair of runs made
    # (docs/performance.md); the test failure first blamed on it also occurs without it.
    plan = {} if is_postgres(engine) else _precompute(engine, settings, api_key, items, now_ms)
    for attempt in range(_ATTEMPTS):
        try:
            with write_transaction(engine) as conn:
                result = _ingest(conn, settings, api_key, items, now_ms, plan, defer=True)
            break
        except IntegrityError:
            if attempt == _ATTEMPTS - 1:
                raise
    if closer is not None:
        closer.submit(result.closed)
    else:
        write_closed(engine, result.closed)
    return result


def ingest_in(
    conn: Connection, settings: Settings, api_key: str, items: Sequence[IngestItem], now_ms: int
) -> IngestResult:
    """Store a batch inside a write transaction the caller holds (with its own writes: the
    Janus path's state, the ingest log's checkpoint); the caller retries on IntegrityError,
    as :func:`ingest`."""
    return _ingest(conn, settings, api_key, items, now_ms, {})


@dataclass(slots=True)
class _Derived:
    """One stream's items of a batch differenced and scored against one stored state."""

    state_in: str | None  # the stored state (JSON text) it started from
    rows: dict[int, dict[str, Any]]  # item index -> samples row
    intervals: dict[int, int]  # item index -> interval_ms (0 for a baseline)
    changed: tuple[int, str] | None  # (timestamp_ms, JSON) of the new state, if it changed
    error: tuple[int, InvalidInput] | None = None  # (item index, error) of an invalid report


# (participant, peer connection, item indices in order) -> derivation
_Plan = dict[tuple[str, str, tuple[int, ...]], _Derived]


def _derive_stream(
    session_id: str, state_in: str | None, items: Sequence[IngestItem], now_ms: int
) -> _Derived:
    """Difference and score one stream's new raw reports, in timestamp order."""
    state: Any = orjson.loads(state_in) if state_in is not None else None
    derived = _Derived(state_in, {}, {}, None)
    last_change: tuple[int, Any] | None = None
    for item in items:
        assert item.report is not None
        try:
            sample, new_state = process_report(state, item.timestamp_ms, item.report)
        except ReportError as exc:
            error = InvalidInput(f"items[{item.index}].report: {exc}")
            error.__cause__ = exc
            derived.error = (item.index, error)
            return derived
        if new_state != state:
            state = new_state
            last_change = (item.timestamp_ms, new_state)
        if sample is not None:
            sample = bounded_sample(sample)  # a jump or a rate beyond bounds is unknown
        derived.rows[item.index] = sample_row(session_id, item, sample, now_ms)
        derived.intervals[item.index] = sample.interval_ms if sample is not None else 0
    if last_change is not None:
        derived.changed = (last_change[0], orjson.dumps(last_change[1]).decode())
    return derived


def _precompute(
    engine: Engine, settings: Settings, api_key: str, items: Sequence[IngestItem], now_ms: int
) -> _Plan:
    """Derive the batch's raw reports against the states stored now (a short read).

    A guess: the sessions are assigned without the room lock and stored duplicates are not
    looked for; the write transaction keeps only what still holds. Anything that goes wrong
    here (an invalid report, an unreachable database) leaves the work, and the error, to it.
    """
    if not any(i.report is not None for i in items):
        return {}
    try:
        with read_transaction(engine) as conn:
            by_session, session_rows = _assign_all(conn, settings, api_key, items, lock=False)
            texts = writes.load_states_many(
                conn,
                [
                    (session_id, *i.stream_key)
                    for session_id, session_items in by_session.items()
                    if not session_rows[session_id].is_new
                    for i in session_items
                    if i.report is not None
                ],
                for_update=False,
            )
        plan: _Plan = {}
        for session_id, session_items in by_session.items():
            for stream_key, stream_items in _raw_streams(session_items).items():
                indices = tuple(i.index for i in stream_items)
                state_in = texts.get((session_id, *stream_key))
                plan[(*stream_key, indices)] = _derive_stream(
                    session_id, state_in, stream_items, now_ms
                )
        return plan
    except (InvalidInput, NotFound, StoreUnavailable):
        return {}


def _raw_streams(items: Sequence[IngestItem]) -> dict[tuple[str, str], list[IngestItem]]:
    """A session's new raw-report items by stream, each in timestamp order."""
    streams: dict[tuple[str, str], list[IngestItem]] = defaultdict(list)
    seen: set[tuple[str, str, int]] = set()
    for item in items:
        key = (item.participant_id, item.peer_connection_id, item.timestamp_ms)
        if key in seen:
            continue
        seen.add(key)
        if item.report is not None:
            streams[item.stream_key].append(item)
    return streams


def _assign_all(
    conn: Connection, settings: Settings, api_key: str, items: Sequence[IngestItem], *,
    lock: bool,
) -> tuple[dict[str, list[IngestItem]], dict[str, Session]]:
    """Each item's session (items of a session in timestamp order), and the sessions."""
    by_session: dict[str, list[IngestItem]] = defaultdict(list)
    session_rows: dict[str, Session] = {}
    by_room: dict[str, list[IngestItem]] = defaultdict(list)
    for item in items:
        by_room[item.room_id].append(item)
    rooms = sorted(by_room)
    if lock:
        writes.lock_rooms(conn, api_key, rooms)
    latest_by_room = writes.latest_sessions(conn, api_key, rooms)
    for room_id in rooms:
        latest = latest_by_room.get(room_id)
        for item in sorted(by_room[room_id], key=lambda i: (i.timestamp_ms, i.index)):
            row = _assign(conn, settings, api_key, item, latest, session_rows)
            # Later items of this batch are assigned against the session as it grows.
            row.last_report_ms = max(row.last_report_ms, item.timestamp_ms)
            row.start_ms = min(row.start_ms, item.timestamp_ms)
            if item.session_id is None:
                latest = row if latest is None or row.start_ms >= latest.start_ms else latest
            session_rows[row.session_id] = row
            by_session[row.session_id].append(item)
    return by_session, session_rows


def _ingest(
    conn: Connection,
    settings: Settings,
    api_key: str,
    items: Sequence[IngestItem],
    now_ms: int,
    plan: _Plan,
    *,
    defer: bool = False,
) -> IngestResult:
    """The write transaction: one set of statements for all the sessions of the request
    (``defer``: the series buckets it closes are left pending, returned to be written after
    the commit)."""
    by_session, session_rows = _assign_all(conn, settings, api_key, items, lock=True)
    stored = writes.existing_sample_keys_many(
        conn,
        [(s, i.participant_id, i.peer_connection_id, i.timestamp_ms)
         for s, session_items in by_session.items() for i in session_items],
    )
    fresh_by_session: dict[str, list[IngestItem]] = {}
    duplicates = 0
    for session_id, session_items in by_session.items():
        fresh: list[IngestItem] = []
        seen: set[tuple[str, str, int]] = set()
        for item in session_items:  # already in timestamp order
            key = (item.participant_id, item.peer_connection_id, item.timestamp_ms)
            if (session_id, *key) in stored or key in seen:
                continue
            seen.add(key)
            fresh.append(item)
        duplicates += len(session_items) - len(fresh)
        fresh_by_session[session_id] = fresh
    streams = {s: _raw_streams(fresh) for s, fresh in fresh_by_session.items()}
    texts = writes.load_states_many(
        conn, [(s, *stream_key) for s, by_stream in streams.items() for stream_key in by_stream]
    )
    rows: list[dict[str, Any]] = []
    names: dict[tuple[str, str], str | None] = {}
    presence: dict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)
    changed_states: dict[writes.StreamKey, tuple[int, str]] = {}
    for session_id, fresh in fresh_by_session.items():
        _derive_session(
            session_rows[session_id], fresh, streams[session_id], texts, plan, now_ms,
            rows, names, presence, changed_states,
        )
    writes.upsert_participants_many(conn, api_key, names)
    summaries.mark_dirty_many(
        conn, api_key, {key: session_rows[key[0]].room_id for key in names}, now_ms
    )
    clients.save_many(conn, api_key, participant_clients(fresh_by_session), now_ms)
    origins = {s: session_rows[s].rollup_origin_ms for s in fresh_by_session}
    closed = writes.insert_samples_many(conn, rows, origins, defer_series=defer)
    writes.save_states_many(conn, changed_states)
    before, after = _update_intervals(conn, settings, presence)
    writes.save_sessions_many(conn, session_rows.values())
    # The webhooks' outbox, in this transaction (service/events.py): one statement at most.
    outbox.add_events(conn, events.from_ingest(
        session_rows.values(), names, before, after, now_ms=now_ms,
        idle_timeout_s=settings.idle_timeout_s,
    ))
    return IngestResult(
        len(rows), duplicates, tuple(by_session), _last_reports(rows), tuple(rows),
        Closed(closed, {s: int(origins[s] or 0) for s in {k[0] for k in closed}},
               {s: (api_key, session_rows[s].room_id) for s in {k[0] for k in closed}}),
    )


def _last_reports(rows: list[dict[str, Any]]) -> tuple[tuple[tuple[str, str], int], ...]:
    """Each (session, participant) of the new rows, with its newest timestamp."""
    newest: dict[tuple[str, str], int] = {}
    for r in rows:
        key = (r["session_id"], r["participant_id"])
        newest[key] = max(newest.get(key, r["timestamp_ms"]), r["timestamp_ms"])
    return tuple(sorted(newest.items()))


def _derive_session(
    session: Session,
    fresh: list[IngestItem],
    streams: dict[tuple[str, str], list[IngestItem]],
    texts: dict[writes.StreamKey, str],
    plan: _Plan,
    now_ms: int,
    rows: list[dict[str, Any]],
    names: dict[tuple[str, str], str | None],
    presence: dict[tuple[str, str], list[tuple[int, int]]],
    changed_states: dict[writes.StreamKey, tuple[int, str]],
) -> None:
    """The rows, names, presence and new states of one session's new items (added to the
    request's): derived here unless precomputed against the state still stored."""
    session_id = session.session_id
    derived_rows: dict[int, dict[str, Any]] = {}
    intervals: dict[int, int] = {}
    errors: list[tuple[int, InvalidInput]] = []
    for stream_key, stream_items in streams.items():
        state_in = texts.get((session_id, *stream_key))
        derived = plan.get((*stream_key, tuple(i.index for i in stream_items)))
        if derived is None or derived.state_in != state_in:
            derived = _derive_stream(session_id, state_in, stream_items, now_ms)
        if derived.error is not None:
            errors.append(derived.error)
            continue
        derived_rows.update(derived.rows)
        intervals.update(derived.intervals)
        if derived.changed is not None:
            changed_states[(session_id, *stream_key)] = derived.changed
    if errors:  # the first invalid report in timestamp order, as when derived one by one
        position = {item.index: n for n, item in enumerate(fresh)}
        raise min(errors, key=lambda e: position[e[0]])[1]
    for item in fresh:
        name_key = (session_id, item.participant_id)
        if item.participant_name is not None or name_key not in names:
            names[name_key] = item.participant_name
        if item.report is not None:
            row = derived_rows[item.index]
            row["session_id"] = session_id  # derived before the session was known for sure
            interval_ms = intervals[item.index]
        else:
            row = sample_row(session_id, item, item.sample, now_ms)
            interval_ms = item.sample.interval_ms if item.sample is not None else 0
        rows.append(row)
        presence[name_key].append((item.timestamp_ms - interval_ms, item.timestamp_ms))
        session.start_ms = min(session.start_ms, item.timestamp_ms)
        session.last_report_ms = max(session.last_report_ms, item.timestamp_ms)
        if item.custom_room_id is not None:
            session.custom_room_id = item.custom_room_id
        session.touched = True


def _update_intervals(
    conn: Connection,
    settings: Settings,
    presence: dict[tuple[str, str], list[tuple[int, int]]],
) -> tuple[_Presence, _Presence]:
    """Merge the new presence into the stored intervals; (stored before, changed after)."""
    stored = writes.load_intervals_many(conn, presence)
    gap_ms = settings.participant_gap_s * 1000
    changed = {}
    for key, spans in presence.items():
        before = stored.get(key, [])
        after = merge_intervals(before + spans, gap_ms)
        if after != before:
            changed[key] = after
    writes.save_intervals_many(conn, stored, changed)
    return stored, changed


def _assign(
    conn: Connection,
    settings: Settings,
    api_key: str,
    item: IngestItem,
    latest: Session | None,
    known: dict[str, Session],
) -> Session:
    """The session an item belongs to (CONTRACT.md: Rooms, sessions, participants).

    A session spans at most MAX_SESSION_SPAN_S: a report after that opens the room's next
    session; one before it, or one for a named session, is refused.
    """
    span_ms = settings.max_session_span_s * 1000
    if item.session_id is not None:
        row = _named_session(conn, api_key, item, known)
        if row.room_id != item.room_id:
            # Not the session's own room: named only by what the caller sent.
            raise InvalidInput(
                f"items[{item.index}].sessionId: session {item.session_id!r} is not a session "
                f"of room {item.room_id!r}; send the roomId it was opened with, or no sessionId"
            )
        if not _fits(row, item.timestamp_ms, span_ms):
            raise InvalidInput(
                f"items[{item.index}].timestamp: session {item.session_id!r} would span more "
                f"than MAX_SESSION_SPAN_S ({settings.max_session_span_s} s); send a new "
                "sessionId, or none"
            )
        return row
    idle_ms = settings.idle_timeout_s * 1000
    if latest is not None:
        open_and_recent = (
            latest.end_ms is None and item.timestamp_ms - latest.last_report_ms <= idle_ms
        )
        late_data = item.timestamp_ms <= (
            latest.end_ms if latest.end_ms is not None else latest.last_report_ms
        )
        if open_and_recent or late_data:
            row = known.get(latest.session_id, latest)
            if _fits(row, item.timestamp_ms, span_ms):
                return row
            if item.timestamp_ms < row.start_ms:
                raise InvalidInput(
                    f"items[{item.index}].timestamp: more than MAX_SESSION_SPAN_S "
                    f"({settings.max_session_span_s} s) before the room's last session; "
                    "send epoch milliseconds from a synchronised clock"
                )
    return _new_session(api_key, item, writes.new_session_id())


def _fits(session: Session, timestamp_ms: int, span_ms: int) -> bool:
    """Whether the session, with this item, spans no more than ``span_ms``."""
    return (
        max(session.last_report_ms, timestamp_ms) - min(session.start_ms, timestamp_ms)
        <= span_ms
    )


def _named_session(
    conn: Connection, api_key: str, item: IngestItem, known: dict[str, Session]
) -> Session:
    """The tenant's session of the id the client sent, or a new one (domain/session_ids.py).

    Another tenant's session of that id is not looked at beyond its existence, which
    decides only whether the new session is stored under the id or the scoped id: the
    answer is the same either way.
    """
    assert item.session_id is not None
    ids = candidate_ids(api_key, item.session_id)
    for stored_id in ids:
        row = known.get(stored_id)
        if row is not None:
            return row
    found = [writes.session_by_id(conn, stored_id) for stored_id in ids]
    for row in found:
        if row is not None and row.api_key == api_key:
            return row
    return _new_session(api_key, item, ids[0] if found[0] is None else ids[1])


def _new_session(api_key: str, item: IngestItem, session_id: str) -> Session:
    return Session(
        session_id=session_id,
        api_key=api_key,
        room_id=item.room_id,
        custom_room_id=item.custom_room_id,
        start_ms=item.timestamp_ms,
        last_report_ms=item.timestamp_ms,
        end_ms=None,
        is_new=True,
        rollup_origin_ms=item.timestamp_ms,
    )


def merge_intervals(spans: list[tuple[int, int]], gap_ms: int) -> list[tuple[int, int]]:
    """Join spans that overlap or are no more than ``gap_ms`` apart."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start - merged[-1][1] <= gap_ms:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


_DIRECTION_FIELDS = tuple(f.name for f in fields(DirectionStats))
# (kind, ((direction, ((DirectionStats field, samples column), ...)), ...)) of every column.
_STAT_COLUMNS = tuple(
    (kind, tuple(
        (direction, tuple((f, stat_column(kind, direction, f)) for f in _DIRECTION_FIELDS))
        for direction in DIRECTIONS
    ))
    for kind in KINDS
)
# A row before its item's values: every column, in the order of the samples rows, None.
_EMPTY_ROW: dict[str, Any] = {
    "session_id": None,
    "participant_id": None,
    "peer_connection_id": None,
    "timestamp_ms": None,
    "received_ms": None,
    "interval_ms": None,
    "codec_audio": None,
    "codec_video": None,
    "audio_mos": None,
    "video_vq": None,
    "score_inputs": None,
    **{column: None for _, by_direction in _STAT_COLUMNS for _, pairs in by_direction
       for _, column in pairs},
}


def sample_row(
    session_id: str, item: IngestItem, sample: Sample | None, now_ms: int
) -> dict[str, Any]:
    """The samples-table row of one item (NULL measurements for a baseline report)."""
    row = _EMPTY_ROW.copy()  # a copy of a dict of the same keys: one copy of its table
    row["session_id"] = session_id
    row["participant_id"] = item.participant_id
    row["peer_connection_id"] = item.peer_connection_id
    row["timestamp_ms"] = item.timestamp_ms
    row["received_ms"] = now_ms
    if sample is None:
        return row
    for kind, by_direction in _STAT_COLUMNS:
        media = getattr(sample, kind)
        if media is not None:
            for direction, pairs in by_direction:
                stats: DirectionStats | None = getattr(media, direction)
                if stats is not None:
                    for name, column in pairs:
                        value = getattr(stats, name)
                        if value is not None:  # None is the row's already
                            row[column] = value
    score = score_sample(sample)
    row["interval_ms"] = sample.interval_ms
    row["codec_audio"] = sample.codec_audio
    row["codec_video"] = sample.codec_video
    row["audio_mos"] = score.audio.mos if score.audio else None
    row["video_vq"] = score.video.vq if score.video else None
    row["score_inputs"] = orjson.dumps(score.inputs()).decode()
    return row
