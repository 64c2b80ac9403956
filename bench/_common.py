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


def _tree(pid: int) -> list[int]:
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
        return sum(_status_kb(p, "VmRSS") for p in _tree(self.process.pid))

    def cpu_seconds(self) -> float:
        """CPU time used so far by the server and its workers."""
        return cpu_seconds(_tree(self.process.pid))

    def worker_cpu_seconds(self) -> dict[int, float]:
        """CPU time used so far by each of uvicorn's worker processes (spawned children)."""
        workers = {}
        for pid in _tree(self.process.pid)[1:]:
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if b"--multiprocessing-fork" in cmdline:  # not the resource tracker
                workers[pid] = cpu_seconds([pid])
        return workers

    def peak_rss_kb(self) -> int:
        """Peak resident memory (VmHWM) of the server and its workers, summed."""
        return sum(_status_kb(p, "VmHWM") for p in _tree(self.process.pid))


@contextmanager
def serve(database_url: str, *, workers: int = 1, env: dict[str, str] | None = None
          ) -> Iterator[Server]:
    """Start `callquality serve` on a free port and wait until /healthz answers."""
    port = free_port()
    # The rate limits off: the benchmarks measure the service, not the policy (one tenant
    # sends all the load, beyond RATE_LIMIT_ITEMS_PER_S).
    environ = {**os.environ, "LOG_LEVEL": "warning", "RATE_LIMIT_PER_S": "0",
               "RATE_LIMIT_ITEMS_PER_S": "0", **(env or {})}
    process = subprocess.Popen(
        [CALLQUALITY, "serve", "--port", str(port), "--database-url", database_url,
         "--workers", str(workers)],
        env=environ,
    )
    url = f"http://127.0.0.1:{port}"
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
