"""The ``participant_clients`` table: each participant's client info, per session."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, select

from callquality.domain.client import FIELDS, ClientInfo, astuple, merged_values
from callquality.store import bulk
from callquality.store.schema import participant_clients

Key = tuple[str, str]  # (session_id, participant_id)


def _info(row: Any) -> ClientInfo:
    return ClientInfo(**{name: getattr(row, name) for name in FIELDS})


def load_many(conn: Connection, keys: Sequence[Key]) -> dict[Key, ClientInfo]:
    """The stored client info of (session, participant)s (those without any left out)."""
    rows = bulk.select_by_keys(
        conn, participant_clients, ("session_id", "participant_id"), keys,
        ("session_id", "participant_id", *FIELDS),
    )
    return {(r.session_id, r.participant_id): _info(r) for r in rows}


def of_sessions(
    conn: Connection, session_ids: Sequence[str], participant_ids: Sequence[str] | None = None
) -> dict[Key, ClientInfo]:
    """The client info of the participants of these sessions that have some (of those
    ``participant_ids`` only, when given)."""
    if not session_ids:
        return {}
    c = participant_clients.c
    query = select(c.session_id, c.participant_id, *(c[name] for name in FIELDS)).where(
        c.session_id.in_(session_ids)
    )
    if participant_ids is not None:
        query = query.where(c.participant_id.in_(participant_ids))
    rows = conn.execute(query)
    return {(r.session_id, r.participant_id): _info(r) for r in rows}


def save_many(
    conn: Connection, api_key: str, updates: Mapping[Key, ClientInfo], now_ms: int
) -> None:
    """Merge new client info into what is stored (a known value replaces an older one);
    only rows that change are written."""
    if not updates:
        return
    stored = {
        (r[0], r[1]): tuple(r[2:])
        for r in bulk.select_by_keys(
            conn, participant_clients, ("session_id", "participant_id"), list(updates),
            ("session_id", "participant_id", *FIELDS),
        )
    }
    rows = []
    for (session_id, participant_id), info in updates.items():
        # As ClientInfo.merged, on the rows' values: no record built per stored row.
        before = stored.get((session_id, participant_id))
        after = astuple(info) if before is None else merged_values(before, astuple(info))
        if after == before:
            continue
        rows.append({
            "session_id": session_id, "participant_id": participant_id, "api_key": api_key,
            "updated_ms": now_ms, **dict(zip(FIELDS, after, strict=True)),
        })
    bulk.insert_many(conn, participant_clients, rows, _conflict)


def _conflict(stmt: Any) -> Any:
    return stmt.on_conflict_do_update(
        index_elements=["session_id", "participant_id"],
        set_={name: stmt.excluded[name] for name in ("updated_ms", *FIELDS)},
    )
