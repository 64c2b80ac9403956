"""NATS JetStream of a test's own (a 3-node cluster, or one server): loopback ports, data
folders in /tmp."""

from __future__ import annotations

import asyncio
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import nats
from support.server import free_port

NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"


@dataclass
class Cluster:
    """The cluster's client URLs and node processes."""

    client_ports: list[int]
    nodes: list[subprocess.Popen[bytes]]

    @property
    def servers(self) -> str:
        """INGEST_LOG's value: every node's client URL."""
        return ",".join(f"nats://127.0.0.1:{p}" for p in self.client_ports)

    def kill(self, n: int) -> None:
        """SIGKILL node n."""
        self.nodes[n].send_signal(signal.SIGKILL)
        self.nodes[n].wait(10)


def _config(name: str, port: int, store: Path, cluster_port: int | None = None,
            routes: tuple[int, ...] = ()) -> str:
    """A node's configuration; without ``cluster_port``, a server on its own."""
    text = (
        f"server_name: {name}\nlisten: 127.0.0.1:{port}\n"
        f'jetstream {{ store_dir: "{store}", max_memory_store: 64MB, max_file_store: 1GB }}\n'
    )
    if cluster_port is None:
        return text
    route_urls = ", ".join(f"nats-route://127.0.0.1:{r}" for r in routes)
    return text + (
        f"cluster {{ name: cq-test, listen: 127.0.0.1:{cluster_port}, routes: [{route_urls}] }}\n"
    )


async def _ready(servers: list[str], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    for server in servers:  # listening first: a client refused waits seconds between tries
        host, port = server.removeprefix("nats://").rsplit(":", 1)
        while True:
            try:
                socket.create_connection((host, int(port)), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.05)
    while True:
        try:
            nc = await nats.connect(servers=servers, connect_timeout=1)
            try:
                await nc.jetstream(timeout=1).account_info()  # a meta leader answers
                return
            finally:
                await nc.close()
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


@contextmanager
def nats_cluster(size: int = 3) -> Iterator[Cluster]:
    """Start the cluster (``size`` 1: one server, no cluster), wait until JetStream
    answers, stop (and delete) it at the end."""
    root = Path(tempfile.mkdtemp(prefix="cq-nats-"))
    ports = [free_port() for _ in range(size)]
    cluster_ports = [free_port() for _ in range(size)]
    nodes = []
    try:
        for n in range(size):
            conf = root / f"n{n}.conf"
            others = tuple(p for i, p in enumerate(cluster_ports) if i != n)
            conf.write_text(_config(f"n{n}", ports[n], root / f"n{n}", *(
                (cluster_ports[n], others) if size > 1 else ())))
            nodes.append(subprocess.Popen([NATS_SERVER, "-c", str(conf)],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        cluster = Cluster(ports, nodes)
        asyncio.run(_ready(cluster.servers.split(","), 30))
        yield cluster
    finally:
        for node in nodes:
            if node.poll() is None:
                node.terminate()
        for node in nodes:
            try:
                node.wait(10)
            except subprocess.TimeoutExpired:
                node.kill()
        shutil.rmtree(root, ignore_errors=True)
