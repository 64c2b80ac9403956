"""Rate limits: token buckets, in this process, per API key or per client address.

Each key's bucket holds up to ``burst`` tokens and refills at ``rate_per_s``; a request takes
``cost`` tokens (one for a request, its item count for the ingest item limit), or is refused
with 429 and ``Retry-After`` (whole seconds until enough tokens are back). Three limits use
it (api/state.py): requests per API key, ingest items per API key, and requests with an API
key not known here per client address (checked before the database is asked for the key).
The buckets live in the process's memory: with N API processes a key may send up to N times
the rate in total (docs/performance.md); a shared limit belongs in the proxy in front.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from callquality.domain.errors import RateLimited

_PRUNE_EVERY = 10_000  # checks between sweeps of idle keys' full buckets


class RateLimiter:
    """Token buckets keyed by a string; ``rate_per_s`` 0 turns the limit off.

    ``what`` names what is counted, per what, for the 429's message ("requests per second
    for this API key"); ``min_burst`` is the smallest burst (a full batch must fit).
    """

    def __init__(
        self,
        rate_per_s: float,
        burst: int = 0,
        clock: Callable[[], float] = time.monotonic,
        *,
        what: str = "requests per second for this API key",
        advice: str = "or send more items per request",
        min_burst: int = 1,
    ) -> None:
        self.rate_per_s = rate_per_s
        self.burst = float(burst) if burst > 0 else max(float(min_burst), 2 * rate_per_s)
        self._clock = clock
        self._what = what
        self._advice = advice
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)
        self._lock = threading.Lock()  # sync routes run in a thread pool
        self._calls = 0

    def check(self, key: str, cost: float = 1.0) -> None:
        """Take ``cost`` tokens for ``key``, or raise RateLimited with the wait in seconds."""
        self._take(key, cost, take=True)

    def require(self, key: str, cost: float = 1.0) -> None:
        """Raise RateLimited unless ``key`` has ``cost`` tokens; take none."""
        self._take(key, cost, take=False)

    def _take(self, key: str, cost: float, *, take: bool) -> None:
        if self.rate_per_s <= 0:
            return
        cost = min(cost, self.burst)  # a cost above the burst waits for a full bucket
        with self._lock:
            now = self._clock()
            tokens, at = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - at) * self.rate_per_s)
            if tokens < cost:
                self._buckets[key] = (tokens, now)
                wait_s = (cost - tokens) / self.rate_per_s
                raise RateLimited(
                    f"more than {self.rate_per_s:g} {self._what} (burst {self.burst:g}); "
                    f"retry after {math.ceil(wait_s)} s, {self._advice}",
                    retry_after_s=max(1, math.ceil(wait_s)),
                )
            self._buckets[key] = (tokens - cost if take else tokens, now)
            self._calls += 1
            if self._calls % _PRUNE_EVERY == 0:
                self._prune(now)

    def _prune(self, now: float) -> None:
        """Forget keys whose bucket has refilled: they are as if never seen."""
        full_after_s = self.burst / self.rate_per_s
        for key in [k for k, (_, at) in self._buckets.items() if now - at > full_after_s]:
            del self._buckets[key]
