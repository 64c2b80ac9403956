"""``callquality process``: store the ingest log's items (service/ingestlog.py).

Each processor holds leases on a share of the partitions (``store/partitions.py``), renewed
every third of ``PROCESSOR_LEASE_S``; a processor that dies or stalls loses them, and the
others take them over. Per held partition it pulls a batch from the partition's durable
consumer, in stream order, and stores it in one transaction that also checks its lease and
moves the partition's checkpoint (the highest stream sequence stored: the consumer lag is the
stream's last sequence minus it); it acknowledges the messages after the commit. Whatever
happens between commit and acknowledgement, the messages come again (after ``ACK_WAIT_S``,
possibly after newer ones: the sequence is no guide to what is stored) and are dropped by the
samples' unique key, as a client's retry is. A message whose item cannot be stored (it
passed the API's validation, so this is a bug or an attack on the log) is logged and
acknowledged, not retried for ever.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import AckPolicy, ConsumerConfig
from prometheus_client import CollectorRegistry, Counter, Gauge
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from callquality.config import Settings
from callquality.domain.errors import InvalidInput, NotFound, StoreUnavailable
from callquality.ingest.items import IngestItem
from callquality.service.ingest import ingest_in
from callquality.service.ingestlog import STREAM, IngestLog, decode, subject
from callquality.store import partitions as leases
from callquality.store.db import write_transaction

log = logging.getLogger("callquality.processor")

BATCH = 500  # messages per fetch and per transaction
ACK_WAIT_S = 10.0  # an unacknowledged message is delivered again after this


def durable_name(partition: int) -> str:
    """The durable consumer of one partition."""
    return f"cq-p{partition}"


@dataclass
class ProcessorStats:
    """What a processor has done (logged, and read by tests and the benchmark)."""

    stored: int = 0
    duplicates: int = 0
    dropped: int = 0
    batches: int = 0
    partitions: list[int] = field(default_factory=list)


class ProcessorMetrics:
    """The processor's Prometheus metrics (``callquality process --metrics-port``)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.pending = Gauge(
            "callquality_ingest_log_pending",
            "messages of a partition not yet delivered or acknowledged (consumer lag)",
            ["partition"], registry=self.registry,
        )
        self.stored = Counter(
            "callquality_processor_items",
            "items taken from the ingest log, by outcome", ["outcome"], registry=self.registry,
        )


LAG_EVERY_S = 5.0  # how often a processor reads its consumers' lag


