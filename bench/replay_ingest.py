"""Ingest replayed in one process: bench/ingest.py's batches through service.ingest, no HTTP.

    .venv/bin/python bench/replay_ingest.py [--backend sqlite|postgresql] [--participants 1000]
        [--steps 6] [--full-reports] [--warmup-steps 26] [--stored-samples 5000000]
        [--database-url URL] [--threads 4] [--table-stats] [--statement-times]
        [--explain FILE] [--vacuum] [--pragma NAME=VALUE] [--profile-step 12]

The same participants, rooms, reports and batches of 50 as bench/ingest.py, built first, then
parsed (orjson, as the route does) and ingested one request after another in this process:
first a warm-up (one room of other participants, ``--warmup-steps`` reports each: two minutes
and more, so that every statement the ingest builds once per process, such as the series
rollups' at each interval when a minute closes, is built before), then the first step (the
streams' baselines) untimed, the rest timed. ``--stored-samples N`` first fills the database
with N samples of older sessions and their minute rollups (bench/ingest.py's), to compare
ingest on a full database with an empty one; ``--database-url`` ingests into a database of
one's own instead, kept (fill one once, then repeat runs on it: a 5-million-sample SQLite
file is 10.7 GB). Printed: CPU per report of this process (on SQLite the database's work
too; its system part, and its read system calls: pages that SQLite's cache did not hold)
and, on PostgreSQL, of this database's backends (and their read calls). For finding where
a difference comes from: ``--statement-times`` (this process's CPU in each statement and
commit), ``--table-stats`` (PostgreSQL: each table's scans and shared-buffer hits/reads in
the timed part, autovacuum, the server's WAL, full-page images and checkpoints),
``--explain`` (the plan of every statement, with its last parameters), ``--threads`` (the
timed part in several threads, as a server's concurrent requests use several pooled
connections), ``--profile-step`` (cProfile of one timed step, whose own CPU figure then
includes the profiler's; each step's CPU per report is printed in any case: step 12 holds
every session's minute close). Counting instructions
instead of time, which other work on the machine does not move (docs/performance.md, fourth
pass): run it twice under callgrind and take the difference,
so that start-up and the warm-up cancel out (both runs do the same), and what is left is
the cost of the extra steps with every statement already built:

    valgrind --tool=callgrind --callgrind-out-file=/dev/null \\
        .venv/bin/python bench/replay_ingest.py --participants 200 --steps 5   # and --steps 2
    # (Collected(5 steps) - Collected(2 steps)) / (200 x 3) = instructions per report
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import replace
from pathlib import Path
from typing import Any

from _common import cpu_seconds, database, postgres_pids
from ingest import FIXTURE, STEP_MS, Participant, Reports, participants, store_samples
from sqlalchemy import create_engine, event, text

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


_TABLE_STATS = """
SELECT s.relname, s.seq_scan, coalesce(s.idx_scan, 0), s.n_tup_ins + s.n_tup_upd,
       s.autovacuum_count + s.autoanalyze_count,
       coalesce(io.heap_blks_hit, 0), coalesce(io.heap_blks_read, 0),
       coalesce(io.idx_blks_hit, 0), coalesce(io.idx_blks_read, 0)
FROM pg_stat_user_tables s JOIN pg_statio_user_tables io USING (relid)
"""


def _reads(pids: list[int]) -> int:
    """Read system calls made so far by these processes (those still alive): SQLite's
    reads of pages its cache does not hold, PostgreSQL's of blocks not in shared_buffers."""
    total = 0
    for pid in pids:
        try:
            lines = Path(f"/proc/{pid}/io").read_text().splitlines()
        except OSError:
            continue
        total += next(int(line.split()[1]) for line in lines if line.startswith("syscr:"))
    return total


def _flush_stats(engine: Any) -> None:
    """Have the pool's backend report its statistics: PostgreSQL 15 sends them at the end
    of a transaction at most once a second (PGSTAT_MIN_INTERVAL)."""
    time.sleep(1.1)
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    time.sleep(0.1)


def _table_stats(url: str) -> dict[str, tuple[int, ...]]:
    """pg_stat_user_tables and pg_statio_user_tables of this database, by table."""
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = {r[0]: tuple(int(v) for v in r[1:]) for r in conn.execute(text(_TABLE_STATS))}
        autovacuum = conn.execute(text(
            "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker' "
            "AND datname = current_database()")).scalar_one()
        wal = conn.execute(text(
            "SELECT wal_records, wal_fpi, wal_bytes FROM pg_stat_wal")).one()
        checkpoints = conn.execute(text(
            "SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter")).scalar_one()
    engine.dispose()
    rows["(autovacuum workers)"] = (int(autovacuum),)
    # the whole server's (other databases' work included): records, full-page images, bytes
    rows["(WAL of the server)"] = (*(int(v) for v in wal), int(checkpoints), 0, 0, 0, 0)
    return rows


