"""The Janus sessions' states (``janus_states``): read for update, then written or forgotten."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from sqlalchemy import Connection, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from callquality.store.db import is_postgres
from callquality.store.schema import janus_states


def load_janus_states(
    conn: Connection, api_key: str, janus_session_ids: Iterable[int]
) -> dict[int, dict[str, Any]]:
    """The stored states of these Janus sessions, locked until the transaction ends."""
    ids = sorted({str(i) for i in janus_session_ids})
    if not ids:
        return {}
    query = select(janus_states.c.janus_session_id, janus_states.c.state).where(
        janus_states.c.api_key == api_key, janus_states.c.janus_session_id.in_(ids)
    )
    if is_postgres(conn):
        query = query.with_for_update()  # SQLite's write transaction is the lock there
    return {int(row.janus_session_id): orjson.loads(row.state) for row in conn.execute(query)}


def save_janus_states(
    conn: Connection, api_key: str, states: Mapping[int, dict[str, Any] | None], now_ms: int
) -> None:
    """Write each state; None deletes it (the Janus session was destroyed)."""
    gone = sorted(str(i) for i, s in states.items() if s is None)
    if gone:
        conn.execute(
            delete(janus_states).where(
                janus_states.c.api_key == api_key, janus_states.c.janus_session_id.in_(gone)
            )
        )
    rows = [
        {"api_key": api_key, "janus_session_id": str(i), "updated_ms": now_ms,
         "state": orjson.dumps(s).decode()}
        for i, s in sorted(states.items())
        if s is not None
    ]
    if not rows:
        return
    insert = (postgresql.insert if is_postgres(conn) else sqlite.insert)(janus_states)
    stmt = insert.on_conflict_do_update(
        index_elements=[janus_states.c.api_key, janus_states.c.janus_session_id],
        set_={"updated_ms": insert.excluded.updated_ms, "state": insert.excluded.state},
    )
    conn.execute(stmt, rows)


def purge_janus_states_before(conn: Connection, cutoff_ms: int) -> int:
    """Forget the states of Janus sessions not heard of since ``cutoff_ms`` (a Janus that
    died sends no ``destroyed``); returns how many."""
    result = conn.execute(delete(janus_states).where(janus_states.c.updated_ms < cutoff_ms))
    return int(result.rowcount or 0)
