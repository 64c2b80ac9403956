"""What every request needs: settings, the engine, the authenticator, limits, metrics."""

from __future__ import annotations

import math
import time

from sqlalchemy import Engine

from callquality.api.auth import Authenticator
from callquality.api.metrics import Metrics
from callquality.api.ratelimit import RateLimiter
from callquality.config import Settings
from callquality.service.alerts import RuleCache
from callquality.service.ingestlog import IngestLog
from callquality.service.series_closer import SeriesCloser

# With several workers, an ingest answer closes its connection at most this often per worker.
_REBALANCE_S = 0.2


class AppState:
    """The application's state, one per process (``app.state.cq``)."""

    def __init__(self, settings: Settings, engine: Engine) -> None:
        self.settings = settings
        self.engine = engine
        unknown_keys = RateLimiter(
            settings.unknown_key_rate_per_s,
            what="requests per second from this address with an API key not known here",
            advice="with the API key printed by `callquality keys create`",
        )
        self.auth = Authenticator(engine, settings.token_leeway_s, unknown_keys)
        self.metrics = Metrics(engine, store_figures=settings.metrics_store_figures)
        self.limiter = RateLimiter(settings.rate_limit_per_s, settings.rate_limit_burst)
        self.item_limiter = RateLimiter(
            settings.rate_limit_items_per_s,
            settings.rate_limit_items_burst,
            what="ingest items per second for this API key",
            advice="or spread the items over time",
            min_burst=settings.max_batch_items,
        )
        self.alert_rules = RuleCache(engine)
        # the series buckets ingest closes, written after the answer (service/series_closer)
        self.series_closer = SeriesCloser(engine)
        self.started = time.time()
        self.last_close = -math.inf  # when an ingest answer last closed its connection
        self.ingest_in_flight = 0  # ingest requests this process is answering now
        self.ingest_log: IngestLog | None = (
            IngestLog(settings.ingest_log, settings.ingest_partitions, settings.ingest_replicas)
            if settings.ingest_log
            else None
        )

    def should_close(self) -> bool:
        """Whether this ingest answer closes its connection (``Connection: close``).

        Workers of one port share its listening socket, and a kept-alive connection stays
        with the worker that accepted it, so a few busy connections can pile onto one
        worker while another idles. With several workers, an ingest answer given while
        other ingest requests wait in this worker (it is busy) closes its connection, at
        most every ``_REBALANCE_S`` per worker: the client reconnects, and the connect goes
        to whichever worker is free first (docs/performance.md). A worker with nothing else
        to do keeps its connections.
        """
        if self.settings.web_concurrency <= 1 or self.ingest_in_flight <= 1:
            return False
        now = time.monotonic()
        if now - self.last_close < _REBALANCE_S:
            return False
        self.last_close = now
        return True
