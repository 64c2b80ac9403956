"""The ingest log: validated items published to NATS JetStream, stored by processors.

With ``INGEST_LOG`` set, ``POST /v2/stats`` validates and authorises as always, then publishes
each item to the stream ``CQ_INGEST`` on the subject ``cq.ingest.<partition>``, the partition
a hash of the item's stream key (API key, participant, peer connection), so that one stream's
reports stay in order on one partition. The message id (``Nats-Msg-Id``) is the item's
idempotency key, so a retried request is stored once by JetStream's duplicate window as well
as by the samples' unique key. The API answers 202 once JetStream has acknowledged every
item: the item is then on disk on the stream's replicas, and survives the loss of the
database, of a processor, and (with 3 replicas) of one NATS node. ``service/processor.py``
stores them. docs/scaling.md has the topology.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
import nats
import orjson
from nats.js.api import RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from callquality.domain.client import ClientInfo
from callquality.domain.errors import InvalidInput, StoreUnavailable
from callquality.domain.sample import DirectionStats, MediaStats, Sample
from callquality.ingest.items import IngestItem
from callquality.ingest.read_fields import REPORT
from callquality.ingest.rtcstats import ReportError, parse_report

STREAM = "CQ_INGEST"
SUBJECT_PREFIX = "cq.ingest"
DUPLICATE_WINDOW_S = 120.0  # JetStream drops a message id seen this recently
PUBLISH_PATIENCE_S = 8.0  # how long a request waits for the log through a failover


def check_reports(items: Sequence[IngestItem]) -> None:
    """Refuse, before publishing, what a processor could not store: a raw report that is
    not a valid report (``InvalidInput`` naming the item), as the direct path would."""
    for item in items:
        if item.report is not None:
            try:
                parse_report(item.report)
            except ReportError as exc:
                raise InvalidInput(f"items[{item.index}].report: {exc}") from exc


def subject(partition: int) -> str:
    """The subject of one partition."""
    return f"{SUBJECT_PREFIX}.{partition}"


def partition_of(api_key: str, item: IngestItem, partitions: int) -> int:
    """The partition of an item's stream (its counters are differenced in order there)."""
    key = f"{api_key}\0{item.participant_id}\0{item.peer_connection_id}".encode()
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big") % partitions


def message_id(api_key: str, item: IngestItem) -> str:
    """The item's idempotency key: the samples' unique key, within the tenant."""
    key = f"{api_key}\0{item.participant_id}\0{item.peer_connection_id}\0{item.timestamp_ms}"
    return hashlib.blake2b(key.encode(), digest_size=16).hexdigest()


def encode(api_key: str, item: IngestItem) -> bytes:
    """The message of one item (validated already: the processor trusts it).

    orjson writes the dataclasses itself, the same JSON as ``asdict`` without its deep copy
    of the raw report: ``asdict`` cost ~375 µs an item, most of the API's CPU in log mode
    (bench/ingest.py --log; docs/performance.md). A report decoded from the request's bytes
    is typed Structs (ingest/read_fields.py): they go as the JSON objects of the fields read.
    """
    return orjson.dumps({"apiKey": api_key, "item": item}, default=msgspec.to_builtins)


class _ItemReport(msgspec.Struct):
    report: REPORT | None = None


class _MessageReport(msgspec.Struct):
    """Of a message, only its item's report, decoded typed (ingest/read_fields.py)."""

    item: _ItemReport


_REPORT_OF = msgspec.json.Decoder(_MessageReport)


