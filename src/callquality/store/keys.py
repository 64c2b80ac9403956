"""API keys and their secrets."""

from __future__ import annotations

import secrets

from sqlalchemy import Connection, select

from callquality.store.schema import api_keys


def create_api_key(conn: Connection, *, name: str | None, now_ms: int) -> tuple[str, str]:
    """A new API key and its secret."""
    api_key = secrets.token_hex(16)
    secret = secrets.token_hex(32)
    conn.execute(
        api_keys.insert().values(api_key=api_key, secret=secret, name=name, created_ms=now_ms)
    )
    return api_key, secret


def secret_for(conn: Connection, api_key: str) -> str | None:
    """The secret of an API key, or None when the key is unknown."""
    return conn.execute(
        select(api_keys.c.secret).where(api_keys.c.api_key == api_key)
    ).scalar_one_or_none()
