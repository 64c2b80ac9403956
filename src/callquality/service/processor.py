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

After the commit, before the acknowledgement, it publishes the batch's new intervals on their
sessions' subjects (service/intervals.py) for the live view.

The alert rules (service/alerts.py) are judged inside the batch's transaction, neither after
it nor by a consumer of the interval subjects, so that each alert fires once and resolves
once however many processors run and whichever takes a partition over:
- the lease's fence that keeps a processor which lost its partition from committing keeps
  it from judging too: a batch is judged by the one processor that commits it, with it;
- a processor that dies before its commit leaves neither samples nor judgments, and the
  partition's next owner stores and judges the batch again; one that dies after the commit
  leaves messages that come again as duplicates, which store no row and so judge nothing;
- a participant whose peer connections hash to partitions of two processors is judged by
  both, one after the other under the room's lock (which ``ingest_in`` holds already): the
  alert state row says what was judged last, an older window changes nothing, and the
  event's key counts the firings, so the outbox holds one event per transition;
- hysteresis and coverage are the rule's, as in the direct mode (domain/alerts.py,
  docs/webhooks.md). Each participant is judged at its newest sample of the batch, as the
  direct path judges at the newest of a request: a processor catching up a backlog (up to
  ``BATCH`` messages a transaction) judges at coarser steps than a live one.
A consumer of the interval subjects would need what the transaction gives for free: delivery
at least once (core NATS is at most once, service/intervals.py) and an owner per session.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
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
from callquality.service import alerts, intervals
from callquality.service.ingest import IngestResult, ingest_in
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
    alerts: int = 0  # alert events written (fired and resolved)
    announced: int = 0  # interval messages published
    unannounced: int = 0  # interval messages the NATS client could not take
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
        self.announced = Counter(
            "callquality_processor_interval_messages",
            "messages of derived intervals (service/intervals.py), by outcome (published; "
            "dropped: past the NATS client's reconnect buffer)", ["outcome"],
            registry=self.registry,
        )


