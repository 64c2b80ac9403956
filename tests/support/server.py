"""A real uvicorn server in a thread, on a free loopback port (as httpx's own tests do)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import uvicorn

from callquality.api.app import create_app
from callquality.config import Settings
from callquality.store.db import create_store_engine, migrate, write_transaction
from callquality.store.keys import create_api_key
from callquality.tokens import make_token


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Tenant:
    api_key: str
    secret: str

    def token(self, **kwargs: object) -> str:
        return make_token(self.api_key, self.secret, **kwargs)  # type: ignore[arg-type]


@dataclass
class RunningServer:
    url: str
    settings: Settings
    engine: object

    def new_tenant(self) -> Tenant:
        with write_transaction(self.engine) as conn:  # type: ignore[arg-type]
            api_key, secret = create_api_key(conn, name="test", now_ms=int(time.time() * 1000))
        return Tenant(api_key, secret)

    def client(self, tenant: Tenant | None = None, token: str | None = None) -> httpx.Client:
        headers = {}
        if token is not None:
            headers["Authorization"] = token
        elif tenant is not None:
            headers["Authorization"] = tenant.token()
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


@contextmanager
def serve(settings: Settings) -> Iterator[RunningServer]:
    engine = create_store_engine(settings.resolved_database_url)
    migrate(engine)
    app = create_app(settings, engine)
    port = free_port()
    config = uvicorn.Config(  # the client's address is api/forwarded.py's to decide
        app, host="127.0.0.1", port=port, log_level="warning", proxy_headers=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not server.started:
        if time.time() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield RunningServer(f"http://127.0.0.1:{port}", settings, engine)
    finally:
        server.should_exit = True
        thread.join(10)
        engine.dispose()
