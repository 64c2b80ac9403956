"""The domain's exceptions, one tree; ``api/errors.py`` maps each class to one HTTP status.

    CallQualityError
    ├── InvalidInput          the request is malformed or a value is out of range
    ├── AuthError             no token, malformed, bad signature, expired, unknown apikey
    ├── Forbidden             a valid token that may not do this
    ├── NotFound              no such thing for this API key
    ├── Conflict              the request contradicts stored state
    ├── PayloadTooLarge       a body or upload over its limit
    ├── RateLimited           too many requests (carries retry_after_s)
    └── StoreUnavailable      the database cannot be reached (carries retry_after_s)

They carry a message that says what went wrong and how to fix it; no HTTP.
"""

from __future__ import annotations


class CallQualityError(Exception):
    """Base of every error the service reports to a client."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(CallQualityError):
    """The request is malformed or a value is out of range."""


class AuthError(CallQualityError):
    """No token, a malformed or badly signed or expired one, or an unknown API key."""


class Forbidden(CallQualityError):
    """A valid token that may not do this."""


class NotFound(CallQualityError):
    """No such thing for this API key."""


class Conflict(CallQualityError):
    """The request contradicts stored state."""


class PayloadTooLarge(CallQualityError):
    """A body or an upload over its limit."""


class Retryable(CallQualityError):
    """An error the client should retry after ``retry_after_s`` seconds."""

    def __init__(self, message: str, retry_after_s: int = 5) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class RateLimited(Retryable):
    """Too many requests for this API key."""


class StoreUnavailable(Retryable):
    """The database cannot be reached."""