def _print_table_stats(before: dict[str, tuple[int, ...]], after: dict[str, tuple[int, ...]],
                       reports: int) -> None:
    """What each table's statements did in the timed part, per report."""
    print("timed part, per report: seq scans, index scans, rows written, "
          "heap blocks hit/read, index blocks hit/read (autovacuum+autoanalyze runs)")
    print(f"  autovacuum workers on this database at the end: {after['(autovacuum workers)'][0]}")
    for name in sorted(after):
        if name == "(autovacuum workers)":
            continue
        if name == "(WAL of the server)":
            records, fpi, size, checkpoints = (
                a - b for a, b in zip(after[name][:4], before[name][:4], strict=True))
            print(f"  WAL of the whole server: {records / reports:.1f} records, "
                  f"{fpi / reports:.2f} full-page images, {size / reports:,.0f} bytes; "
                  f"{checkpoints} checkpoints")
            continue
        delta = [a - b for a, b in zip(after[name], before.get(name, (0,) * 8), strict=True)]
        if not any(delta):
            continue
        seq, idx, written, auto, hh, hr, ih, ir = delta
        print(f"  {name:28} {seq / reports:6.3f} {idx / reports:7.2f} {written / reports:6.2f}"
              f"  heap {hh / reports:7.2f} / {hr / reports:6.2f}"
              f"  index {ih / reports:7.2f} / {ir / reports:6.2f}"
              + (f"  ({auto})" if auto else ""))


