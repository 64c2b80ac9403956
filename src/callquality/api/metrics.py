"""Prometheus metrics: requests, ingest rate and errors, stored samples.

Counters are per API process (each worker of ``serve --workers N`` has its own; scrape each,
or sum in Prometheus). ``callquality_stored_samples`` and ``callquality_sessions``, counted over
every tenant, are read from the database at scrape time, and only with METRICS_STORE_FIGURES.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select, text

from callquality.store.db import is_postgres, read_transaction
from callquality.store.schema import samples, sessions


class StoreCollector(Collector):
    """Stored samples and sessions, read at scrape time (an estimate on PostgreSQL)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with read_transaction(self._engine) as conn:
            if is_postgres(conn):
                # COUNT(*) scans the table; the planner's estimate is free.
                stored = conn.execute(
                    text(
                        "SELECT GREATEST(reltuples, 0)::bigint FROM pg_class"
                        " WHERE relname = 'samples'"
                    )
                ).scalar()
            else:
                stored = conn.execute(select(func.count()).select_from(samples)).scalar()
            session_count = conn.execute(select(func.count()).select_from(sessions)).scalar()
        yield GaugeMetricFamily(
            "callquality_stored_samples",
            "samples stored (estimate on PostgreSQL)",
            value=stored or 0,
        )
        yield GaugeMetricFamily(
            "callquality_sessions", "sessions stored", value=session_count or 0
        )


class Metrics:
    """The registry of one app instance."""

    def __init__(self, engine: Engine, *, store_figures: bool = False) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "callquality_http_requests",
            "HTTP requests by route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "callquality_http_request_duration_seconds",
            "HTTP request duration by route template",
            ["route"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )
        self.ingest_items = Counter(
            "callquality_ingest_items",
            "ingested items by outcome (accepted, duplicate)",
            ["outcome"],
            registry=self.registry,
        )
        self.ingest_errors = Counter(
            "callquality_ingest_errors",
            "rejected POST /v2/stats requests by status",
            ["status"],
            registry=self.registry,
        )
        self.live_intervals = Counter(
            "callquality_live_intervals",
            "intervals sent to live-view streams, by where the stream found them (table: "
            "read from the samples table; log: announced on NATS by a processor)",
            ["source"],
            registry=self.registry,
        )
        if store_figures:  # counts over every tenant: METRICS_STORE_FIGURES
            self.registry.register(StoreCollector(engine))

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)
