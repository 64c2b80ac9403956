"""Import a dump file (webrtc-internals, RTCStatsDump, jitsi rtcstats) as one session.

The dump's reports go through the same path as live ingest (``service.ingest``), in one
transaction: a file that fails anywhere imports nothing.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO

from sqlalchemy import Engine

from callquality.config import Settings
from callquality.domain.errors import InvalidInput
from callquality.ingest.dumps import DumpError, open_dump
from callquality.ingest.items import IngestItem
from callquality.service.ingest import ingest
from callquality.store.writes import new_session_id


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What an import stored."""

    session_id: str
    room_id: str
    format: str
    browser: str | None
    reports: int
    duplicates: int
    peer_connections: tuple[str, ...]


def default_room_id(name: str) -> str:
    """A room id from a file name: ``import-<stem>``."""
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", name.rsplit("/", 1)[-1]).strip("-.")[:60]
    return f"import-{stem or 'dump'}"


def import_file(
    engine: Engine,
    settings: Settings,
    api_key: str,
    stream: IO[bytes] | bytes,
    *,
    name: str,
    room_id: str | None = None,
    max_bytes: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """Read, validate and store a dump; each peer connection becomes a participant."""
    try:
        dump = open_dump(
            stream, progress=progress, **({"max_bytes": max_bytes} if max_bytes else {})
        )
    except DumpError as exc:
        raise InvalidInput(f"{name}: {exc}") from exc
    info = dump.info
    room = room_id or default_room_id(name)
    session_id = new_session_id()
    who = info.browser or "browser"
    items = [
        IngestItem(
            index=i,
            room_id=room,
            session_id=session_id,
            participant_id=r.peer_connection_id,
            participant_name=f"{who} {r.peer_connection_id}",
            peer_connection_id=r.peer_connection_id,
            timestamp_ms=round(r.timestamp_ms),
            report=r.report,
        )
        for i, r in enumerate(dump.reports())
    ]
    if not items:
        raise InvalidInput(f"{name}: the dump holds no getStats() reports")
    result = ingest(engine, settings, api_key, items, int(time.time() * 1000))
    return ImportResult(
        session_id=session_id,
        room_id=room,
        format=info.format,
        browser=info.browser,
        reports=result.accepted,
        duplicates=result.duplicates,
        peer_connections=tuple(sorted({i.peer_connection_id for i in items})),
    )
