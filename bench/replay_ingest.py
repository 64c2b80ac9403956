"""Ingest replayed in one process: bench/ingest.py's batches through service.ingest, no HTTP.

    .venv/bin/python bench/replay_ingest.py [--backend sqlite|postgresql] [--participants 1000]
        [--steps 6] [--full-reports] [--warmup-steps 26] [--stored-samples 5000000]

The same participants, rooms, reports and batches of 50 as bench/ingest.py, built first, then
parsed (orjson, as the route does) and ingested one request after another in this process:
first a warm-up (one room of other participants, ``--warmup-steps`` reports each: two minutes
and more, so that every statement the ingest builds once per process, such as the series
rollups' at each interval when a minute closes, is built before), then the first step (the
streams' baselines) untimed, the rest timed. ``--stored-samples N`` first fills the database
with N samples of older sessions and their minute rollups (bench/ingest.py's), to compare
ingest on a full database with an empty one. Printed: CPU per report of
this process (on SQLite the database's work too) and, on PostgreSQL, of this database's
backends. Counting instructions instead of time, which other work on the machine does not
move (docs/performance.md, fourth pass): run it twice under callgrind and take the difference,
so that start-up and the warm-up cancel out (both runs do the same), and what is left is
the cost of the extra steps with every statement already built:

    valgrind --tool=callgrind --callgrind-out-file=/dev/null \\
        .venv/bin/python bench/replay_ingest.py --participants 200 --steps 5   # and --steps 2
    # (Collected(5 steps) - Collected(2 steps)) / (200 x 3) = instructions per report
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import replace
from pathlib import Path

from _common import cpu_seconds, database, postgres_pids
from ingest import FIXTURE, STEP_MS, Participant, Reports, participants, store_samples

from callquality.api.ingest_models import parse_body
from callquality.config import Settings
from callquality.service.ingest import ingest
from callquality.store.db import create_store_engine, migrate, write_transaction
from callquality.store.keys import create_api_key


def _backends(database_name: str) -> list[int]:
    """The PostgreSQL backends connected to this database."""
    pids = []
    for pid in postgres_pids():
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if f" {database_name} " in cmdline + " ":
            pids.append(pid)
    return pids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--participants", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=6, help="reports per participant")
    parser.add_argument("--full-reports", action="store_true")
    parser.add_argument("--warmup-steps", type=int, default=26,
                        help="reports per participant of the warm-up room (0: none)")
    parser.add_argument("--stored-samples", type=int, default=0)
    args = parser.parse_args()
    reports = Reports(FIXTURE, full=args.full_reports)
    people = participants(args.participants, 10, 0.2)
    with database(args.backend) as url:
        engine = create_store_engine(url)
        migrate(engine)
        if args.stored_samples:
            took = store_samples(url, args.stored_samples)
            print(f"stored beforehand: {args.stored_samples:,} samples in {took:.0f} s")
        with write_transaction(engine) as conn:
            api_key, _ = create_api_key(conn, name="replay", now_ms=int(time.time() * 1000))
        settings = Settings()
        t0_ms = int(time.time() * 1000) - 3_600_000

        def bodies_of(group: list[Participant], count: int) -> list[list[bytes]]:
            return [
                [
                    b"[" + b",".join(
                        reports.item(p.room_id, p.participant_id, t0_ms + step * STEP_MS,
                                     step * STEP_MS + p.phase_ms, p.loss)
                        for p in group[i : i + 50]
                    ) + b"]"
                    for i in range(0, len(group), 50)
                ]
                for step in range(count)
            ]

        warm = [replace(p, room_id=f"warm-{p.room_id}", participant_id=f"w{p.participant_id}")
                for p in participants(10, 10, 0.2)]
        warmup = bodies_of(warm, args.warmup_steps)
        steps = bodies_of(people, args.steps)

        def replay(bodies: list[bytes]) -> int:
            accepted = 0
            for body in bodies:
                items = parse_body(body, settings.max_batch_items)
                accepted += ingest(engine, settings, api_key, items,
                                   int(time.time() * 1000)).accepted
            return accepted

        for bodies in warmup:
            replay(bodies)
        replay(steps[0])  # the baselines
        database_name = url.rsplit("/", 1)[1]
        backends = _backends(database_name) if args.backend == "postgresql" else []
        backend_cpu = cpu_seconds(backends)
        began = time.process_time()
        accepted = sum(replay(bodies) for bodies in steps[1:])
        spent = time.process_time() - began
        line = (f"{args.backend}, {'full reports' if args.full_reports else 'the fields read'}"
                f": {accepted} reports, this process {1e6 * spent / accepted:.0f} µs CPU each")
        if args.backend == "postgresql":
            after = _backends(database_name)
            used = cpu_seconds(after) - backend_cpu  # backends that appeared count from zero
            line += f", this database's backends {1e6 * used / accepted:.0f} µs"
        print(line + f"; load average {os.getloadavg()[0]:.2f}")
        engine.dispose()


if __name__ == "__main__":
    main()
