"""The derived intervals with the ingest log (INGEST_LOG): a batch a processor commits reaches
a live stream on its session's NATS subject without the stream reading the table; an alert
rule fires once and resolves once, judged by the processors (two of them, one SIGKILLed
between); and a tenant's ticket never gets another tenant's intervals. One NATS server of
the test's own, a PostgreSQL database of its own, the API in this process, two
`callquality process` processes."""

from __future__ import annotations

import asyncio
import base64
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import nats
import orjson
import pytest
import sqlalchemy as sa
from conftest import fresh_pg_database
from support.faults import wait_for
from support.items import T0, sample_item
from support.nats_cluster import nats_cluster
from support.processes import processor_process
from support.receiver import receiving
from support.server import RunningServer, Tenant, serve
from support.sse import Stream

from callquality.api.ingest_models import parse_items
from callquality.config import Settings
from callquality.domain.session_ids import scoped_session_id
from callquality.domain.timefmt import iso_ms
from callquality.service.ingestlog import partition_of
from callquality.service.intervals import SUBJECT_PREFIX, tenant_token
from callquality.store.schema import events, ingest_partitions, samples

PARTITIONS = 4
LEASE_S = 2
METRICS_TOKEN = "metrics-secret"


@dataclass
class LogMode:
    server: RunningServer
    processors: list[subprocess.Popen[bytes]]
    nats_url: str


@pytest.fixture(scope="module")
def log_mode() -> Iterator[LogMode]:
    with nats_cluster(1) as cluster, fresh_pg_database("cq_log_iv") as url, ExitStack() as stack:
        settings = Settings(
            database_url=url, ingest_log=cluster.servers, ingest_partitions=PARTITIONS,
            metrics_token=METRICS_TOKEN, webhook_allow_private_urls=True, events_sweep_s=0.3,
            webhook_poll_s=0.05,
        )
        server = stack.enter_context(serve(settings))  # migrates before the processors start
        env = {"INGEST_LOG": cluster.servers, "INGEST_PARTITIONS": str(PARTITIONS),
               "PROCESSOR_LEASE_S": str(LEASE_S)}
        procs = [stack.enter_context(processor_process(url, env))]
        wait_for(lambda: list(_shares(server).values()) == [PARTITIONS], 30)
        # A second one gets half, though the first held every partition (it is heard on
        # NATS: service/processor.py).
        procs.append(stack.enter_context(processor_process(url, env)))
        wait_for(lambda: sorted(_shares(server).values()) == [2, 2], 30)
        yield LogMode(server, procs, cluster.servers)


def _owners(server: RunningServer) -> dict[int, int]:
    """partition -> pid of the processor whose lease holds it now."""
    now = int(time.time() * 1000)
    with server.engine.connect() as conn:  # type: ignore[attr-defined]
        rows = conn.execute(sa.select(ingest_partitions.c.partition, ingest_partitions.c.owner)
                            .where(ingest_partitions.c.lease_until_ms >= now)).all()
    return {p: int(owner.rsplit("-", 1)[1]) for p, owner in rows if owner}


def _shares(server: RunningServer) -> dict[int, int]:
    """pid -> partitions it holds."""
    shares: dict[int, int] = {}
    for pid in _owners(server).values():
        shares[pid] = shares.get(pid, 0) + 1
    return shares


def _open_session(server: RunningServer, tenant: Tenant, item: dict[str, Any]) -> None:
    """Send a first report; return once a processor has stored its session."""
    client = server.client(tenant)
    answer = client.post("/v2/stats", json=item)
    assert answer.status_code == 202 and answer.json()["sessionIds"] == []  # not stored yet
    wait_for(lambda: client.get(f"/v2/sessions/{item['sessionId']}").status_code == 200, 20)


def _live_counts(server: RunningServer) -> dict[str, float]:
    text = httpx.get(f"{server.url}/metrics", timeout=5,
                     headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).text
    return {line.split('source="')[1].split('"')[0]: float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("callquality_live_intervals_total{")}


