"""callquality as a user runs it: `callquality serve` in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from support.server import free_port

CLI = str(Path(sys.executable).parent / "callquality")


def create_key(database_url: str) -> tuple[str, str]:
    """`callquality keys create --json` against a database: (api key, secret)."""
    out = subprocess.run(
        [CLI, "keys", "create", "--json", "--database-url", database_url],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout
    body = json.loads(out)
    return body["apiKey"], body["secret"]


@contextmanager
def serve_process(
    database_url: str, *, port: int | None = None, env: dict[str, str] | None = None,
    workers: int = 1,
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A `callquality serve` process; yields (base url, process) once /healthz answers."""
    port = port or free_port()
    proc = subprocess.Popen(
        [CLI, "serve", "--port", str(port), "--database-url", database_url,
         "--workers", str(workers)],
        env={**os.environ, "LOG_LEVEL": "warning", **(env or {})},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 30
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"serve exited: {proc.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.time() > deadline:
                raise RuntimeError("serve did not answer /healthz within 30 s")
            time.sleep(0.1)
        yield url, proc
    finally:
        stop(proc)


@contextmanager
def processor_process(
    database_url: str, env: dict[str, str], metrics_port: int | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """A `callquality process` process (its Prometheus metrics on ``metrics_port``)."""
    metrics = ["--metrics-port", str(metrics_port)] if metrics_port is not None else []
    proc = subprocess.Popen(
        [CLI, "process", "--database-url", database_url, *metrics],
        env={**os.environ, "LOG_LEVEL": "warning", **env},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        yield proc
    finally:
        stop(proc)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after 10 s, unless it has exited already."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
