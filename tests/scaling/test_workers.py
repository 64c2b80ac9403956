"""Several workers on one port: clients' kept-alive connections are moved between them.

uvicorn's workers share the listening socket and a connection stays with the worker that
accepted it; a worker with several workers beside it closes an ingest answer's connection at
most every 0.2 s (``Connection: close``), so that the client's next connect can go to
another worker. One worker never closes.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from support.items import T0, sample_item
from support.processes import create_key, serve_process

from callquality.tokens import make_token


@pytest.mark.parametrize("workers", [1, 2])
def test_ingest_answers_close_a_connection_now_and_then_with_several_workers(
    tmp_path: Path, workers: int
) -> None:
    url_db = f"sqlite:///{tmp_path / 'cq.db'}"
    api_key, secret = create_key(url_db)
    token = make_token(api_key, secret, roles=("rtc", "crawler"))
    closes = []
    with serve_process(url_db, workers=workers) as (url, _), httpx.Client(
        base_url=url, headers={"Authorization": token}, timeout=10
    ) as client:
        for i in range(12):
            r = client.post("/v2/stats", json=[sample_item("room", f"p{i}", T0 + 5000 * i)])
            assert r.status_code == 202, r.text
            closes.append(r.headers.get("connection") == "close")
        sessions = client.get("/v2/sessions/").json()
    participants = {p["participantId"] for s in sessions["data"] for p in s["participants"]}
    assert participants == {f"p{i}" for i in range(12)}  # every item stored, once
    if workers == 1:
        assert not any(closes)
    else:
        assert closes[0]  # a worker's first ingest answer closes
        # twelve answers within a fraction of a second: at most a couple of closes a worker
        assert sum(closes) <= 6, closes