def test_a_stored_report_reaches_the_live_stream_on_nats_without_a_read_of_the_table(
    log_mode: LogMode,
) -> None:
    server = log_mode.server
    tenant = server.new_tenant()
    client = server.client(tenant)
    now = int(time.time() * 1000)
    _open_session(server, tenant, sample_item("live-room", "alice", now - 1000,
                                              sessionId="live-call"))
    ticket = client.post("/v2/sessions/live-call/live/ticket").json()
    stream = Stream(server.url + ticket["url"])
    assert stream.wait_for("hello")[0][1] == {"sessionId": "live-call", "status": "ongoing"}
    stream.wait_for("interval")  # the first report's: read from the table as the stream opened
    before = _live_counts(server)
    posted = time.time()
    assert client.post("/v2/stats", json=sample_item(
        "live-room", "alice", now, audio_recv_lost=25, sessionId="live-call")).status_code == 202
    stream.wait_for("interval", 2)
    _, interval, arrived = stream.events[-1]
    assert interval["timestamp"] == iso_ms(now) and interval["recvAudioPacketLost"] == 25
    assert interval["intervalMs"] == 5000 and 1 <= interval["qualityScore"]["audio"] <= 4.5
    assert arrived - posted < 2.0  # published by the processor, through NATS
    after = _live_counts(server)
    assert after["log"] == before.get("log", 0) + 1 and after["table"] == before["table"]
    assert client.post("/v2/sessions/end", json={"roomId": "live-room"}).status_code == 200
    stream.wait_for("ended", timeout_s=10)
    assert stream.done.wait(5)


class Tap:
    """A raw NATS subscriber in a thread: every message on a subject pattern."""

    def __init__(self, servers: str, pattern: str) -> None:
        self.messages: list[tuple[str, Any]] = []
        self._ready, self._stop = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=asyncio.run, args=(self._run(servers, pattern),),
                                        daemon=True)
        self._thread.start()
        assert self._ready.wait(10)

    async def _run(self, servers: str, pattern: str) -> None:
        nc = await nats.connect(servers=servers.split(","))

        async def record(msg: Any) -> None:
            self.messages.append((msg.subject, orjson.loads(msg.data)))

        await nc.subscribe(pattern, cb=record)
        await nc.flush()
        self._ready.set()
        while not self._stop.is_set():
            await asyncio.sleep(0.05)
        await nc.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)


def test_a_tenants_ticket_and_subjects_carry_only_its_own_intervals(log_mode: LogMode) -> None:
    server = log_mode.server
    a, b = server.new_tenant(), server.new_tenant()
    now = int(time.time() * 1000)
    # Both tenants call a session "iso-call": the second one's is stored scoped.
    for tenant in (a, b):
        _open_session(server, tenant, sample_item("iso-room", "alice", now - 1000,
                                                  sessionId="iso-call"))
    _open_session(server, b, sample_item("b-room", "bob", now - 1000, sessionId="b-only"))
    tap = Tap(log_mode.nats_url, f"{SUBJECT_PREFIX}.{tenant_token(a.api_key)}.>")
    try:
        streams = []
        for tenant in (a, b):
            ticket = server.client(tenant).post("/v2/sessions/iso-call/live/ticket").json()
            streams.append(Stream(server.url + ticket["url"]))
            streams[-1].wait_for("hello")
        # A's ticket opens A's session only: not B's by its id, nor under A's own header.
        a_ticket = server.client(a).post("/v2/sessions/iso-call/live/ticket").json()["ticket"]
        refused = httpx.get(f"{server.url}/v2/sessions/b-only/live",
                            params={"ticket": a_ticket}, timeout=10)
        assert refused.status_code == 401 and "another session" in refused.json()["message"]
        assert httpx.get(f"{server.url}/v2/sessions/b-only/live", timeout=10,
                         headers={"Authorization": a.token()}).status_code == 404
        for lost, tenant in ((11, a), (22, b)):
            assert server.client(tenant).post("/v2/stats", json=sample_item(
                "iso-room", "alice", now, sessionId="iso-call", audio_recv_lost=lost,
            )).status_code == 202
        assert server.client(b).post("/v2/stats", json=sample_item(
            "b-room", "bob", now, sessionId="b-only", audio_recv_lost=33)).status_code == 202
        for stream in streams:
            stream.wait_for("interval", 2)
        time.sleep(1.0)  # whatever else was to come
    finally:
        tap.close()
    for lost, stream in ((11, streams[0]), (22, streams[1])):
        got = [e[1]["recvAudioPacketLost"] for e in stream.events if e[0] == "interval"]
        assert got == [0, lost], got  # the first report's (read at open), then the new one
    # On NATS, A's subjects carried A's session alone, named by its token.
    assert tap.messages, "the processor published A's interval"
    for subject, body in tap.messages:
        assert body["sessionId"] == "iso-call"
        token = subject.rsplit(".", 1)[1]
        assert base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)) == b"iso-call"
        assert {i["interval"]["recvAudioPacketLost"] for i in body["intervals"]} == {11}
    assert scoped_session_id(b.api_key, "iso-call") != "iso-call"
    for tenant, room in ((a, "iso-room"), (b, "iso-room"), (b, "b-room")):
        server.client(tenant).post("/v2/sessions/end", json={"roomId": room})