LAG_EVERY_S = 5.0  # how often a processor reads its consumers' lag
# Each processor says it is alive here at every renewal, so that the share counts the ones
# that hold nothing yet: the leases alone would not (a processor started beside one that
# holds every partition waited for ever).
PEERS_SUBJECT = "cq.processors"


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
        self.rules = alerts.RuleCache(engine)
        self._peers: dict[str, float] = {}  # owner -> when last heard on PEERS_SUBJECT
        self._subs: dict[int, Any] = {}
        self._lag_shown: set[int] = set()  # the partitions in the metrics' lag
        self._stop = asyncio.Event()

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    async def run(self) -> None:
        """Connect, then renew leases and store batches until ``stop()``."""
        await self.log.connect()
        await self.log.connection.subscribe(PEERS_SUBJECT, cb=self._heard)
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
            for partition in list(self._subs):
                await self._drop(partition)
            await self.log.close()  # the announcements still buffered go out first

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

    async def _heard(self, message: Any) -> None:
        self._peers[message.data.decode()] = time.monotonic()

    def _live_peers(self) -> int:
        """The processors heard within a lease, this one included."""
        horizon = time.monotonic() - self.settings.processor_lease_s
        self._peers = {o: at for o, at in self._peers.items() if at >= horizon}
        return len(self._peers.keys() | {self.owner})

    async def _renew(self) -> None:
        lease_ms = self.settings.processor_lease_s * 1000
        try:  # heard by the others before their next renewal: they make room for it
            await self.log.connection.publish(PEERS_SUBJECT, self.owner.encode())
        except Exception:  # NATS away: the leases alone count the processors
            pass
        try:
            held = await asyncio.to_thread(self._renew_sync, lease_ms, self._live_peers())
        except StoreUnavailable:
            return  # keep working on what we hold; the fence refuses it if the lease ran out
        for gone in set(self._subs) - set(held):
            await self._drop(gone)
        if held != self.stats.partitions:
            log.info("partitions", extra={"owner": self.owner, "partitions": held})
        self.stats.partitions = held

    def _renew_sync(self, lease_ms: int, peers: int) -> list[int]:
        now = self._now_ms()
        with write_transaction(self.engine) as conn:
            owners = leases.live_owners(conn, now)
            held = leases.renew_and_claim(conn, self.owner, now, lease_ms, 0)
            # This one is not among the owners while it holds nothing; heard or not.
            live = max(peers, owners + (0 if held else 1))
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

    async def _drop(self, partition: int) -> None:
        """Forget a partition's subscription, and end it: the drain at close waits for
        a subscription's queue to be read, and a pull subscription's can hold what came
        after its last fetch (seen: 10 s and more at the stop of a processor that had taken
        partitions over)."""
        sub = self._subs.pop(partition, None)
        if sub is not None:
            try:
                await sub.unsubscribe()
            except Exception:  # the connection is away: its subscriptions went with it
                pass

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
            await self._drop(partition)
            await asyncio.sleep(0.2)
            return False
        if not messages:
            return False
        try:
            announce = await asyncio.to_thread(self._store, partition, messages)
        except StoreUnavailable:
            log.warning("database unavailable; the batch stays on the log",
                        extra={"partition": partition})
            await asyncio.sleep(0.5)
            return True
        if announce is None:  # the lease is gone: another processor has the partition now
            self.stats.partitions = [p for p in self.stats.partitions if p != partition]
            await self._drop(partition)
            return True
        await self._announce(announce)
        for message in messages:
            try:
                await message.ack()
            except Exception:  # redelivered later, and dropped by the checkpoint
                pass
        return True

    async def _announce(self, announce: list[tuple[str, bytes]]) -> None:
        """Publish the new intervals (core NATS: at most once, service/intervals.py)."""
        for subject_, payload in announce:
            try:
                await self.log.connection.publish(subject_, payload)
            except Exception:  # past the client's reconnect buffer: the table has them
                self.stats.unannounced += 1
                self.metrics.announced.labels("dropped").inc()
                continue
            self.stats.announced += 1
            self.metrics.announced.labels("published").inc()

    def _store(self, partition: int, messages: list[Any]) -> list[tuple[str, bytes]] | None:
        """One transaction: the lease checked, the items stored, their participants judged
        against the alert rules, the checkpoint moved. The announcements of the new
        intervals (service/intervals.py) to publish after it, or None if the lease is gone."""
        by_key: dict[str, list[IngestItem]] = defaultdict(list)
        last_seq = 0
        for message in messages:
            last_seq = max(last_seq, int(message.metadata.sequence.stream))
            api_key, item = decode(message.data)
            by_key[api_key].append(item)
        # Read before the transaction (at most every 2 s per key: RuleCache).
        rules = {k: [] if self.rules.known_empty(k) else self.rules.rules(k) for k in by_key}
        for attempt in range(3):
            try:
                announce: list[tuple[str, bytes]] = []
                judged = 0
                with write_transaction(self.engine) as conn:
                    now = self._now_ms()
                    checkpoint = leases.fence(conn, partition, self.owner, now)
                    if checkpoint is None:
                        return None
                    for api_key in sorted(by_key):  # rooms are locked in one order everywhere
                        results = self._store_items(conn, api_key, by_key[api_key], now)
                        judged += alerts.judge_in(
                            conn, self.settings, rules[api_key], api_key,
                            _newest(r.reported for r in results), now)
                        announce += intervals.messages(
                            api_key, (row for r in results for row in r.rows))
                    leases.checkpoint(conn, partition, max(checkpoint, last_seq))
                self.stats.batches += 1
                self.stats.alerts += judged
                return announce
            except IntegrityError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _store_items(
        self, conn: Any, api_key: str, items: list[IngestItem], now: int
    ) -> list[IngestResult]:
        """Store one key's items of the batch; what each ingest stored."""
        # Re-index: an item's index names its place in the batch stored together.
        batch = [_reindexed(item, i) for i, item in enumerate(items)]
        try:
            with conn.begin_nested():
                result = ingest_in(conn, self.settings, api_key, batch, now)
            self._count(result.accepted, result.duplicates)
            return [result]
        except (InvalidInput, NotFound):
            pass
        results = []
        for item in batch:  # one by one: store what can be stored, drop the rest
            try:
                with conn.begin_nested():
                    result = ingest_in(conn, self.settings, api_key, [item], now)
                self._count(result.accepted, result.duplicates)
                results.append(result)
            except (InvalidInput, NotFound) as exc:
                self.stats.dropped += 1
                self.metrics.stored.labels("dropped").inc()
                log.warning("item dropped", extra={"reason": exc.message[:200]})
        return results

    def _count(self, accepted: int, duplicates: int) -> None:
        self.stats.stored += accepted
        self.stats.duplicates += duplicates
        self.metrics.stored.labels("stored").inc(accepted)
        self.metrics.stored.labels("duplicate").inc(duplicates)


def _reindexed(item: IngestItem, index: int) -> IngestItem:
    return replace(item, index=index)


def _newest(
    reported: Iterable[Iterable[tuple[tuple[str, str], int]]],
) -> list[tuple[tuple[str, str], int]]:
    """Each (session, participant) of several ingests' ``reported``, at its newest sample:
    the window the rules judge."""
    newest: dict[tuple[str, str], int] = {}
    for pairs in reported:
        for key, timestamp_ms in pairs:
            newest[key] = max(newest.get(key, timestamp_ms), timestamp_ms)
    return sorted(newest.items())
