"""JWT tokens as VideoSDK makes them: HS256, signed with the API key's secret."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal

import jwt

from callquality.domain.errors import AuthError

Role = Literal["crawler", "rtc", "janus"]
ROLES = ("crawler", "rtc", "janus")
ALGORITHM = "HS256"
DEFAULT_PERMISSIONS = ("allow_join",)


@dataclass(frozen=True, slots=True)
class Claims:
    """What a verified token allows."""

    api_key: str
    roles: tuple[str, ...]
    room_id: str | None = None
    participant_id: str | None = None
    permissions: tuple[str, ...] = ()

    @property
    def may_read(self) -> bool:
        """Whether the REST API's read endpoints are open to this token."""
        return not self.roles or "crawler" in self.roles

    @property
    def moderates(self) -> bool:
        """Whether the token carries VideoSDK's moderator permission (``allow_mod``)."""
        return "allow_mod" in self.permissions

    @property
    def may_send_reports(self) -> bool:
        """Whether ``POST /v2/stats`` is open to it: not to a token made for Janus alone."""
        return not self.roles or "rtc" in self.roles or "crawler" in self.roles

    @property
    def may_send_janus(self) -> bool:
        """Whether ``POST /v2/ingest/janus`` is open to it (the ``janus`` role)."""
        return "janus" in self.roles


def make_token(
    api_key: str,
    secret: str,
    *,
    roles: tuple[str, ...] = ("crawler", "rtc"),
    room_id: str | None = None,
    participant_id: str | None = None,
    permissions: tuple[str, ...] = DEFAULT_PERMISSIONS,
    ttl_s: int = 24 * 3600,
    now: float | None = None,
) -> str:
    """A signed token with the claims of CONTRACT.md."""
    issued = int(time.time() if now is None else now)
    claims: dict[str, Any] = {
        "apikey": api_key,
        "permissions": list(permissions),
        "version": 2,
        "roles": list(roles),
        "iat": issued,
        "exp": issued + ttl_s,
    }
    if room_id is not None:
        claims["roomId"] = room_id
    if participant_id is not None:
        claims["participantId"] = participant_id
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def unverified_api_key(token: str) -> str:
    """The ``apikey`` claim before the signature is checked (to find the secret)."""
    try:
        header = jwt.get_unverified_header(token)
        payload = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise AuthError(
            "the token is not a well-formed JWT; send the token printed by "
            "`callquality token` in the Authorization header"
        ) from exc
    if header.get("alg") != ALGORITHM:
        raise AuthError(f"tokens must be signed with {ALGORITHM}; got alg={header.get('alg')!r}")
    api_key = payload.get("apikey")
    if not isinstance(api_key, str) or not api_key:
        raise AuthError("the token has no 'apikey' claim; sign one with `callquality token`")
    return api_key


def verify_token(token: str, secret: str, *, leeway_s: int = 30) -> Claims:
    """Check signature and expiry; return the claims."""
    try:
        payload = jwt.decode(token, secret, algorithms=[ALGORITHM], leeway=leeway_s)
    except jwt.ExpiredSignatureError as exc:
        raise AuthError("the token has expired; make a new one with `callquality token`") from exc
    except jwt.InvalidSignatureError as exc:
        raise AuthError(
            "the token's signature does not match its API key's secret; sign it with the "
            "secret printed by `callquality keys create`"
        ) from exc
    except jwt.PyJWTError as exc:
        raise AuthError(f"the token is invalid: {exc}") from exc
    for name in _TIME_CLAIMS:
        value = payload.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise AuthError(f"the token's {name!r} claim must be a number of epoch seconds")
    roles = _strings(payload, "roles")
    permissions = _strings(payload, "permissions")
    room_id = _string(payload, "roomId")
    participant_id = _string(payload, "participantId")
    return Claims(
        api_key=str(payload["apikey"]),
        roles=roles,
        room_id=room_id,
        participant_id=participant_id,
        permissions=permissions,
    )


# PyJWT reads these with int(), which takes "1700000000" too; the contract says numbers.
_TIME_CLAIMS = ("exp", "iat", "nbf")


def _strings(payload: dict[str, Any], name: str) -> tuple[str, ...]:
    value = payload.get(name) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise AuthError(f"the token's {name!r} claim must be a list of strings")
    return tuple(value)


def _string(payload: dict[str, Any], name: str) -> str | None:
    value = payload.get(name)
    if value is not None and (not isinstance(value, str) or not value):
        raise AuthError(f"the token's {name!r} claim must be a non-empty string")
    return value
