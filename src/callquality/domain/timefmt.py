"""Times as the API writes them."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache


def iso_ms(timestamp_ms: float) -> str:
    """ISO 8601 UTC with milliseconds and Z, as VideoSDK writes times."""
    ms = int(timestamp_ms)  # whole milliseconds, exact (no float seconds)
    return f"{_iso_second(ms // 1000)}.{ms % 1000:03d}Z"


@lru_cache(maxsize=8192)
def _iso_second(seconds: int) -> str:
    """``YYYY-MM-DDTHH:MM:SS`` of an epoch second (cached: a session list or a series
    formats thousands of times that share their seconds)."""
    return datetime.fromtimestamp(seconds, tz=UTC).isoformat()[:-6]
