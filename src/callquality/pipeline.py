"""The ingest path: items → sessions → interval samples → scores → one transaction.

A request is atomic: every item is assigned, derived and written in one transaction, or
none is. Raw reports are turned into samples against the counter state stored for their
(participant, peer connection), so any API process can take the next report.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

import orjson
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError

from callquality.config import Settings
from callquality.errors import InvalidInput, NotFound
from callquality.ingest.items import IngestItem
from callquality.ingest.report import ReportError, process_report
from callquality.ingest.sample import DirectionStats, Sample
from callquality.scoring import score_sample
from callquality.store import writes
from callquality.store.db import write_transaction
from callquality.store.schema import DIRECTIONS, KINDS, stat_column

SESSION_ID_PATTERN = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What a request's items became."""

    accepted: int
    duplicates: int
    session_ids: tuple[str, ...]


def ingest(
    engine: Engine, settings: Settings, api_key: str, items: Sequence[IngestItem], now_ms: int
) -> IngestResult:
    """Store a batch atomically; retried when a concurrent writer created the same row."""
    for attempt in range(_ATTEMPTS):
        try:
            with write_transaction(engine) as conn:
                return _ingest(conn, settings, api_key, items, now_ms)
        except IntegrityError:
            if attempt == _ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def _ingest(
    conn: Connection, settings: Settings, api_key: str, items: Sequence[IngestItem], now_ms: int
) -> IngestResult:
    by_session: dict[str, list[IngestItem]] = defaultdict(list)
    session_rows: dict[str, writes.SessionRow] = {}
    by_room: dict[str, list[IngestItem]] = defaultdict(list)
    for item in items:
        by_room[item.room_id].append(item)
    for room_id in sorted(by_room):
        writes.lock_room(conn, api_key, room_id)
        latest = writes.latest_session(conn, api_key, room_id)
        for item in sorted(by_room[room_id], key=lambda i: (i.timestamp_ms, i.index)):
            row = _assign(conn, settings, api_key, item, latest, session_rows)
            # Later items of this batch are assigned against the session as it grows.
            row.last_report_ms = max(row.last_report_ms, item.timestamp_ms)
            if item.session_id is None:
                latest = row if latest is None or row.start_ms >= latest.start_ms else latest
            session_rows[row.session_id] = row
            by_session[row.session_id].append(item)
    accepted = duplicates = 0
    for session_id, session_items in by_session.items():
        a, d = _ingest_session(conn, settings, api_key, session_rows[session_id], session_items,
                               now_ms)
        accepted += a
        duplicates += d
    writes.save_sessions(conn, session_rows.values())
    return IngestResult(accepted, duplicates, tuple(by_session))


