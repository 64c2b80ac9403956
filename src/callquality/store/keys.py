"""API keys and their secrets; revoking a key; deleting a key's data."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import Connection, Table, delete, func, select, update

from callquality.store.schema import api_keys, metadata, sessions


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """An API key as ``callquality keys list`` shows it (never its secret)."""

    api_key: str
    name: str | None
    created_ms: int
    revoked_ms: int | None
    sessions: int
    last_report_ms: int | None


def create_api_key(conn: Connection, *, name: str | None, now_ms: int) -> tuple[str, str]:
    """A new API key and its secret."""
    api_key = secrets.token_hex(16)
    secret = secrets.token_hex(32)
    conn.execute(
        api_keys.insert().values(api_key=api_key, secret=secret, name=name, created_ms=now_ms)
    )
    return api_key, secret


def secret_for(conn: Connection, api_key: str) -> str | None:
    """The secret of an API key, or None when the key is unknown or revoked."""
    row = key_secret(conn, api_key)
    return row[0] if row is not None and row[1] is None else None


def key_secret(conn: Connection, api_key: str) -> tuple[str, int | None] | None:
    """(secret, revoked_ms) of an API key, or None when it is unknown."""
    row = conn.execute(
        select(api_keys.c.secret, api_keys.c.revoked_ms).where(api_keys.c.api_key == api_key)
    ).first()
    return None if row is None else (str(row[0]), None if row[1] is None else int(row[1]))


def latest_revocation_ms(conn: Connection) -> int | None:
    """When the most recent revocation happened (one probe of ``ix_api_keys_revoked``):
    every process compares it with what it saw before to drop its cached secrets."""
    value = conn.execute(select(func.max(api_keys.c.revoked_ms))).scalar()
    return None if value is None else int(value)


def revoke_api_key(conn: Connection, api_key: str, now_ms: int) -> int | None:
    """Revoke a key (its data stays); returns its revocation time, None for an unknown key.
    Revocation times only grow, so a new one always moves ``latest_revocation_ms`` even
    when clocks of two machines disagree."""
    row = key_secret(conn, api_key)
    if row is None:
        return None
    if row[1] is not None:
        return row[1]
    revoked_ms = max(now_ms, (latest_revocation_ms(conn) or 0) + 1)
    conn.execute(
        update(api_keys).where(api_keys.c.api_key == api_key).values(revoked_ms=revoked_ms)
    )
    return revoked_ms


def list_api_keys(conn: Connection) -> list[KeyInfo]:
    """Every key, oldest first, with its number of sessions and last report."""
    counts = {
        key: (int(n), None if last is None else int(last))
        for key, n, last in conn.execute(
            select(sessions.c.api_key, func.count(), func.max(sessions.c.last_report_ms))
            .group_by(sessions.c.api_key)
        )
    }
    rows = conn.execute(
        select(api_keys.c.api_key, api_keys.c.name, api_keys.c.created_ms, api_keys.c.revoked_ms)
        .order_by(api_keys.c.created_ms, api_keys.c.api_key)
    )
    return [
        KeyInfo(
            api_key=key, name=name, created_ms=int(created), revoked_ms=revoked,
            sessions=counts.get(key, (0, None))[0], last_report_ms=counts.get(key, (0, None))[1],
        )
        for key, name, created, revoked in rows
    ]


# Every table keyed by session goes with the key's sessions (sessions last); a table keyed by
# the key alone (Janus's event state) with the key's last batch. Read from the schema, so that
# a table added later is purged too.
_SESSION_TABLES: tuple[Table, ...] = tuple(
    t for t in metadata.sorted_tables if "session_id" in t.c and t is not sessions
)
_KEY_TABLES: tuple[Table, ...] = tuple(
    t for t in metadata.sorted_tables
    if "api_key" in t.c and "session_id" not in t.c and t is not api_keys
)


def purge_sessions_of_key(conn: Connection, api_key: str, *, limit: int = 500) -> int:
    """Delete up to ``limit`` sessions of a key and everything stored of them; returns how
    many were deleted (0: none is left). Callers repeat it, one transaction per batch, so
    that no lock is held for long. The key itself stays (revoked): its tokens keep failing."""
    ids = list(
        conn.execute(
            select(sessions.c.session_id).where(sessions.c.api_key == api_key).limit(limit)
        ).scalars()
    )
    for table in _SESSION_TABLES:
        if ids:
            conn.execute(delete(table).where(table.c.session_id.in_(ids)))
    if ids:
        conn.execute(delete(sessions).where(sessions.c.session_id.in_(ids)))
    else:
        for table in _KEY_TABLES:
            conn.execute(delete(table).where(table.c.api_key == api_key))
    return len(ids)
