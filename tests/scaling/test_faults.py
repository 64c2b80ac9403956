"""Faults under load: the server killed (SIGKILL) on SQLite, PostgreSQL stopped and started.

Every item a client saw acknowledged (202) is stored exactly once, items it had to send again
are not doubled, and an unreachable database answers 503 with Retry-After, never 500.
"""

from __future__ import annotations

import signal
import sqlite3
from contextlib import ExitStack
from pathlib import Path

import httpx
import sqlalchemy as sa
from support.faults import Sender, batches, check_exactly_once, own_postgres, wait_for
from support.processes import create_key, serve_process
from support.server import free_port

from callquality.tokens import make_token

_COUNT = "SELECT participant_id, timestamp_ms, count(*) FROM samples GROUP BY 1, 2"


def test_a_killed_server_loses_and_doubles_nothing(tmp_path: Path) -> None:
    db = tmp_path / "cq.db"
    url = f"sqlite:///{db}"
    api_key, secret = create_key(url)
    n_items = 400
    port = free_port()
    with ExitStack() as stack:
        base, proc = stack.enter_context(serve_process(url, port=port))
        sender = Sender(base, make_token(api_key, secret), batches("kill-room", n_items))
        workers = sender.run()
        wait_for(lambda: len(sender.acked) >= n_items // 3, 30)
        proc.send_signal(signal.SIGKILL)  # mid-load: some requests are in flight
        proc.wait(10)
        stack.enter_context(serve_process(url, port=port))
        for w in workers:
            w.join(50)
    with sqlite3.connect(db) as conn:
        rows = conn.execute(_COUNT).fetchall()
    check_exactly_once(rows, sender, n_items)
    assert sender.retried >= 1  # batches sent again after the kill were not doubled
    assert 500 not in sender.statuses


def test_postgres_down_under_load_is_503_then_recovers() -> None:
    with own_postgres() as (url, start, stop):
        api_key, secret = create_key(url)
        n_items = 300
        with serve_process(url) as (base, _):
            sender = Sender(base, make_token(api_key, secret), batches("pg-room", n_items))
            workers = sender.run()
            wait_for(lambda: len(sender.acked) >= n_items // 4, 30)
            stop()  # fast shutdown: transactions in flight are cut off
            wait_for(lambda: sender.statuses[503] >= 3, 15)
            acked_while_down = len(sender.acked)
            refused = sender.statuses[503]
            # A few more answers while it is down: each a 503, none a 202.
            wait_for(lambda: sender.statuses[503] >= refused + 3, 15)
            assert len(sender.acked) == acked_while_down
            start()  # the server is not restarted: it reconnects by itself
            for w in workers:
                w.join(50)
            health = httpx.get(f"{base}/healthz", timeout=5)
        engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
        with engine.connect() as conn:
            rows = [tuple(r) for r in conn.execute(sa.text(_COUNT))]
        engine.dispose()
    assert health.status_code == 200
    check_exactly_once(rows, sender, n_items)  # type: ignore[arg-type]
    assert sender.statuses[503] >= 3 and 500 not in sender.statuses, sender.statuses
