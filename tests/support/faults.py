"""Load under faults: client threads that send until acknowledged, a PostgreSQL of a test's
own that it can stop and start, and the exactly-once check (tests/scaling)."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from support.items import T0, sample_item
from support.server import free_port

BATCH = 5


@dataclass
class Sender:
    """Client threads posting batches, each until it is acknowledged."""

    url: str | list[str]  # several: the client threads take them in turn
    token: str
    batches: list[list[dict[str, Any]]]
    acked: list[tuple[str, int]] = field(default_factory=list)
    retried: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    pace_s: float = 0.0  # each client thread waits this long after each acknowledgement

    def run(self, threads: int = 4, deadline_s: float = 45) -> list[threading.Thread]:
        todo = list(enumerate(self.batches))
        deadline = time.time() + deadline_s

        urls = [self.url] if isinstance(self.url, str) else self.url

        def work(url: str) -> None:
            with httpx.Client(base_url=url, headers={"Authorization": self.token},
                              timeout=10) as client:
                while True:
                    with self.lock:
                        if not todo:
                            return
                        _, batch = todo.pop(0)
                    self._send(client, batch, deadline)
                    time.sleep(self.pace_s)

        workers = [
            threading.Thread(target=work, args=(urls[n % len(urls)],), daemon=True)
            for n in range(threads)
        ]
        for w in workers:
            w.start()
        return workers

    def _send(self, client: httpx.Client, batch: list[dict[str, Any]], deadline: float) -> None:
        attempts = 0
        while time.time() < deadline:
            attempts += 1
            try:
                answer = client.post("/v2/stats", json=batch)
            except httpx.TransportError:  # refused, reset, or the answer lost: send again
                time.sleep(0.05)
                continue
            with self.lock:
                self.statuses[answer.status_code] += 1
            if answer.status_code == 202:
                with self.lock:
                    self.acked += [(i["participantId"], i["timestamp"]) for i in batch]
                    self.retried += attempts > 1
                return
            if answer.status_code == 503:
                assert int(answer.headers["Retry-After"]) >= 1
                time.sleep(0.1)  # sooner than Retry-After: the test wants it back fast
                continue
            with self.lock:
                self.failures.append(f"{answer.status_code}: {answer.text[:300]}")
            return
        with self.lock:
            self.failures.append("gave up: not acknowledged before the deadline")


def batches(room: str, n_items: int, step_ms: int = 5000) -> list[list[dict[str, Any]]]:
    """Items of ten participants, one each per ``step_ms`` of report time, in batches."""
    items = [
        sample_item(room, f"p{i % 10}", T0 + (i // 10) * step_ms, audio_recv_lost=i % 3)
        for i in range(n_items)
    ]
    return [items[i : i + BATCH] for i in range(0, n_items, BATCH)]


def wait_for(condition: Any, timeout_s: float) -> None:
    deadline = time.time() + timeout_s
    while not condition():
        if time.time() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.02)


def check_exactly_once(rows: list[tuple[str, int, int]], sender: Sender, n_items: int) -> None:
    counts = {(p, int(ts)): int(n) for p, ts, n in rows}
    assert not sender.failures, sender.failures[:3]
    assert len(sender.acked) == n_items  # every item was eventually acknowledged...
    assert all(counts.get((p, int(ts))) == 1 for p, ts in sender.acked)  # ...and stored once
    assert len(counts) == n_items and set(counts.values()) == {1}  # and nothing else


def _pg_bin() -> Path:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if shutil.which("pg_config"):
        bindir = subprocess.run(["pg_config", "--bindir"], capture_output=True,
                                text=True).stdout.strip()
        candidates.insert(0, str(Path(bindir) / "initdb"))
    for c in candidates:
        if Path(c).exists():
            return Path(c).parent
    raise AssertionError("PostgreSQL server binaries (initdb, pg_ctl) are needed for this test")


def _as_postgres(cmd: list[str]) -> list[str]:
    """Run as the postgres user when we are root (PostgreSQL refuses to run as root)."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@contextmanager
def own_postgres() -> Iterator[tuple[str, Any, Any]]:
    """A PostgreSQL of this test's own: data directory in /tmp, its own port."""
    bindir = _pg_bin()
    root = Path(tempfile.mkdtemp(prefix="cq-pg-"))
    data = root / "data"
    port = free_port()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    run = {"check": True, "capture_output": True, "timeout": 60}
    subprocess.run(_as_postgres([str(bindir / "initdb"), "-D", str(data), "-A", "trust",
                                 "-U", "postgres", "--no-sync"]), **run)  # type: ignore[call-overload]
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"

    def start() -> None:
        subprocess.run(_as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-o", options,
                                     "-l", str(root / "log"), "-w", "start"]), **run)  # type: ignore[call-overload]

    def stop() -> None:
        subprocess.run(_as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast",
                                     "-w", "stop"]), **run)  # type: ignore[call-overload]

    start()
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres", start, stop
    finally:
        subprocess.run(_as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-m",
                                     "immediate", "stop"]), capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)