def _explain(engine: Any, statements: dict[str, Any], path: Path) -> None:
    """The plan of each statement with the parameters it last ran with, into ``path``:
    EXPLAIN (ANALYZE, BUFFERS) on PostgreSQL, each in a transaction rolled back; EXPLAIN
    QUERY PLAN on SQLite."""
    postgres = engine.dialect.name == "postgresql"
    out = []
    with engine.connect() as conn:
        driver: Any = conn.connection.dbapi_connection
        if postgres:
            driver.rollback()
        for sql, params in statements.items():
            if not sql.lstrip().upper().startswith(("SELECT", "INSERT", "UPDATE", "DELETE")):
                continue
            explain = "EXPLAIN (ANALYZE, BUFFERS) " if postgres else "EXPLAIN QUERY PLAN "
            try:
                cursor = driver.cursor()
                cursor.execute(explain + sql, params)
                plan = "\n".join(" ".join(str(v) for v in r) if not postgres else r[0]
                                 for r in cursor.fetchall())
                cursor.close()
            except Exception as exc:  # noqa: BLE001 - a diagnostic: say it and go on
                plan = f"(not explained: {exc})"
            if postgres:
                driver.rollback()
            out.append(f"-- {sql}\n{plan}\n")
    path.write_text("\n".join(out))
    print(f"plans of {len(out)} statements in {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--participants", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=6, help="reports per participant")
    parser.add_argument("--profile-step", type=int, default=0,
                        help="cProfile this timed step (12: the minute's close), print its top 40")
    parser.add_argument("--full-reports", action="store_true")
    parser.add_argument("--warmup-steps", type=int, default=26,
                        help="reports per participant of the warm-up room (0: none)")
    parser.add_argument("--stored-samples", type=int, default=0)
    parser.add_argument("--vacuum", action="store_true",
                        help="VACUUM (ANALYZE) the database after the fill (PostgreSQL)")
    parser.add_argument("--table-stats", action="store_true",
                        help="PostgreSQL: print each table's scans and buffer hits/reads of "
                             "the timed part (the pool is closed before and after, so that "
                             "the backends report their statistics)")
    parser.add_argument("--pragma", action="append", default=[], metavar="NAME=VALUE",
                        help="SQLite: run PRAGMA NAME=VALUE on each connection of ingest's "
                             "engine (for experiments; repeatable)")
    parser.add_argument("--threads", type=int, default=1,
                        help="timed part: this many threads, each with its own requests, as "
                             "a server process with requests in flight")
    parser.add_argument("--database-url", metavar="URL",
                        help="ingest into this database, kept (one filled once by an earlier "
                             "--stored-samples run, for repeated runs), not a fresh one; "
                             "each run makes an API key of its own, so its sessions are new")
    parser.add_argument("--statement-times", action="store_true",
                        help="print the CPU time of this process per report in each statement "
                             "of the timed part (the driver's call: on SQLite the database's "
                             "work)")
    parser.add_argument("--explain", type=Path, metavar="FILE",
                        help="PostgreSQL: write EXPLAIN (ANALYZE, BUFFERS) of every statement "
                             "of the timed part (its last parameters) to FILE")
    args = parser.parse_args()
    if args.database_url:
        args.backend = "postgresql" if args.database_url.startswith("postgresql") else "sqlite"
    reports = Reports(FIXTURE, full=args.full_reports)
    people = participants(args.participants, 10, 0.2)
    with (nullcontext(args.database_url) if args.database_url
          else database(args.backend)) as url:
        engine = create_store_engine(url)
        if args.pragma:
            @event.listens_for(engine, "connect")
            def _pragmas(dbapi_connection: Any, _record: Any) -> None:
                for pragma in args.pragma:
                    dbapi_connection.execute(f"PRAGMA {pragma}")

        migrate(engine)
        if args.stored_samples:
            took = store_samples(url, args.stored_samples)
            print(f"stored beforehand: {args.stored_samples:,} samples in {took:.0f} s")
        if args.vacuum and args.backend == "postgresql":
            with engine.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT").execute(
                    text("VACUUM (ANALYZE)"))
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
        if args.table_stats:
            _flush_stats(engine)
            stats_before = _table_stats(url)
        backends = _backends(database_name) if args.backend == "postgresql" else []
        backend_cpu = cpu_seconds(backends)
        statements: dict[str, Any] = {}
        if args.explain:
            @event.listens_for(engine, "before_cursor_execute")
            def _keep(_conn: Any, _cursor: Any, sql: str, params: Any, _context: Any,
                      many: bool) -> None:
                statements[sql] = params[0] if many else params

        times: dict[str, list[float]] = {}
        if args.statement_times:
            @event.listens_for(engine, "before_cursor_execute")
            def _start(_conn: Any, _cursor: Any, sql: str, _params: Any, context: Any,
                       _many: bool) -> None:
                context._began = time.process_time()

            @event.listens_for(engine, "after_cursor_execute")
            def _end(_conn: Any, _cursor: Any, sql: str, _params: Any, context: Any,
                     _many: bool) -> None:
                spent = times.setdefault(sql, [0.0, 0])
                spent[0] += time.process_time() - context._began
                spent[1] += 1

            committing: list[float] = []

            @event.listens_for(engine, "commit")
            def _commit(_conn: Any) -> None:
                committing.append(time.process_time())

            @event.listens_for(engine, "checkin")
            def _checkin(_dbapi: Any, _record: Any) -> None:
                if committing:  # the commit and the return to the pool
                    spent = times.setdefault("COMMIT (and the return to the pool)", [0.0, 0])
                    spent[0] += time.process_time() - committing.pop()
                    spent[1] += 1

        reads = _reads([os.getpid()])
        backend_reads = _reads(backends)
        began, system = time.process_time(), os.times().system
        if args.threads > 1:
            # Each thread keeps the same requests (rooms) every step, in order, as a
            # server's concurrent requests use several of the pool's connections.
            with ThreadPoolExecutor(args.threads) as pool:
                accepted = sum(pool.map(
                    lambda k: sum(replay(bodies[k :: args.threads]) for bodies in steps[1:]),
                    range(args.threads)))
        else:
            accepted, per_step = 0, []
            for bodies in steps[1:]:
                step_began = time.process_time()
                if len(per_step) + 1 == args.profile_step:
                    profile = cProfile.Profile()
                    n = profile.runcall(replay, bodies)
                    pstats.Stats(profile).sort_stats("cumulative").print_stats(40)
                else:
                    n = replay(bodies)
                per_step.append(1e6 * (time.process_time() - step_began) / max(n, 1))
                accepted += n
        spent, system = time.process_time() - began, os.times().system - system
        reads = _reads([os.getpid()]) - reads
        line = (f"{args.backend}, {'full reports' if args.full_reports else 'the fields read'}"
                f": {accepted} reports, this process {1e6 * spent / accepted:.0f} µs CPU each "
                f"(system {1e6 * system / accepted:.0f} µs; {reads / accepted:.1f} read calls)")
        if args.backend == "postgresql":
            after = _backends(database_name)
            used = cpu_seconds(after) - backend_cpu  # backends that appeared count from zero
            backend_reads = _reads(after) - backend_reads
            line += (f", this database's backends {1e6 * used / accepted:.0f} µs "
                     f"({backend_reads / accepted:.1f} read calls)")
        print(line + f"; load average {os.getloadavg()[0]:.2f}")
        if args.threads == 1:
            # Step 12 brings each session's first report of its second minute: the close.
            print("this process, µs CPU per report by step (1 = the first timed): " + ", ".join(
                f"{k}: {us:.0f}" for k, us in enumerate(per_step, start=1)))
        if args.statement_times:
            event.remove(engine, "before_cursor_execute", _start)
            event.remove(engine, "after_cursor_execute", _end)
            event.remove(engine, "commit", _commit)
            event.remove(engine, "checkin", _checkin)
            print("statements, µs CPU per report (executions): "
                  f"{1e6 * sum(t for t, _ in times.values()) / accepted:.0f} in all")
            for sql, (spent, runs) in sorted(times.items(), key=lambda kv: -kv[1][0]):
                print(f"  {1e6 * spent / accepted:6.1f} ({runs:5})  {' '.join(sql.split())[:90]}")
        if args.table_stats:
            _flush_stats(engine)
            _print_table_stats(stats_before, _table_stats(url), accepted)
        if args.explain:
            event.remove(engine, "before_cursor_execute", _keep)
            _explain(engine, statements, args.explain)
        engine.dispose()


if __name__ == "__main__":
    main()