def _assign(
    conn: Connection,
    settings: Settings,
    api_key: str,
    item: IngestItem,
    latest: writes.SessionRow | None,
    known: dict[str, writes.SessionRow],
) -> writes.SessionRow:
    """The session an item belongs to (CONTRACT.md: Rooms, sessions, participants)."""
    if item.session_id is not None:
        row = known.get(item.session_id) or writes.session_by_id(conn, item.session_id)
        if row is None:
            return _new_session(api_key, item, item.session_id)
        if row.api_key != api_key:
            raise NotFound(f"items[{item.index}].sessionId: no session {item.session_id!r}")
        if row.room_id != item.room_id:
            raise InvalidInput(
                f"items[{item.index}].sessionId: session {item.session_id!r} belongs to room "
                f"{row.room_id!r}, not {item.room_id!r}; send the matching roomId"
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
            return known.get(latest.session_id, latest)
    return _new_session(api_key, item, writes.new_session_id())


def _new_session(api_key: str, item: IngestItem, session_id: str) -> writes.SessionRow:
    return writes.SessionRow(
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


def _ingest_session(
    conn: Connection,
    settings: Settings,
    api_key: str,
    session: writes.SessionRow,
    items: list[IngestItem],
    now_ms: int,
) -> tuple[int, int]:
    session_id = session.session_id
    keys = [(i.participant_id, i.peer_connection_id, i.timestamp_ms) for i in items]
    stored = writes.existing_sample_keys(conn, session_id, keys)
    raw_streams = [i.stream_key for i in items if i.report is not None]
    states: dict[tuple[str, str], Any] = {
        k: orjson.loads(v) for k, v in writes.load_states(conn, session_id, raw_streams).items()
    }
    changed_states: dict[tuple[str, str], tuple[int, str]] = {}
    names: dict[str, str | None] = {}
    presence: dict[str, list[tuple[int, int]]] = defaultdict(list)
    rows: list[dict[str, Any]] = []
    seen: set[tuple[str, str, int]] = set()
    duplicates = 0
    for item in items:  # already in timestamp order
        key = (item.participant_id, item.peer_connection_id, item.timestamp_ms)
        if key in stored or key in seen:
            duplicates += 1
            continue
        seen.add(key)
        if item.participant_name is not None or item.participant_id not in names:
            names[item.participant_id] = item.participant_name
        sample = item.sample
        if item.report is not None:
            try:
                sample, state = process_report(
                    states.get(item.stream_key), item.timestamp_ms, item.report
                )
            except ReportError as exc:
                raise InvalidInput(f"items[{item.index}].report: {exc}") from exc
            if state != states.get(item.stream_key):
                states[item.stream_key] = state
                changed_states[item.stream_key] = (item.timestamp_ms, orjson.dumps(state).decode())
        rows.append(sample_row(session_id, item, sample, now_ms))
        interval_ms = sample.interval_ms if sample is not None else 0
        presence[item.participant_id].append((item.timestamp_ms - interval_ms, item.timestamp_ms))
        session.start_ms = min(session.start_ms, item.timestamp_ms)
        session.last_report_ms = max(session.last_report_ms, item.timestamp_ms)
        if item.custom_room_id is not None:
            session.custom_room_id = item.custom_room_id
        session.touched = True
    writes.upsert_participants(conn, api_key, session_id, names)
    writes.insert_samples(conn, rows, session.rollup_origin_ms)
    writes.save_states(conn, session_id, changed_states)
    _update_intervals(conn, settings, session_id, presence)
    return len(rows), duplicates


def _update_intervals(
    conn: Connection,
    settings: Settings,
    session_id: str,
    presence: dict[str, list[tuple[int, int]]],
) -> None:
    stored = writes.load_intervals(conn, session_id, presence)
    gap_ms = settings.participant_gap_s * 1000
    changed = {}
    for participant_id, spans in presence.items():
        before = stored.get(participant_id, [])
        after = merge_intervals(before + spans, gap_ms)
        if after != before:
            changed[participant_id] = after
    writes.replace_intervals(conn, session_id, changed)


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


def sample_row(
    session_id: str, item: IngestItem, sample: Sample | None, now_ms: int
) -> dict[str, Any]:
    """The samples-table row of one item (NULL measurements for a baseline report)."""
    row: dict[str, Any] = {
        "session_id": session_id,
        "participant_id": item.participant_id,
        "peer_connection_id": item.peer_connection_id,
        "timestamp_ms": item.timestamp_ms,
        "received_ms": now_ms,
        "interval_ms": None,
        "codec_audio": None,
        "codec_video": None,
        "audio_mos": None,
        "video_vq": None,
        "score_inputs": None,
    }
    for kind in KINDS:
        media = getattr(sample, kind) if sample is not None else None
        for direction in DIRECTIONS:
            stats: DirectionStats | None = getattr(media, direction) if media else None
            for name in _DIRECTION_FIELDS:
                row[stat_column(kind, direction, name)] = (
                    getattr(stats, name) if stats is not None else None
                )
    if sample is None:
        return row
    score = score_sample(sample)
    row.update(
        interval_ms=sample.interval_ms,
        codec_audio=sample.codec_audio,
        codec_video=sample.codec_video,
        audio_mos=score.audio.mos if score.audio else None,
        video_vq=score.video.vq if score.video else None,
        score_inputs=orjson.dumps(score.inputs()).decode(),
    )
    return row
