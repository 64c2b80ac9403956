"""Import a dump file (browser getStats() dumps, jitsi server-side dumps) as one session.

A browser dump's reports go through the same path as live ingest (``service.ingest``); a media
server's dump (the jitsi videobridge's) gives samples, stored as an SFU's ``sample`` items are.
One transaction: a file that fails anywhere imports nothing. The result says, per peer
connection, what was used and skipped and why, and warns when the dump yields no usable sample
(``ingest.dumps.diagnose``), so an empty call never looks like a clean one. A valid dump that
holds nothing to store (a Jicofo dump) is no error: the result says so, with no session.
No alert rule judges an import: a dump is a post-mortem, after the fact (docs/webhooks.md).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import IO

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from callquality.config import Settings
from callquality.domain.errors import Conflict, InvalidInput
from callquality.ingest.dumps import DumpError, open_dump
from callquality.ingest.dumps.diagnose import PeerConnectionSummary, diagnose
from callquality.ingest.items import IngestItem
from callquality.query.sessions import sessions_like
from callquality.service.ingest import IngestResult, ingest_in
from callquality.store.db import read_transaction, write_transaction
from callquality.store.writes import new_session_id, save_session_warnings


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What an import stored, and what it could not use."""

    session_id: str | None  # None: the dump held nothing to store (``warnings`` say why)
    room_id: str
    format: str
    browser: str | None
    reports: int  # items stored: getStats reports, or a media server's samples
    duplicates: int
    peer_connections: tuple[str, ...]
    source: str = "browser"  # 'browser' | 'server' (a media server's or jitsi's own figures)
    details: tuple[PeerConnectionSummary, ...] = ()
    warnings: tuple[str, ...] = ()
    usable_samples: int = 0  # stored intervals in which media flowed


def default_room_id(name: str) -> str:
    """A room id from a file name without its extensions: ``dump.txt.gz`` → ``import-dump``."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = re.sub(r"\.gz$", "", base, flags=re.IGNORECASE)
    if "." in base.lstrip("."):
        base = base.rsplit(".", 1)[0]
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", base).strip("-.")[:60]
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
    refuse_twice: bool = False,
) -> ImportResult:
    """Read, validate and store a dump; each peer connection (endpoint) becomes a participant.

    With ``refuse_twice``, a dump already stored as a session of this API key (one that
    started at the same millisecond with the same peer connections) is a ``Conflict``
    naming that session, and nothing is stored.
    """
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
    reports, samples = list(dump.reports()), list(dump.samples())
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
        for i, r in enumerate(reports)
    ]
    first = len(items)
    items += [
        IngestItem(
            index=first + i,
            room_id=room,
            session_id=session_id,
            participant_id=s.participant_id,
            participant_name=s.participant_name or s.participant_id,
            peer_connection_id=s.participant_id,
            timestamp_ms=round(s.timestamp_ms),
            sample=s.sample,
        )
        for i, s in enumerate(samples)
    ]
    diagnosis = diagnose(info, reports, samples)
    stored = ImportResult(
        session_id=None,
        room_id=room,
        format=info.format,
        browser=info.browser,
        reports=0,
        duplicates=0,
        peer_connections=(),
        source=info.source,
        details=diagnosis.peer_connections,
        warnings=diagnosis.warnings,
    )
    if not items:
        warnings = diagnosis.warnings or ("the dump holds no getStats() reports",)
        return replace(stored, warnings=(*warnings, "nothing was imported"))
    if refuse_twice:
        _refuse_if_imported(engine, api_key, name, items)
    result = _store(engine, settings, api_key, items, session_id, diagnosis.warnings)
    return replace(
        stored,
        session_id=session_id,
        reports=result.accepted,
        duplicates=result.duplicates,
        peer_connections=tuple(sorted({i.peer_connection_id for i in items})),
        usable_samples=diagnosis.usable,
    )


def _refuse_if_imported(engine: Engine, api_key: str, name: str, items: list[IngestItem]) -> None:
    """Conflict if the key holds a session like this dump's: same start, same peer connections."""
    start_ms = min(item.timestamp_ms for item in items)
    with read_transaction(engine) as conn:
        twins = sessions_like(conn, api_key, start_ms, {i.participant_id for i in items})
    if twins:
        raise Conflict(
            f"{name} is already imported as session {twins[0].session_id} "
            f"(room {twins[0].room_id}): a session with the same peer connections "
            "from the same start"
        )


def _store(
    engine: Engine,
    settings: Settings,
    api_key: str,
    items: list[IngestItem],
    session_id: str,
    warnings: tuple[str, ...],
) -> IngestResult:
    """The items and the import's warnings, in one transaction (a file imports whole or not
    at all); retried when a concurrent writer created the same row, as ``ingest`` is."""
    for attempt in range(3):
        try:
            with write_transaction(engine) as conn:
                result = ingest_in(conn, settings, api_key, items, int(time.time() * 1000))
                save_session_warnings(conn, session_id, warnings)
                return result
        except IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")
