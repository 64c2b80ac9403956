"""Read-path benchmark: a 1,000-participant, 1-hour session (720k samples), timed over HTTP.

    .venv/bin/python bench/query.py [--backend sqlite,postgresql] [--participants 1000]
                                    [--minutes 60] [--runs 15] [--intervals 5,60,300]

The session is written straight through the store (the same functions ingest uses, so any
rollup ingest maintains is there too), in time order as ingest receives it (each 5-s step's
reports of every participant in one transaction, then the next step), and then ended; plus
60 small sessions so that the list has pages. Then a real `callquality serve` answers, and
each request is timed from the client: p50 and p99 over --runs runs after one warm-up (one
run when the warm-up took over 2 s): the session's and one participant's series at every
interval of --intervals, with and without ``extended=true``, and the sessions list. With
several backends it prints one table of them all at the end.
"""

from __future__ import annotations

import argparse
import time

import httpx
from _common import database, machine, percentile, serve

from callquality.domain.sample import DirectionStats, MediaStats, Sample
from callquality.domain.session import Session
from callquality.ingest.items import IngestItem
from callquality.service.ingest import sample_row
from callquality.store import writes
from callquality.store.db import create_store_engine, migrate, write_transaction
from callquality.store.keys import create_api_key
from callquality.tokens import make_token

T0 = 1_795_000_000_000
STEP_MS = 5000


def _sample(loss: int, rtt_ms: float) -> Sample:
    def audio(direction: str) -> DirectionStats:
        return DirectionStats(packets=250 - loss, packets_lost=loss, bitrate_bps=32_000.0,
                              rtt_ms=rtt_ms if direction == "send" else None, jitter_ms=4.0,
                              concealed_ratio=0.01 if direction == "recv" else None)

    def video(direction: str) -> DirectionStats:
        return DirectionStats(packets=700 - loss, packets_lost=loss, bitrate_bps=800_000.0,
                              rtt_ms=rtt_ms if direction == "send" else None, jitter_ms=6.0,
                              width=640, height=480, frame_rate=30.0,
                              freeze_count=0 if direction == "recv" else None)

    return Sample(
        interval_ms=STEP_MS,
        audio=MediaStats(send=audio("send"), recv=audio("recv")),
        video=MediaStats(send=video("send"), recv=video("recv")),
        codec_audio="opus",
        codec_video="VP8",
    )


def build(url: str, participants: int, minutes: int, small_sessions: int = 60) -> tuple[str, str]:
    """Write the big session (and small ones); returns (token, big session id)."""
    engine = create_store_engine(url)
    migrate(engine)
    now = int(time.time() * 1000)
    with write_transaction(engine) as conn:
        api_key, secret = create_api_key(conn, name="bench", now_ms=now)
    steps = minutes * 60_000 // STEP_MS
    end_ms = T0 + steps * STEP_MS
    templates = [
        sample_row("x", IngestItem(0, "r", "p", T0), _sample(loss, rtt), now)
        for loss, rtt in ((0, 40.0), (2, 80.0), (10, 150.0), (0, 30.0), (1, 60.0))
    ]
    started = time.perf_counter()
    for s in range(small_sessions):  # older, small sessions: pages for the list
        sid = writes.new_session_id()
        start = T0 - (s + 1) * 3_600_000
        with write_transaction(engine) as conn:
            writes.save_sessions_many(conn, [Session(
                sid, api_key, f"room-{s}", None, start, start + 600_000, None, is_new=True,
                rollup_origin_ms=start)])
            names = {f"p{i}": f"Small {i}" for i in range(4)}
            writes.upsert_participants_many(conn, api_key, {(sid, p): n for p, n in names.items()})
            spans = {(sid, p): [(start, start + 600_000)] for p in names}
            writes.save_intervals_many(conn, {}, spans)
            writes.insert_samples_many(conn, [
                {**templates[0], "session_id": sid, "participant_id": p,
                 "timestamp_ms": start + k * STEP_MS}
                for p in names for k in range(1, 121)
            ], {sid: start})
    big = writes.new_session_id()
    with write_transaction(engine) as conn:
        writes.save_sessions_many(conn, [Session(
            big, api_key, "big-room", None, T0, end_ms, None, is_new=True, rollup_origin_ms=T0)])
        names = {f"participant-{i:04d}": f"Participant {i}" for i in range(participants)}
        writes.upsert_participants_many(conn, api_key, {(big, p): n for p, n in names.items()})
        writes.save_intervals_many(conn, {}, {(big, p): [(T0, end_ms)] for p in names})
    ids = list(names)
    for k in range(1, steps + 1):  # one transaction per step: all its reports
        rows = [
            {**templates[i % len(templates)], "session_id": big, "participant_id": p,
             "timestamp_ms": T0 + k * STEP_MS}
            for i, p in enumerate(ids)
        ]
        with write_transaction(engine) as conn:
            writes.insert_samples_many(conn, rows, {big: T0})
    with write_transaction(engine) as conn:
        writes.end_session(conn, big, end_ms)
    print(f"built {participants} participants x {steps} samples "
          f"({participants * steps:,} rows) in {time.perf_counter() - started:.1f} s")
    engine.dispose()
    return make_token(api_key, secret, ttl_s=3600), big


