"""Per-API-key request rate limit: a token bucket per key, in this process.

Each key's bucket holds up to ``burst`` tokens and refills at ``rate_per_s``; a request takes
one token, or is refused with 429 and ``Retry-After`` (whole seconds until a token is back).
The buckets live in the process's memory: with N API processes a key may send up to N times
the rate in total (docs/performance.md); a shared limit belongs in the proxy in front.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from callquality.domain.errors import RateLimited

_PRUNE_EVERY = 10_000  # requests between sweeps of idle keys' full buckets


class RateLimiter:
    """Token buckets keyed by API key; ``rate_per_s`` 0 turns the limit off."""

    def __init__(
        self, rate_per_s: float, burst: int = 0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate_per_s = rate_per_s
        self.burst = float(burst) if burst > 0 else max(1.0, 2 * rate_per_s)
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)
        self._lock = threading.Lock()  # sync routes run in a thread pool
        self._calls = 0

    def check(self, key: str) -> None:
        """Take a token for ``key``, or raise RateLimited with the wait in seconds."""
        if self.rate_per_s <= 0:
            return
        with self._lock:
            now = self._clock()
            tokens, at = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - at) * self.rate_per_s)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                wait_s = (1.0 - tokens) / self.rate_per_s
                raise RateLimited(
                    f"more than {self.rate_per_s:g} requests per second for this API key "
                    f"(burst {self.burst:g}); retry after {math.ceil(wait_s)} s, or send "
                    "more items per request",
                    retry_after_s=max(1, math.ceil(wait_s)),
                )
            self._buckets[key] = (tokens - 1.0, now)
            self._calls += 1
            if self._calls % _PRUNE_EVERY == 0:
                self._prune(now)

    def _prune(self, now: float) -> None:
        """Forget keys whose bucket has refilled: they are as if never seen."""
        full_after_s = self.burst / self.rate_per_s
        for key in [k for k, (_, at) in self._buckets.items() if now - at > full_after_s]:
            del self._buckets[key]
