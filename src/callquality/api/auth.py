"""Who is calling: the token in Authorization, verified against its API key's secret."""

from __future__ import annotations

import threading
import time

from sqlalchemy import Engine

from callquality.domain.errors import AuthError, Forbidden, StoreUnavailable
from callquality.store.db import read_transaction
from callquality.store.keys import secret_for
from callquality.tokens import Claims, unverified_api_key, verify_token

_SECRET_TTL_S = 60.0


class Authenticator:
    """Verifies tokens; secrets are cached for a minute to keep ingest off the database."""

    def __init__(self, engine: Engine, leeway_s: int) -> None:
        self._engine = engine
        self._leeway_s = leeway_s
        self._cache: dict[str, tuple[float, str | None]] = {}
        self._lock = threading.Lock()

    def _secret(self, api_key: str) -> str | None:
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(api_key)
        if hit is not None and now - hit[0] < _SECRET_TTL_S:
            return hit[1]
        try:
            with read_transaction(self._engine) as conn:
                secret = secret_for(conn, api_key)
        except StoreUnavailable:
            if hit is not None:  # the database is down: the key we knew still signs
                return hit[1]
            raise
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[api_key] = (now, secret)
        return secret

    def claims(self, authorization: str | None) -> Claims:
        """The verified claims of an ``Authorization`` header value (raw token or Bearer)."""
        if not authorization or not authorization.strip():
            raise AuthError(
                "no token: send a JWT in the Authorization header (no prefix, or 'Bearer ')"
            )
        token = authorization.strip()
        if token[:7].lower() == "bearer ":
            token = token[7:].strip()
        api_key = unverified_api_key(token)
        secret = self._secret(api_key)
        if secret is None:
            raise AuthError(
                "the token's apikey is not known here; create a key with `callquality keys create`"
            )
        return verify_token(token, secret, leeway_s=self._leeway_s)


def require_reader(claims: Claims) -> None:
    """The REST read endpoints need the crawler role (or a token without roles)."""
    if not claims.may_read:
        raise Forbidden(
            "this token has only the 'rtc' role, which may send statistics but not read them; "
            "use a token with the 'crawler' role"
        )


def check_scope(claims: Claims, room_id: str, participant_id: str | None, what: str) -> None:
    """A token bound to a room or participant may touch only that room or participant."""
    if claims.room_id is not None and claims.room_id != room_id:
        raise Forbidden(f"{what}: this token is limited to room {claims.room_id!r}")
    if claims.participant_id is not None and claims.participant_id != participant_id:
        raise Forbidden(f"{what}: this token is limited to participant {claims.participant_id!r}")