def _time(client: httpx.Client, path: str, runs: int) -> tuple[float, float, int]:
    """p50 and p99 ms of ``runs`` requests after a warm-up, and the answer's bytes."""
    answer = client.get(path)  # warm-up (and a check)
    answer.raise_for_status()
    times = []
    for _ in range(runs if answer.elapsed.total_seconds() < 2 else 1):
        t = time.perf_counter()
        client.get(path).raise_for_status()
        times.append((time.perf_counter() - t) * 1000)
    return percentile(times, 50), percentile(times, 99), len(answer.content)


INTERVALS = (5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600)


def _checks(big: str, intervals: list[int], lists: bool) -> list[tuple[str, str, int]]:
    """(label, path, target ms) of every request timed."""
    checks = []
    for interval in intervals:
        for extended in (False, True):
            query = f"?interval={interval}" + ("&extended=true" if extended else "")
            what = f"{interval}" + (" ext" if extended else "")
            checks.append((f"session {what}", f"/v2/sessions/{big}/stats{query}", 100))
            checks.append((f"participant {what}",
                           f"/v2/sessions/{big}/participant/participant-0007/stats{query}",
                           100))
    if lists:
        checks += [
            ("sessions list page 1", "/v2/sessions/", 20),
            ("sessions list page 2", "/v2/sessions/?page=2", 20),
        ]
    return checks


def run(backend: str, args: argparse.Namespace) -> dict[str, tuple[float, float, int]]:
    """Build the data on ``backend``, time every request; {label: (p50, p99, bytes)}."""
    print(f"backend: {backend}; machine: {machine()}", flush=True)
    out = {}
    with database(backend) as url:
        token, big = build(url, args.participants, args.minutes)
        with serve(url) as server, httpx.Client(
            base_url=server.url, headers={"Authorization": token}, timeout=300
        ) as client:
            intervals = [int(i) for i in args.intervals.split(",")]
            for label, path, target in _checks(big, intervals, not args.no_lists):
                p50, p99, size = _time(client, path, args.runs)
                out[label] = (p50, p99, size)
                verdict = "ok" if p50 < target else "MISSED"
                print(f"  {label:24} {p50:9.1f} {p99:9.1f} {size:9d}  < {target} ms {verdict}",
                      flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", default="sqlite,postgresql",
                        help="sqlite, postgresql or both, comma-separated")
    parser.add_argument("--participants", type=int, default=1000)
    parser.add_argument("--minutes", type=int, default=60)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--intervals", default=",".join(map(str, INTERVALS)),
                        help="the stats intervals to time, comma-separated")
    parser.add_argument("--no-lists", action="store_true", help="skip the sessions list")
    args = parser.parse_args()
    backends = args.backend.split(",")
    results = {backend: run(backend, args) for backend in backends}
    labels = list(results[backends[0]])
    print("\n" + f"{'request (p50 / p99 ms)':24}" + "".join(f"{b:>22}" for b in backends)
          + "  target")
    missed = 0
    for label in labels:
        target = 20 if label.startswith("sessions") else 100
        cells = "".join(f"{results[b][label][0]:11.1f} /{results[b][label][1]:9.1f}"
                        for b in backends)
        over = sum(results[b][label][0] >= target for b in backends)
        missed += over
        print(f"{label:24}{cells}  < {target}{'  MISSED' if over else ''}")
    total = len(labels) * len(backends)
    print(f"{total - missed} of {total} requests within their target")


if __name__ == "__main__":
    main()
