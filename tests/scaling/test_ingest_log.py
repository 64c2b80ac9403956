"""The ingest log (INGEST_LOG): two API processes publish to a 3-node JetStream cluster, two
processors store into PostgreSQL; a NATS node, a processor and the database fail under load,
and every acknowledged item is stored exactly once, with the series of the direct mode."""

from __future__ import annotations

import asyncio
import signal
import time
from contextlib import ExitStack
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import httpx
import msgspec
import nats
import sqlalchemy as sa
from conftest import fresh_pg_database
from support.compare import rounded
from support.faults import Sender, batches, check_exactly_once, own_postgres, wait_for
from support.items import T0, sample_item
from support.nats_cluster import nats_cluster
from support.processes import create_key, processor_process, serve_process
from support.server import free_port

from callquality.api.ingest_models import parse_items
from callquality.config import Settings
from callquality.query.stats import time_series
from callquality.service.ingest import ingest
from callquality.service.ingestlog import STREAM
from callquality.store.db import create_store_engine, migrate, read_transaction
from callquality.store.schema import sessions
from callquality.tokens import make_token

N_ITEMS = 1600
ROOM = "log-room"
_COUNT = "SELECT participant_id, timestamp_ms, count(*) FROM samples GROUP BY 1, 2"


def _lags(port: int) -> dict[str, float]:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return {
        line.split('partition="')[1].split('"')[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("callquality_ingest_log_pending{")
    }


def _published(servers: str) -> int:
    """How many messages the ingest log's stream has taken, ever (its last sequence)."""
    async def read() -> int:
        client = await nats.connect(servers.split(","))
        try:
            return int((await client.jetstream().stream_info(STREAM)).state.last_seq)
        finally:
            await client.close()
    return asyncio.run(read())


def _series(url: str) -> list[dict[str, Any]]:
    engine = create_store_engine(url)
    try:
        with read_transaction(engine) as conn:
            found = conn.execute(
                sa.select(sessions.c.session_id, sessions.c.start_ms, sessions.c.last_report_ms)
                .where(sessions.c.room_id == ROOM)
            ).all()
            assert len(found) == 1, f"one session for the room, not {found}"
            session_id, start_ms, _ = found[0]
            return [rounded(asdict(b)) for b in time_series(
                conn, session_id, start_ms, interval_s=10, extended=True)]
    finally:
        engine.dispose()


def test_every_acknowledged_item_survives_a_lost_node_processor_and_database(
    tmp_path: Path,
) -> None:
    with nats_cluster() as cluster, own_postgres() as (url, start_pg, stop_pg):
        api_key, secret = create_key(url)
        env = {"INGEST_LOG": cluster.servers, "INGEST_REPLICAS": "3",
               "INGEST_PARTITIONS": "4", "PROCESSOR_LEASE_S": "3"}
        token = make_token(api_key, secret)
        # Report time moves 1 s per 10 items, about 4 s per second of the test: a real call's
        # pace, within a few times. Faster, a processor's kill could leave its fetched items
        # unacknowledged for ACK_WAIT_S while newer ones of the partition are stored, more
        # than IDLE_TIMEOUT_S of report time ahead, which opens a new session (seen with
        # 5 s steps, 20 s of report time a second; docs/scaling.md).
        work = batches(ROOM, N_ITEMS, step_ms=1000)
        with ExitStack() as stack:
            apis = [stack.enter_context(serve_process(url, env=env))[0] for _ in range(2)]
            metrics_ports = [free_port(), free_port()]
            procs = [stack.enter_context(processor_process(url, env, port))
                     for port in metrics_ports]
            # Bad input is answered by the API itself, and nothing of it reaches the log.
            bad = sample_item(ROOM, "p0", T0, audio_recv_lost=-1)
            answer = httpx.post(f"{apis[0]}/v2/stats", json=bad,
                                headers={"Authorization": token})
            assert answer.status_code == 400 and "packetsLost" in answer.json()["message"]

            sender = Sender(apis, token, work, pace_s=0.5)
            threads = sender.run(threads=4, deadline_s=150)
            wait_for(lambda: len(sender.acked) >= N_ITEMS // 8, 60)
            cluster.kill(0)  # a NATS node: the stream keeps 2 of its 3 replicas
            wait_for(lambda: len(sender.acked) >= N_ITEMS // 4, 60)
            procs[0].send_signal(signal.SIGKILL)  # a processor: the other takes its partitions
            wait_for(lambda: len(sender.acked) >= 3 * N_ITEMS // 8, 60)
            stop_pg()  # the database: the API still acknowledges, from the log
            acked_at_outage = len(sender.acked)
            time.sleep(30)
            acked_during_outage = len(sender.acked) - acked_at_outage
            start_pg()
            for t in threads:
                t.join(120)
            engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
            try:
                def all_stored() -> bool:
                    with engine.connect() as conn:
                        return int(conn.execute(sa.text("SELECT count(*) FROM samples"))
                                   .scalar_one()) >= N_ITEMS
                wait_for(all_stored, 120)
                with engine.connect() as conn:
                    rows = [tuple(r) for r in conn.execute(sa.text(_COUNT))]
            finally:
                engine.dispose()
            # The survivor holds every partition now, and its metrics say none lags.
            wait_for(lambda: _lags(metrics_ports[1]) == {str(p): 0.0 for p in range(4)}, 30)
            # Every item once in the log (a retry is one message by its Nats-Msg-Id), and
            # the bad one never.
            assert _published(cluster.servers) == N_ITEMS
        assert acked_during_outage > 100, "the API kept acknowledging while the database was down"
        assert sender.statuses[503] == 0 and 500 not in sender.statuses, sender.statuses
        check_exactly_once(rows, sender, N_ITEMS)  # type: ignore[arg-type]
        log_series = _series(url)

    # The same items stored directly (no log) give the same series.
    direct = f"sqlite:///{tmp_path / 'direct.db'}"
    engine = create_store_engine(direct)
    migrate(engine)
    for batch in work:
        ingest(engine, Settings(), api_key, parse_items(batch, 1000), int(time.time() * 1000))
    engine.dispose()
    assert log_series == _series(direct)


def test_a_message_gives_back_the_item_it_was_made_of() -> None:
    """A raw report's item and a sample's item, published and read back, are the items the
    API validated (the processor stores what it reads)."""
    from callquality.service.ingestlog import decode, encode

    body = [sample_item(ROOM, "p0", T0, audio_recv_lost=3),
            {"roomId": ROOM, "participantId": "p1", "timestamp": T0, "peerConnectionId": "pc",
             "report": [{"id": "x", "type": "inbound-rtp", "kind": "audio",
                         "timestamp": float(T0), "packetsReceived": 10, "packetsLost": 1}]}]
    for item in parse_items(body, 10):
        api_key, read = decode(encode("key", item))
        assert api_key == "key"
        # The processor reads a raw report typed (ingest/read_fields.py): the Structs of the
        # fields read, which are every field of this report.
        assert replace(read, report=item.report) == item
        assert msgspec.to_builtins(read.report) == item.report


def test_a_partitions_lag_is_reported_by_its_owner_alone() -> None:
    """A processor that gives partitions back to a newcomer stops reporting their lag, so
    callquality_ingest_log_pending summed over the processors counts each partition once
    (a stale gauge of a partition given up would stay at its last value for ever)."""
    every = {str(p) for p in range(4)}

    def lags(port: int) -> dict[str, float]:
        try:
            return _lags(port)
        except httpx.TransportError:  # not listening yet
            return {}

    with nats_cluster() as cluster, fresh_pg_database("cq_lag") as url:
        engine = create_store_engine(url)
        migrate(engine)
        engine.dispose()
        env = {"INGEST_LOG": cluster.servers, "INGEST_PARTITIONS": "4",
               "PROCESSOR_LEASE_S": "3"}
        ports = [free_port(), free_port()]
        with processor_process(url, env, ports[0]):
            wait_for(lambda: set(lags(ports[0])) == every, 30)
            with processor_process(url, env, ports[1]):
                def shared() -> bool:
                    first, second = set(lags(ports[0])), set(lags(ports[1]))
                    return len(first) == len(second) == 2 and first | second == every
                try:
                    wait_for(shared, 40)
                except AssertionError as exc:  # which partitions each one reports
                    raise AssertionError((lags(ports[0]), lags(ports[1]))) from exc