RULE = {"name": "lossy audio", "metric": "audioPacketLossPct", "operator": ">",
        "threshold": 5.0, "windowS": 10, "severity": "warning"}
STEP_MS = 2000
CLEAN, LOSSY, AFTER = 6, 10, 12  # steps of STEP_MS: 12 s clean, 20 s at 10 % loss, 24 s clean


def _peer_connections(server: RunningServer, api_key: str) -> tuple[str, str]:
    """Two peer connection ids of alice's whose partitions two processors hold now: each
    processor judges alice's window on its own batches."""
    owners = _owners(server)
    by_owner: dict[int, str] = {}
    for n in range(64):
        pc = f"pc-{n}"
        item = parse_items(sample_item("alert-room", "alice", T0, peerConnectionId=pc), 1)[0]
        by_owner.setdefault(owners[partition_of(api_key, item, PARTITIONS)], pc)
        if len(by_owner) == 2:
            return tuple(by_owner.values())  # type: ignore[return-value]
    raise AssertionError(f"no two owners among {owners}")


def _stored(server: RunningServer, timestamp_ms: int) -> int:
    with server.engine.connect() as conn:  # type: ignore[attr-defined]
        return int(conn.execute(sa.select(sa.func.count()).select_from(samples)
                                .where(samples.c.timestamp_ms == timestamp_ms,
                                       samples.c.participant_id == "alice")).scalar_one())


def test_an_alert_fires_once_and_resolves_once_from_two_processors_and_a_takeover(
    log_mode: LogMode,
) -> None:
    server = log_mode.server
    tenant = server.new_tenant()
    client = server.client(tenant)
    with receiving() as rec:
        webhook = client.post("/v2/webhooks", json={"url": rec.url}).json()
        assert client.post("/v2/alertRules", json={**RULE, "webhookIds": [webhook["id"]]}
                           ).status_code == 201
        pcs = _peer_connections(server, tenant.api_key)
        start = int(time.time() * 1000) - (CLEAN + LOSSY + AFTER) * STEP_MS

        def post_step(step: int) -> None:
            """Both peer connections' reports of one step; back once both are stored (and
            judged: in the same transaction)."""
            ts = start + step * STEP_MS
            lost = 25 if CLEAN <= step < CLEAN + LOSSY else 0  # 10 % of 250 packets
            items = [sample_item("alert-room", "alice", ts, interval_ms=STEP_MS,
                                 audio_recv_lost=lost, peerConnectionId=pc, sessionId="alert")
                     for pc in pcs]
            assert client.post("/v2/stats", json=items).status_code == 202
            wait_for(lambda: _stored(server, ts) == 2, 20)

        for step in range(CLEAN + LOSSY):
            post_step(step)
        rec.wait_for(lambda got: any(r.json["webhookType"] == "quality-alert" for r in got))
        # A processor dies; the other takes its partitions over within a lease.
        victim = log_mode.processors[0]
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)
        for step in range(CLEAN + LOSSY, CLEAN + LOSSY + AFTER):
            post_step(step)
        assert set(_owners(server).values()) == {log_mode.processors[1].pid}
        rec.wait_for(lambda got: any(r.json["webhookType"] == "quality-alert-resolved"
                                     for r in got))
        assert client.post("/v2/sessions/end", json={"roomId": "alert-room"}).status_code == 200
        rec.wait_for(lambda got: got[-1].json["webhookType"] == "session-ended")
    alerts = [b for b in rec.bodies() if b["webhookType"].startswith("quality-alert")]
    assert [a["webhookType"] for a in alerts] == ["quality-alert", "quality-alert-resolved"]
    fired, resolved = (a["data"] for a in alerts)
    assert fired["alertId"] == resolved["alertId"] and resolved["reason"] == "recovered"
    assert fired["participantId"] == "alice" and fired["value"] > 5.0 > resolved["value"]
    loss_from, loss_to = start + CLEAN * STEP_MS, start + (CLEAN + LOSSY) * STEP_MS
    assert loss_from < _ms(fired["start"]) <= loss_from + 10_000
    assert loss_to < _ms(resolved["end"]) <= loss_to + 10_000
    with server.engine.connect() as conn:  # type: ignore[attr-defined]
        kinds = conn.execute(sa.select(events.c.webhook_type).where(
            events.c.api_key == tenant.api_key, events.c.webhook_type.like("quality-alert%")
        )).scalars()
        assert sorted(kinds) == ["quality-alert", "quality-alert-resolved"]


def _ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)

