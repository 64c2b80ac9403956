"""The domain's exceptions, one tree; ``api.errors`` maps each class to one HTTP status.

    CallQualityError
    ├── InvalidInput          400  the request is malformed or a value is out of range
    ├── AuthError             401  no token, malformed, bad signature, expired, unknown apikey
    ├── Forbidden             403  a valid token that may not do this
    ├── NotFound              404  no such thing for this API key
    ├── Conflict              409  the request contradicts stored state
    ├── PayloadTooLarge       413
    ├── RateLimited           429  (carries retry_after_s)
    └── StoreUnavailable      503  the database cannot be reached (carries retry_after_s)
"""

from __future__ import annotations


class CallQualityError(Exception):
    """Base of every error the service reports to a client."""

    status = 500
    error = "Internal Server Error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(CallQualityError):
    status = 400
    error = "Bad Request"


class AuthError(CallQualityError):
    status = 401
    error = "Unauthorized"


class Forbidden(CallQualityError):
    status = 403
    error = "Forbidden"


class NotFound(CallQualityError):
    status = 404
    error = "Not Found"


class Conflict(CallQualityError):
    status = 409
    error = "Conflict"


class PayloadTooLarge(CallQualityError):
    status = 413
    error = "Payload Too Large"


class RateLimited(CallQualityError):
    status = 429
    error = "Too Many Requests"

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class StoreUnavailable(CallQualityError):
    status = 503
    error = "Service Unavailable"

    def __init__(self, message: str, retry_after_s: int = 5) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
