"""A real webhook receiver on a loopback port: records every request, answers as told."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson


@dataclass(frozen=True)
class Received:
    """One request as it arrived."""

    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def json(self) -> Any:
        return orjson.loads(self.body)

    @property
    def key(self) -> str:
        return self.headers["idempotency-key"]


@dataclass
class Receiver:
    """The requests so far, and how to answer the next ones (a status, or a callable)."""

    port: int
    received: list[Received] = field(default_factory=list)
    answer: Callable[[Received], int] = lambda _: 200
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def bodies(self) -> list[Any]:
        with self.lock:
            return [r.json for r in self.received]

    def wait_for(self, condition: Callable[[list[Received]], bool], timeout_s: float = 20) -> None:
        deadline = time.time() + timeout_s
        while True:
            with self.lock:
                if condition(list(self.received)):
                    return
            if time.time() > deadline:
                with self.lock:
                    got = [r.json.get("webhookType") for r in self.received]
                raise AssertionError(f"receiver: condition not met in {timeout_s} s; got {got}")
            time.sleep(0.02)

    def unique(self) -> list[Received]:
        """The first request of each idempotency key, in arrival order."""
        seen: set[str] = set()
        out = []
        with self.lock:
            for r in self.received:
                if r.key not in seen:
                    seen.add(r.key)
                    out.append(r)
        return out


@contextmanager
def receiving(port: int = 0, receiver: Receiver | None = None) -> Iterator[Receiver]:
    """Serve a receiver until the block ends (then its port is closed)."""
    state: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            length = int(self.headers.get("content-length", 0))
            got = Received(self.path, {k.lower(): v for k, v in self.headers.items()},
                           self.rfile.read(length), time.time())
            rec = state["r"]
            with rec.lock:
                rec.received.append(got)
            status = rec.answer(got)
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    rec = receiver or Receiver(server.server_address[1])
    rec.port = server.server_address[1]
    state["r"] = rec
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield rec
    finally:
        server.shutdown()
        server.server_close()