class Processor:
    """One processor process (or task): leases, consumers, the store loop."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        owner: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.owner = owner or f"{socket.gethostname()}-{os.getpid()}"
        self.clock = clock
        self.log = IngestLog(
            settings.ingest_log, settings.ingest_partitions, settings.ingest_replicas
        )
        self.stats = ProcessorStats()
        self.metrics = ProcessorMetrics()
        self._subs: dict[int, Any] = {}
        self._lag_shown: set[int] = set()  # the partitions in the metrics' lag
        self._stop = asyncio.Event()

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    async def run(self) -> None:
        """Connect, then renew leases and store batches until ``stop()``."""
        await self.log.connect()
        await asyncio.to_thread(self._ensure_partitions)
        renew_every = max(0.5, self.settings.processor_lease_s / 3)
        next_renewal = next_lag = 0.0
        try:
            while not self._stop.is_set():
                if time.monotonic() >= next_renewal:
                    await self._renew()
                    next_renewal = time.monotonic() + renew_every
                if time.monotonic() >= next_lag:
                    await self._read_lag()
                    next_lag = time.monotonic() + LAG_EVERY_S
                worked = False
                for partition in list(self.stats.partitions):
                    worked |= await self._step(partition)
                if not worked:
                    await asyncio.sleep(0.05)
        finally:
            await self._release()
            await self.log.close()

    def stop(self) -> None:
        """Finish the current batch, give the leases up and return from ``run``."""
        self._stop.set()

    async def _read_lag(self) -> None:
        """Each held partition's consumer lag, into the metrics; the partitions given up
        leave them (their new owner reports them: summed over the processors, each
        partition counts once)."""
        for gone in self._lag_shown - set(self._subs):
            self.metrics.pending.remove(str(gone))
            self._lag_shown.discard(gone)
        for partition, sub in list(self._subs.items()):
            try:
                info = await sub.consumer_info()
            except Exception:  # a node away: read it next time
                continue
            self.metrics.pending.labels(str(partition)).set(
                info.num_pending + info.num_ack_pending
            )
            self._lag_shown.add(partition)

    def _ensure_partitions(self) -> None:
        with write_transaction(self.engine) as conn:
            leases.ensure(conn, self.settings.ingest_partitions)

    async def _renew(self) -> None:
        lease_ms = self.settings.processor_lease_s * 1000
        try:
            held = await asyncio.to_thread(self._renew_sync, lease_ms)
        except StoreUnavailable:
            return  # keep working on what we hold; the fence refuses it if the lease ran out
        for gone in set(self._subs) - set(held):
            self._subs.pop(gone)
        if held != self.stats.partitions:
            log.info("partitions", extra={"owner": self.owner, "partitions": held})
        self.stats.partitions = held

    def _renew_sync(self, lease_ms: int) -> list[int]:
        now = self._now_ms()
        with write_transaction(self.engine) as conn:
            live = leases.heartbeat(conn, self.owner, now, lease_ms)
            share = -(-self.settings.ingest_partitions // live)
            return leases.renew_and_claim(conn, self.owner, now, lease_ms, share)

    async def _release(self) -> None:
        try:
            await asyncio.to_thread(self._release_sync)
        except StoreUnavailable:
            pass  # the leases run out by themselves

    def _release_sync(self) -> None:
        with write_transaction(self.engine) as conn:
            leases.release(conn, self.owner)

    async def _subscription(self, partition: int) -> Any:
        sub = self._subs.get(partition)
        if sub is None:
            sub = await self.log.jetstream.pull_subscribe(
                subject(partition),
                durable=durable_name(partition),
                stream=STREAM,
                config=ConsumerConfig(
                    ack_policy=AckPolicy.EXPLICIT, ack_wait=ACK_WAIT_S, max_ack_pending=20_000
                ),
            )
            self._subs[partition] = sub
        return sub

    async def _step(self, partition: int) -> bool:
        """Store one batch of a partition; whether there was one."""
        try:
            sub = await self._subscription(partition)
            messages = await sub.fetch(BATCH, timeout=0.2)
        except (TimeoutError, NatsTimeout):
            return False
        except Exception as exc:  # a NATS node went away: the client reconnects
            log.warning("fetch failed", extra={"partition": partition,
                                               "error": exc.__class__.__name__})
            self._subs.pop(partition, None)
            await asyncio.sleep(0.2)
            return False
        if not messages:
            return False
        try:
            stored = await asyncio.to_thread(self._store, partition, messages)
        except StoreUnavailable:
            log.warning("database unavailable; the batch stays on the log",
                        extra={"partition": partition})
            await asyncio.sleep(0.5)
            return True
        if not stored:  # the lease is gone: another processor has the partition now
            self.stats.partitions = [p for p in self.stats.partitions if p != partition]
            self._subs.pop(partition, None)
            return True
        for message in messages:
            try:
                await message.ack()
            except Exception:  # redelivered later, and dropped by the checkpoint
                pass
        return True

    def _store(self, partition: int, messages: list[Any]) -> bool:
        """One transaction: the lease checked, the items stored, the checkpoint moved."""
        for attempt in range(3):
            try:
                with write_transaction(self.engine) as conn:
                    now = self._now_ms()
                    checkpoint = leases.fence(conn, partition, self.owner, now)
                    if checkpoint is None:
                        return False
                    by_key: dict[str, list[IngestItem]] = defaultdict(list)
                    last_seq = checkpoint
                    for message in messages:
                        last_seq = max(last_seq, int(message.metadata.sequence.stream))
                        api_key, item = decode(message.data)
                        by_key[api_key].append(item)
                    for api_key, items in by_key.items():
                        self._store_items(conn, api_key, items, now)
                    leases.checkpoint(conn, partition, last_seq)
                self.stats.batches += 1
                return True
            except IntegrityError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _store_items(self, conn: Any, api_key: str, items: list[IngestItem], now: int) -> None:
        # Re-index: an item's index names its place in the batch stored together.
        batch = [_reindexed(item, i) for i, item in enumerate(items)]
        try:
            with conn.begin_nested():
                result = ingest_in(conn, self.settings, api_key, batch, now)
            self._count(result.accepted, result.duplicates)
            return
        except (InvalidInput, NotFound):
            pass
        for item in batch:  # one by one: store what can be stored, drop the rest
            try:
                with conn.begin_nested():
                    result = ingest_in(conn, self.settings, api_key, [item], now)
                self._count(result.accepted, result.duplicates)
            except (InvalidInput, NotFound) as exc:
                self.stats.dropped += 1
                self.metrics.stored.labels("dropped").inc()
                log.warning("item dropped", extra={"reason": exc.message[:200]})


    def _count(self, accepted: int, duplicates: int) -> None:
        self.stats.stored += accepted
        self.stats.duplicates += duplicates
        self.metrics.stored.labels("stored").inc(accepted)
        self.metrics.stored.labels("duplicate").inc(duplicates)


def _reindexed(item: IngestItem, index: int) -> IngestItem:
    return replace(item, index=index)
