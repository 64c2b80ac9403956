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


def _worker_environ(proc_pid: int) -> list[dict[str, str]]:
    """The environment of each of uvicorn's worker processes under ``proc_pid``."""
    environs = []
    for child in Path(f"/proc/{proc_pid}/task/{proc_pid}/children").read_text().split():
        if b"--multiprocessing-fork" in Path(f"/proc/{child}/cmdline").read_bytes():
            raw = Path(f"/proc/{child}/environ").read_bytes().split(b"\0")
            environs.append(dict(e.decode().split("=", 1) for e in raw if b"=" in e))
    return environs


@pytest.mark.parametrize(("given", "expected"), [(None, "2"), ("4", "4")])
def test_workers_run_with_two_malloc_arenas_unless_the_operator_says(
    tmp_path: Path, given: str | None, expected: str
) -> None:
    """glibc's per-thread arenas let a worker's RSS creep up (docs/performance.md, memory):
    `serve` starts its workers with MALLOC_ARENA_MAX=2, and keeps an operator's value."""
    env = {} if given is None else {"MALLOC_ARENA_MAX": given}
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("MALLOC_ARENA_MAX", raising=False)
        with serve_process(f"sqlite:///{tmp_path / 'cq.db'}", workers=2, env=env) as (_, proc):
            environs = _worker_environ(proc.pid)
    assert len(environs) == 2
    assert [e.get("MALLOC_ARENA_MAX") for e in environs] == [expected, expected]