def decode(data: bytes) -> tuple[str, IngestItem]:
    """The API key and item of a message."""
    body = orjson.loads(data)
    item = dict(body["item"])
    if item.get("report") is not None:
        # Typed from the bytes, as the direct path reads a body: not checked again as dicts.
        try:
            item["report"] = _REPORT_OF.decode(data).item.report
        except msgspec.ValidationError:  # a stats type the Structs do not name: as dicts
            pass
    sample = item.get("sample")
    if sample is not None:
        item["sample"] = Sample(
            interval_ms=sample["interval_ms"],
            audio=_media(sample.get("audio")),
            video=_media(sample.get("video")),
            codec_audio=sample.get("codec_audio"),
            codec_video=sample.get("codec_video"),
            extra=sample.get("extra") or {},
        )
    client = item.get("client")
    if client is not None:  # what the item's client object said (service/clients.py)
        item["client"] = ClientInfo(**client)
    return str(body["apiKey"]), IngestItem(**item)


def _media(media: dict[str, Any] | None) -> MediaStats | None:
    if media is None:
        return None
    send, recv = media.get("send"), media.get("recv")
    return MediaStats(
        send=DirectionStats(**send) if send is not None else None,
        recv=DirectionStats(**recv) if recv is not None else None,
    )


@dataclass(frozen=True, slots=True)
class Published:
    """What a request's items became on the log."""

    accepted: int
    duplicates: int


class IngestLog:
    """A connection to the JetStream that carries the ingest log."""

    def __init__(self, servers: str, partitions: int, replicas: int) -> None:
        self.servers = [s.strip() for s in servers.split(",") if s.strip()]
        self.partitions = partitions
        self.replicas = replicas
        self._nc: Any = None
        self._js: Any = None

    async def connect(self) -> None:
        """Connect (reconnecting for ever) and make sure the stream exists."""
        self._nc = await nats.connect(
            servers=self.servers,
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.25,
            connect_timeout=5,
            allow_reconnect=True,
        )
        self._js = self._nc.jetstream(timeout=10)
        config = StreamConfig(
            name=STREAM,
            subjects=[f"{SUBJECT_PREFIX}.*"],
            storage=StorageType.FILE,
            num_replicas=self.replicas,
            retention=RetentionPolicy.WORK_QUEUE,
            duplicate_window=DUPLICATE_WINDOW_S,
        )
        try:
            await self._js.stream_info(STREAM)
        except NotFoundError:
            await self._js.add_stream(config)

    @property
    def jetstream(self) -> Any:
        """The JetStream context (for processors' consumers)."""
        return self._js

    @property
    def connection(self) -> Any:
        """The NATS connection (for the derived intervals' core-NATS subjects:
        service/intervals.py)."""
        return self._nc

    async def close(self) -> None:
        """Flush and close the connection."""
        if self._nc is not None:
            await self._nc.drain()

    async def publish(self, api_key: str, items: Sequence[IngestItem]) -> Published:
        """Publish items and wait until JetStream has acknowledged every one.

        Raises ``StoreUnavailable`` (503 with Retry-After) when the log does not acknowledge
        them all: the client sends the request again, and the duplicates are dropped.
        """
        try:
            acks = await asyncio.gather(*(self._publish_one(api_key, item) for item in items))
        except Exception as exc:  # the client's timeouts, a lost quorum, no connection
            raise StoreUnavailable(
                "the ingest log did not acknowledge the items; send them again"
            ) from exc
        duplicates = sum(1 for ack in acks if ack.duplicate)
        return Published(len(acks) - duplicates, duplicates)

    async def _publish_one(self, api_key: str, item: IngestItem) -> Any:
        """Publish one item, trying again for up to ``PUBLISH_PATIENCE_S`` while the stream
        has no leader (a node lost: JetStream elects another within seconds). The message
        id makes the tries one message."""
        loop = asyncio.get_running_loop()
        give_up = loop.time() + PUBLISH_PATIENCE_S
        delay = 0.05
        while True:
            try:
                return await self._js.publish(
                    subject(partition_of(api_key, item, self.partitions)),
                    encode(api_key, item),
                    timeout=2.0,
                    headers={"Nats-Msg-Id": message_id(api_key, item)},
                )
            except Exception:
                if loop.time() + delay > give_up:
                    raise
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.5)
