"""Read-path benchmark: a 1,000-participant, 1-hour session (720k samples), timed over HTTP.

    .venv/bin/python bench/query.py [--backend sqlite|postgresql] [--participants 1000]
                                    [--minutes 60] [--runs 15] [--intervals 5,60,300]

The session is written straight through the store (the same functions ingest uses, so any
rollup ingest maintains is there too), plus 60 small sessions so that the list has pages.
Then a real `callquality serve` answers, and each request is timed from the client: p50 and
max over --runs runs after one warm-up (3 runs when the warm-up took over 2 s): the session's
and one participant's series at every interval of --intervals, with and without
``extended=true``, and the sessions list.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

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
            big, api_key, "big-room", None, T0, end_ms, end_ms, is_new=True, rollup_origin_ms=T0)])
        names = {f"participant-{i:04d}": f"Participant {i}" for i in range(participants)}
        writes.upsert_participants_many(conn, api_key, {(big, p): n for p, n in names.items()})
        writes.save_intervals_many(conn, {}, {(big, p): [(T0, end_ms)] for p in names})
    ids = list(names)
    chunk = 50  # participants per transaction
    for start in range(0, participants, chunk):
        rows: list[dict[str, Any]] = []
        for i, p in enumerate(ids[start : start + chunk], start):
            template = templates[i % len(templates)]
            rows.extend(
                {**template, "session_id": big, "participant_id": p,
                 "timestamp_ms": T0 + k * STEP_MS}
                for k in range(1, steps + 1)
            )
        with write_transaction(engine) as conn:
            writes.insert_samples_many(conn, rows, {big: T0})
    print(f"built {participants} participants x {steps} samples "
          f"({participants * steps:,} rows) in {time.perf_counter() - started:.1f} s")
    engine.dispose()
    return make_token(api_key, secret, ttl_s=3600), big


def _time(client: httpx.Client, path: str, runs: int) -> tuple[float, float, int]:
    answer = client.get(path)  # warm-up (and a check)
    answer.raise_for_status()
    times = []
    for _ in range(runs if answer.elapsed.total_seconds() < 2 else min(runs, 3)):
        t = time.perf_counter()
        client.get(path).raise_for_status()
        times.append((time.perf_counter() - t) * 1000)
    return percentile(times, 50), max(times), len(answer.content)


INTERVALS = (5, 10, 30, 60, 120, 300, 900, 3600)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--participants", type=int, default=1000)
    parser.add_argument("--minutes", type=int, default=60)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--intervals", default=",".join(map(str, INTERVALS)),
                        help="the stats intervals to time, comma-separated")
    parser.add_argument("--no-lists", action="store_true", help="skip the sessions list")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    print(f"backend: {args.backend}")
    with database(args.backend) as url:
        token, big = build(url, args.participants, args.minutes)
        with serve(url) as server, httpx.Client(
            base_url=server.url, headers={"Authorization": token}, timeout=300
        ) as client:
            checks = []
            for interval in (int(i) for i in args.intervals.split(",")):
                for extended in (False, True):
                    query = f"?interval={interval}" + ("&extended=true" if extended else "")
                    what = f"interval={interval}" + (", extended" if extended else "")
                    checks.append((f"session stats ({what})", f"/v2/sessions/{big}/stats{query}",
                                   100))
                    checks.append((f"participant stats ({what})",
                                   f"/v2/sessions/{big}/participant/participant-0007/stats"
                                   f"{query}", 100))
            if not args.no_lists:
                checks += [
                    ("sessions list (page 1, 20)", "/v2/sessions/", 20),
                    ("sessions list (page 2, 20)", "/v2/sessions/?page=2", 20),
                ]
            print(f"{'request':44} {'p50 ms':>8} {'max ms':>8} {'bytes':>9}  target")
            missed = 0
            for label, path, target in checks:
                p50, worst, size = _time(client, path, args.runs)
                verdict = "ok" if p50 < target else "MISSED"
                missed += verdict != "ok"
                print(f"{label:44} {p50:8.1f} {worst:8.1f} {size:9d}  < {target} ms {verdict}",
                      flush=True)
            print(f"{len(checks) - missed} of {len(checks)} requests within their target")


if __name__ == "__main__":
    main()
