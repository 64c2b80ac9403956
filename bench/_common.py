"""What both benchmarks share: a real `callquality serve` subprocess, its memory, percentiles."""

from __future__ import annotations

import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
CALLQUALITY = str(Path(sys.executable).with_name("callquality"))
PG_ADMIN_URL = os.environ.get("BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile, q in 0..100 (nan when empty)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


def machine() -> str:
    """One line about the machine the figures come from."""
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{os.cpu_count()} cores ({cpu}), {mem_gb:.0f} GB, Python {platform.python_version()}, "
        f"SQLite {__import__('sqlite3').sqlite_version}; load average before the run: {load}"
    )


@contextmanager
def database(backend: str) -> Iterator[str]:
    """A fresh, empty database URL (SQLite file in a temp dir, or a new PostgreSQL database)."""
    if backend == "sqlite":
        tmp = Path(tempfile.mkdtemp(prefix="cq-bench-"))
        try:
            yield f"sqlite:///{tmp / 'callquality.db'}"
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return
    name = f"cq_bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _status_kb(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree(pid: int) -> list[int]:
    """The process and its descendants (uvicorn's workers)."""
    pids = [pid]
    i = 0
    while i < len(pids):
        try:
            children = Path(f"/proc/{pids[i]}/task/{pids[i]}/children").read_text().split()
        except OSError:
            children = []
        pids.extend(int(c) for c in children)
        i += 1
    return pids


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time used so far by these processes (those still alive)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (stat fields 14 and 15)
    return total / os.sysconf("SC_CLK_TCK")


def postgres_pids() -> list[int]:
    """The processes of the PostgreSQL server on this machine (its backends included)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


@dataclass
class Server:
    """A `callquality serve` subprocess."""

    url: str
    database_url: str
    process: subprocess.Popen[bytes]

    def rss_kb(self) -> int:
        """Current resident memory of the server and its workers, summed."""
        return sum(_status_kb(p, "VmRSS") for p in tree(self.process.pid))

    def cpu_seconds(self) -> float:
        """CPU time used so far by the server and its workers."""
        return cpu_seconds(tree(self.process.pid))

    def worker_cpu_seconds(self) -> dict[int, float]:
        """CPU time used so far by each of uvicorn's worker processes (spawned children)."""
        workers = {}
        for pid in tree(self.process.pid)[1:]:
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if b"--multiprocessing-fork" in cmdline:  # not the resource tracker
                workers[pid] = cpu_seconds([pid])
        return workers

    def peak_rss_kb(self) -> int:
        """Peak resident memory (VmHWM) of the server and its workers, summed."""
        return sum(_status_kb(p, "VmHWM") for p in tree(self.process.pid))


@contextmanager
def serve(database_url: str, *, workers: int = 1, env: dict[str, str] | None = None,
          host: str = "127.0.0.1", netns: str | None = None) -> Iterator[Server]:
    """Start `callquality serve` on a free port of ``host`` (in network namespace ``netns``,
    if given) and wait until /healthz answers."""
    port = free_port()
    # The rate limits off: the benchmarks measure the service, not the policy (one tenant
    # sends all the load, beyond RATE_LIMIT_ITEMS_PER_S).
    environ = {**os.environ, "LOG_LEVEL": "warning", "RATE_LIMIT_PER_S": "0",
               "RATE_LIMIT_ITEMS_PER_S": "0", **(env or {})}
    # `ip netns exec` execs the command in place: the pid is the server's.
    prefix = ["ip", "netns", "exec", netns] if netns else []
    process = subprocess.Popen(
        [*prefix, CALLQUALITY, "serve", "--host", host, "--port", str(port),
         "--database-url", database_url, "--workers", str(workers)],
        env=environ,
    )
    url = f"http://{host}:{port}"
    deadline = time.time() + 60
    while True:
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.time() > deadline:
            process.kill()
            raise RuntimeError("the server did not start")
        time.sleep(0.1)
    try:
        yield Server(url, database_url, process)
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"


@dataclass
class NatsCluster:
    """A JetStream cluster of the benchmark's own: its client URLs and node processes."""

    servers: str  # INGEST_LOG's value
    nodes: list[subprocess.Popen[bytes]]

    def cpu_seconds(self) -> float:
        return cpu_seconds([n.pid for n in self.nodes])


