"""Several workers on one port: clients' kept-alive connections are moved between them.

uvicorn's workers share the listening socket and a connection stays with the worker that
accepted it; a busy worker (other ingest requests waiting in it) with workers beside it closes
an ingest answer's connection at most every 0.2 s (``Connection: close``), so that the
client's next connect can go to another worker. A worker answering one request at a time
keeps its connections, and one worker never closes.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from support.items import T0, sample_item
from support.processes import create_key, serve_process

from callquality.tokens import make_token


@pytest.mark.parametrize("workers", [1, 2])
def test_busy_workers_close_a_connection_now_and_then(tmp_path: Path, workers: int) -> None:
    url_db = f"sqlite:///{tmp_path / 'cq.db'}"
    api_key, secret = create_key(url_db)
    token = make_token(api_key, secret, roles=("rtc", "crawler"))
    headers = {"Authorization": token}
    with serve_process(url_db, workers=workers) as (url, _):
        with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
            one_at_a_time = []
            for i in range(12):
                r = client.post("/v2/stats", json=[sample_item("room", f"p{i}", T0 + 5000 * i)])
                assert r.status_code == 202, r.text
                one_at_a_time.append(r.headers.get("connection") == "close")

        def post_many(k: int) -> bool:
            # 200 participants' samples a request: each takes long enough that the
            # requests of a worker overlap
            body = [sample_item(f"busy-{k}", f"q{k}-{j}", T0) for j in range(200)]
            with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
                r = client.post("/v2/stats", json=body)
            assert r.status_code == 202, r.text
            return r.headers.get("connection") == "close"

        with ThreadPoolExecutor(8) as pool:
            concurrent = list(pool.map(post_many, range(8)))
        with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
            sessions = client.get("/v2/sessions/", params={"perPage": 100}).json()
    participants = {p["participantId"] for s in sessions["data"] for p in s["participants"]}
    # every item stored, once
    assert participants == {f"p{i}" for i in range(12)} | {
        f"q{k}-{j}" for k in range(8) for j in range(200)}
    assert not any(one_at_a_time), one_at_a_time  # nothing else waiting: connections kept
    if workers == 1:
        assert not any(concurrent)
    else:
        # eight requests at once on two workers: a busy worker closes (at most every 0.2 s)
        assert 1 <= sum(concurrent) <= 6, concurrent


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
