"""bench/ingest.py --log: the ingest log deployed on this machine, and its consumer lag.

A 3-node JetStream cluster, M `callquality process` processors and N `callquality serve`
API processes with INGEST_LOG (each, with --netns, in a network namespace of its own: the
load generator reaches it across a veth and a bridge, and it reaches NATS and PostgreSQL
back across them), on the benchmark's PostgreSQL database.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field

import httpx
from _common import (
    CALLQUALITY,
    NatsCluster,
    Server,
    cpu_seconds,
    free_port,
    hosts,
    nats_cluster,
    relay,
    serve,
    tree,
)
from sqlalchemy import make_url

from callquality.service.ingestlog import STREAM
from callquality.store.db import create_store_engine, read_transaction
from callquality.store.schema import ingest_partitions


@dataclass
class Processor:
    """A `callquality process` process and its Prometheus endpoint."""

    process: subprocess.Popen[bytes]
    metrics_port: int

    def cpu_seconds(self) -> float:
        return cpu_seconds(tree(self.process.pid))

    def items(self) -> Counter[str]:
        """callquality_processor_items by outcome (stored, duplicate, dropped) so far."""
        text = httpx.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5).text
        found: Counter[str] = Counter()
        for line in text.splitlines():
            if line.startswith('callquality_processor_items_total{outcome="'):
                found[line.split('"')[1]] = int(float(line.rsplit(" ", 1)[1]))
        return found


@dataclass
class Deployment:
    cluster: NatsCluster
    processors: list[Processor]
    apis: list[Server]
    database_url: str
    where: str  # how the API processes are placed

    def owners(self) -> dict[int, str | None]:
        """Each partition's lease owner (ingest_partitions)."""
        engine = create_store_engine(self.database_url)
        try:
            with read_transaction(engine) as conn:
                rows = conn.execute(ingest_partitions.select()).mappings().all()
        finally:
            engine.dispose()
        return {int(r["partition"]): r["owner"] for r in rows}

    def shares(self) -> str:
        """How many partitions each processor holds, e.g. '4 + 4'."""
        held = Counter(o for o in self.owners().values() if o is not None)
        by_pid = [sum(n for o, n in held.items() if o.endswith(f"-{p.process.pid}"))
                  for p in self.processors]
        return " + ".join(str(n) for n in by_pid) + f" of {sum(held.values())} held"


@contextmanager
def deploy(database_url: str, *, apis: int, workers: int, processors: int, partitions: int,
           replicas: int, netns: bool) -> Iterator[Deployment]:
    """Start the cluster, the processors (waiting until they share the partitions evenly),
    then the API processes; stop everything at the end, whatever happens."""
    with ExitStack() as stack:
        api_database_url = database_url
        if netns:
            places = stack.enter_context(hosts(apis))
            cluster = stack.enter_context(nats_cluster(places.gateway))
            # PostgreSQL listens on loopback: the namespaces reach it through a relay on the
            # bridge address.
            url = make_url(database_url)
            port = stack.enter_context(relay(places.gateway, url.port or 5432))
            api_database_url = url.set(host=places.gateway, port=port).render_as_string(
                hide_password=False)
            where = (f"each in a network namespace of its own ({', '.join(places.addresses)}"
                     f" on a bridge; NATS and PostgreSQL at {places.gateway})")
        else:
            cluster = stack.enter_context(nats_cluster())
            where = "on loopback"
        env = {"INGEST_LOG": cluster.servers, "INGEST_PARTITIONS": str(partitions),
               "INGEST_REPLICAS": str(replicas)}
        started = []
        for _ in range(processors):
            port = free_port()
            process = subprocess.Popen(
                [CALLQUALITY, "process", "--database-url", database_url,
                 "--metrics-port", str(port)],
                env={**os.environ, "LOG_LEVEL": "warning", **env})
            stack.callback(_stop, process)
            started.append(Processor(process, port))
        deployment = Deployment(cluster, started, [], database_url, where)
        _wait_balanced(deployment, partitions)
        for i in range(apis):
            deployment.apis.append(stack.enter_context(serve(
                api_database_url, workers=workers, env=env,
                **({"host": places.addresses[i], "netns": places.names[i]} if netns else {}))))
        yield deployment


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _wait_balanced(deployment: Deployment, partitions: int, timeout_s: float = 60) -> None:
    """Until every processor holds its share of the partitions (a late starter gets its
    share as the others give partitions back, within a lease renewal or two)."""
    least = partitions // len(deployment.processors)
    deadline = time.time() + timeout_s
    while True:
        held = Counter(o for o in deployment.owners().values() if o is not None)
        if (len(held) == len(deployment.processors) and sum(held.values()) == partitions
                and min(held.values()) >= least):
            return
        if any(p.process.poll() is not None for p in deployment.processors):
            raise RuntimeError("a processor exited")
        if time.time() > deadline:
            raise RuntimeError(f"the processors did not share the partitions: {held}")
        time.sleep(0.5)


@dataclass
class LagPoint:
    t_s: float  # since the load started
    lag: int  # messages on the stream not yet acknowledged by the processors
    stored: int  # items the processors stored (duplicates included)


@dataclass
class LagWatch:
    """Once a second: the stream's unacknowledged messages (its work-queue retention drops a
    message once its processor has acknowledged it, so this is the consumers' lag summed over
    the partitions) and the processors' items counters; a line printed every 5 s."""

    deployment: Deployment
    points: list[LagPoint] = field(default_factory=list)
    per_processor: list[Counter[str]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._began = time.monotonic()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def stored(self) -> int:
        return self.points[-1].stored if self.points else 0

    def drained(self, accepted: int) -> bool:
        """Nothing left on the log, and every accepted item taken by a processor."""
        return bool(self.points) and self.points[-1].lag == 0 and self.stored() >= accepted

    async def _run(self) -> None:
        import nats

        nc = await nats.connect(servers=self.deployment.cluster.servers.split(","))
        js = nc.jetstream(timeout=5)
        try:
            while not self._stop.is_set():
                began = time.monotonic()
                try:
                    lag = int((await js.stream_info(STREAM)).state.messages)
                    counts = await asyncio.to_thread(
                        lambda: [p.items() for p in self.deployment.processors])
                except Exception as exc:  # noqa: BLE001 - a slow answer: try next second
                    print(f"  (lag not read: {exc.__class__.__name__})", flush=True)
                else:
                    self.per_processor = counts
                    stored = sum(c["stored"] + c["duplicate"] for c in counts)
                    point = LagPoint(began - self._began, lag, stored)
                    self.points.append(point)
                    if len(self.points) % 5 == 0:
                        before = self.points[-6].stored if len(self.points) > 5 else 0
                        print(f"  {point.t_s:5.0f} s: lag {lag:7,} messages, stored "
                              f"{stored:9,} ({(stored - before) / 5:6,.0f}/s)", flush=True)
                await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - began)))
        finally:
            await nc.close()
