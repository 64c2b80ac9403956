"""Who is calling, and what the token lets it do (docs/api.md, "Tokens and what they may do").

The token in Authorization is verified against its API key's secret. Secrets are cached for
a minute; a key not in the cache is looked up only while the caller's address is within its
budget of unknown keys (``UNKNOWN_KEY_RATE_PER_S``), so requests with made-up keys cannot
make a database read each.

Scope rules, enforced by the functions below and called by every route:

- ``rtc``-only tokens send statistics; they never read, list or import.
- A token with ``roomId`` sends and reads only that room.
- A token with ``participantId`` sends only for that participant and reads only that
  participant's own series: no session list, no session object or participant list (they
  hold the others' names and timelogs), no session-wide series, no end, no import.
- Ending a session needs the ``crawler`` role (within the token's room, if it has one), or
  ``allow_mod`` with the session's ``roomId`` (the room's moderator).
"""

from __future__ import annotations

import threading
import time

from sqlalchemy import Engine

from callquality.api.ratelimit import RateLimiter
from callquality.domain.errors import AuthError, Forbidden, StoreUnavailable
from callquality.store.db import read_transaction
from callquality.store.keys import key_secret, latest_revocation_ms
from callquality.tokens import Claims, unverified_api_key, verify_token

_SECRET_TTL_S = 60.0
_CACHE_MAX = 10_000
_DOWN_RETRY_S = 1.0  # an unreachable database is tried again after this long


class Authenticator:
    """Verifies tokens; secrets are cached for a minute to keep ingest off the database.

    A revoked key must fail at once in every process, so each request reads one number,
    the newest revocation time (``latest_revocation_ms``: an index probe, the same for all
    keys): an entry cached before it moved is read again. A revocation is rare; reading
    that number is the price of "at once". While the database is unreachable, a key known
    before still signs (revocations can be neither read nor written then). A key not known
    to be valid costs its caller's address one of its unknown-key tokens before any read.
    """

    def __init__(self, engine: Engine, leeway_s: int, unknown_keys: RateLimiter) -> None:
        self._engine = engine
        self._leeway_s = leeway_s
        self._unknown_keys = unknown_keys
        # api_key -> (cached at, secret, revoked, newest revocation when it was read);
        # secret None for an unknown key
        self._cache: dict[str, tuple[float, str | None, bool, int | None]] = {}
        self._down_until = 0.0  # until when a database found down is not asked again
        self._lock = threading.Lock()

    def _secret(self, api_key: str, client: str) -> tuple[str | None, bool]:
        """(secret, revoked) of a key; (None, False) when it is unknown."""
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(api_key)
        if hit is not None and now < self._down_until:
            return hit[1], hit[2]  # the database was down a moment ago: do not wait on it
        if hit is None:
            # Not cached: only an address within its unknown-key budget may make us look.
            self._unknown_keys.require(client)
        elif hit[1] is None:
            self._unknown_keys.check(client)  # a key known to be unknown: costs a token
        try:
            with read_transaction(self._engine) as conn:
                revocation = latest_revocation_ms(conn)
                # An entry read before the newest revocation may be stale: read it again.
                if hit is not None and hit[3] == revocation and now - hit[0] < _SECRET_TTL_S:
                    return hit[1], hit[2]
                row = key_secret(conn, api_key)
        except StoreUnavailable:
            # The database is down: the key we knew still signs (no revocation can be
            # read, nor written, until it is back).
            self._down_until = time.monotonic() + _DOWN_RETRY_S
            if hit is not None:
                return hit[1], hit[2]
            raise
        secret, revoked = (None, False) if row is None else (row[0], row[1] is not None)
        with self._lock:
            if len(self._cache) > _CACHE_MAX:
                self._cache.clear()
            self._cache[api_key] = (now, secret, revoked, revocation)
        if secret is None and hit is None:
            self._unknown_keys.check(client)
        return secret, revoked

    def claims(self, authorization: str | None, client: str = "") -> Claims:
        """The verified claims of an ``Authorization`` header value (raw token or Bearer);
        ``client`` is the caller's address, for the unknown-key limit (never logged)."""
        if not authorization or not authorization.strip():
            raise AuthError(
                "no token: send a JWT in the Authorization header (no prefix, or 'Bearer ')"
            )
        token = authorization.strip()
        if token[:7].lower() == "bearer ":
            token = token[7:].strip()
        api_key = unverified_api_key(token)
        secret, revoked = self._secret(api_key, client)
        if revoked:
            raise AuthError(
                "the token's API key was revoked; ask the operator for a new key "
                "(`callquality keys create`)"
            )
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


def _own_series_only(claims: Claims, what: str) -> Forbidden:
    return Forbidden(
        f"{what}: this token is limited to participant {claims.participant_id!r}, and reads "
        f"only its own series, /v2/sessions/{{sessionId}}/participant/"
        f"{claims.participant_id}/stats; use a token without participantId"
    )


def require_tenant_reader(claims: Claims, what: str) -> None:
    """Reads that show more than one participant's data: crawler, and no participantId."""
    require_reader(claims)
    if claims.participant_id is not None:
        raise _own_series_only(claims, what)


def require_importer(claims: Claims) -> None:
    """Importing a dump makes a session of its own: crawler, and no participantId."""
    if not claims.may_read:
        raise Forbidden(
            "this token has only the 'rtc' role, which may send statistics but not import "
            "dumps; use a token with the 'crawler' role"
        )
    if claims.participant_id is not None:
        raise _own_series_only(claims, "import")


def require_may_end(claims: Claims) -> None:
    """Refuse, before anything is read, a token that may end no session at all."""
    if claims.participant_id is not None:
        raise _own_series_only(claims, "end")
    if not claims.may_read and not (claims.moderates and claims.room_id is not None):
        raise Forbidden(
            "this token has only the 'rtc' role, which may not end sessions; use a token with "
            "the 'crawler' role, or one with 'allow_mod' and the session's roomId"
        )


def require_ender(claims: Claims, room_id: str) -> None:
    """Ending a session of ``room_id``: crawler within the token's room, or allow_mod for it."""
    require_may_end(claims)
    if claims.moderates and claims.room_id == room_id:
        return
    check_scope(claims, room_id, None, "roomId")
    if not claims.may_read:  # a moderator of no room, or of another room
        raise Forbidden("this token may end only the sessions of the room it moderates")


def check_scope(claims: Claims, room_id: str, participant_id: str | None, what: str) -> None:
    """A token bound to a room or participant may touch only that room or participant."""
    if claims.room_id is not None and claims.room_id != room_id:
        raise Forbidden(f"{what}: this token is limited to room {claims.room_id!r}")
    if claims.participant_id is not None and claims.participant_id != participant_id:
        raise Forbidden(f"{what}: this token is limited to participant {claims.participant_id!r}")