@contextmanager
def nats_cluster(host: str = "127.0.0.1", size: int = 3) -> Iterator[NatsCluster]:
    """Start ``size`` nats-server nodes (clients on ``host``, routes on loopback, data in a
    temp dir), wait until JetStream answers, stop and delete them at the end."""
    import asyncio

    import nats

    root = Path(tempfile.mkdtemp(prefix="cq-bench-nats-"))
    ports = [free_port() for _ in range(size)]
    routes = [free_port() for _ in range(size)]
    nodes: list[subprocess.Popen[bytes]] = []

    async def quiet(exc: Exception) -> None:
        """Refused connections while the nodes start are expected: no tracebacks."""

    async def ready(servers: list[str]) -> None:
        deadline = time.monotonic() + 30
        while True:
            try:
                nc = await nats.connect(servers=servers, connect_timeout=1,
                                        allow_reconnect=False, error_cb=quiet)
                try:
                    await nc.jetstream(timeout=1).account_info()  # a meta leader answers
                    return
                finally:
                    await nc.close()
            except Exception:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)

    try:
        for n in range(size):
            others = ", ".join(f"nats-route://127.0.0.1:{r}" for i, r in enumerate(routes)
                               if i != n)
            conf = root / f"n{n}.conf"
            conf.write_text(
                f"server_name: n{n}\nlisten: {host}:{ports[n]}\n"
                f'jetstream {{ store_dir: "{root / f"n{n}"}", max_memory_store: 64MB, '
                f"max_file_store: 4GB }}\n"
                f"cluster {{ name: cq-bench, listen: 127.0.0.1:{routes[n]}, "
                f"routes: [{others}] }}\n")
            nodes.append(subprocess.Popen([NATS_SERVER, "-c", str(conf)],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        servers = [f"nats://{host}:{p}" for p in ports]
        asyncio.run(ready(servers))
        yield NatsCluster(",".join(servers), nodes)
    finally:
        for node in nodes:
            node.terminate()
        for node in nodes:
            try:
                node.wait(10)
            except subprocess.TimeoutExpired:
                node.kill()
                node.wait()
        shutil.rmtree(root, ignore_errors=True)


NETNS_PREFIX = "cqbench"
NETNS_BRIDGE = f"{NETNS_PREFIX}br"
NETNS_HOST = "10.203.0.1"  # the host's address on the bridge (a private /24 of our own)


@dataclass
class Hosts:
    """Network namespaces on a bridge: one per simulated host."""

    names: list[str]
    addresses: list[str]  # each namespace's address on the bridge
    gateway: str  # the host's address on the bridge


def _ip(*args: str, check: bool = True) -> None:
    subprocess.run(["ip", *args], check=check, capture_output=True)


def _remove_hosts() -> None:
    """Delete the namespaces and the bridge of this or an earlier run (their veths go too)."""
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    for line in listed.splitlines():
        name = line.split()[0] if line.strip() else ""
        if name.startswith(NETNS_PREFIX):
            _ip("netns", "delete", name, check=False)
    _ip("link", "delete", NETNS_BRIDGE, check=False)


@contextmanager
def hosts(count: int) -> Iterator[Hosts]:
    """``count`` network namespaces (needs root), each joined by a veth pair to a bridge
    on which the host has 10.203.0.1/24: processes in them are on hosts of their own, and
    what they send to the host crosses a veth and the bridge. Removed at the end, whatever
    happens (and at the start, if an earlier run was killed before it could)."""
    _remove_hosts()
    try:
        _ip("link", "add", NETNS_BRIDGE, "type", "bridge")
        _ip("addr", "add", f"{NETNS_HOST}/24", "dev", NETNS_BRIDGE)
        _ip("link", "set", NETNS_BRIDGE, "up")
        names, addresses = [], []
        for i in range(count):
            name, outer, inner = f"{NETNS_PREFIX}{i}", f"{NETNS_PREFIX}{i}h", f"{NETNS_PREFIX}{i}n"
            address = f"10.203.0.{10 + i}"
            _ip("netns", "add", name)
            _ip("link", "add", outer, "type", "veth", "peer", "name", inner)
            _ip("link", "set", inner, "netns", name)
            _ip("link", "set", outer, "master", NETNS_BRIDGE)
            _ip("link", "set", outer, "up")
            _ip("-n", name, "addr", "add", f"{address}/24", "dev", inner)
            _ip("-n", name, "link", "set", inner, "up")
            _ip("-n", name, "link", "set", "lo", "up")
            names.append(name)
            addresses.append(address)
        yield Hosts(names, addresses, NETNS_HOST)
    finally:
        _remove_hosts()


@contextmanager
def relay(listen_host: str, target_port: int) -> Iterator[int]:
    """A TCP relay (socat) from a free port of ``listen_host`` to ``target_port`` on
    loopback: PostgreSQL listens on loopback only, and the namespaces reach it through
    this, as through a connection pooler on the database's host. Yields the port."""
    socat = shutil.which("socat")
    if socat is None:
        raise RuntimeError("--netns needs socat (apt-get install socat) to reach PostgreSQL")
    port = free_port()
    process = subprocess.Popen(
        [socat, f"TCP-LISTEN:{port},bind={listen_host},fork,reuseaddr",
         f"TCP:127.0.0.1:{target_port}"], stdout=subprocess.DEVNULL)
    try:
        deadline = time.time() + 10
        while True:
            try:
                socket.create_connection((listen_host, port), timeout=1).close()
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        process.wait(10)
