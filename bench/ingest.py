"""Ingest benchmark: N participants send real Chromium getStats() reports to a real server.

    .venv/bin/python bench/ingest.py [--backend sqlite|postgresql] [--participants 2000]
        [--batch 50] [--duration 60] [--workers 1] [--procs 1] [--speedup 1] [--max]
        [--full-reports] [--stored-samples 5000000] [--stagger]
    .venv/bin/python bench/ingest.py --log [--apis 2] [--processors 1] [--partitions 8]
        [--replicas 3] [--netns] [--drain-timeout 600] [the options above]

Each participant sends one raw report every 5 s of *report time*: the fixture's `a` and `b`
stats of one snapshot as collector.js sends them by default (the stats types and fields the
server reads, ingest/read_fields.py: 20 stats objects, ~4.1 KB; --full-reports: all but the 4
certificates, 31 objects, ~13 KB, as collector.js with fields 'all' and other senders send),
its counters advanced at the rates the fixture itself shows, and for one participant in five
a loss of 1-8 % (packetsLost rising in inbound-rtp and remote-inbound-rtp). Participants sit
in rooms of --room-size; an SFU-side collector posts --batch participants' reports per
request. --speedup S compresses time: report timestamps still advance 5 s per step, but a
step takes 5/S s of wall clock. --max sends as fast as the server answers (closed loop,
--concurrency requests in flight per process). --stored-samples N first fills the database
with N samples (and their minute rollups) of other, week-old sessions. --stagger (not with
--max): the rooms join over a first, untimed minute (room r at step r mod 12), as the rooms of
a real fleet start at different times, so that each session's minute closes in a step of its
own instead of all in the same one (by default every room starts in the first step: the
worst case); the figures count the steps after it.

Printed: reports/s accepted (wall clock), acknowledge latency p50/p99 (request sent -> 202),
where in the minute of report time the slowest 1 % of requests were sent and each 5-s step's
p99 (the sessions that started together close their minute in the same steps), errors by
status, the CPU time per accepted report of the server (its processes), of
PostgreSQL (this database's backends and the shared WAL writer, checkpointer and background
writer; other databases' backends on the machine are shown apart, not counted) and of the
load generator, the server's resident memory (at 5 s, each minute and the end, and the peak
VmHWM summed over the server process and its workers), and, in the same run, the rate of
inserting the same sample rows straight into the samples table (--batch rows per
transaction, no HTTP; through SQLAlchemy's executemany, and through the driver's fastest
plain path: sqlite3 executemany of tuples, psycopg COPY), with the ratio of each.

--log (INGEST_LOG, on PostgreSQL): a 3-node JetStream cluster of the benchmark's own, --apis
API processes publishing to it (the generator's batch j always to API j mod N) and
--processors `callquality process` processors storing into the database (bench/_ingest_log.py);
--netns puts each API process in a network namespace of its own, joined to the host by a veth
and a bridge (root), so that the requests and the API's traffic to NATS and PostgreSQL cross
them as between hosts. It prints, every 5 s, the consumer lag (the stream's messages not yet
acknowledged) and the items stored; then the time the lag took to drain after the load, the
items stored per second, the lag's peak, each processor's share, and the CPU per accepted
report of the API processes, the processors, the NATS servers and PostgreSQL, separately.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from contextlib import AsyncExitStack, ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
from _common import ROOT, cpu_seconds, database, machine, percentile, postgres_pids, serve
from _ingest_log import Deployment, LagWatch, deploy
from sqlalchemy import func, select

from callquality.ingest.items import IngestItem
from callquality.ingest.read_fields import filter_report
from callquality.ingest.report import process_report
from callquality.service.ingest import sample_row
from callquality.store.db import create_store_engine, migrate, write_transaction
from callquality.store.keys import create_api_key
from callquality.store.schema import samples
from callquality.tokens import make_token

FIXTURE = ROOT.parent / "shared" / "fixtures" / "chromium-156-loopback-getstats.json"
STEP_MS = 5000
PEERMETRICS_EVENTS_PER_S = 104  # ../shared/PEERS.md, measured on this machine
LOSS_LEVELS = (0.01, 0.03, 0.08)


class Reports:
    """Chromium-shaped reports with counters advanced from the fixture's own rates."""

    def __init__(self, fixture: Path, snapshot: int = 3, *, full: bool = False) -> None:
        snapshots = json.loads(fixture.read_text())
        first, last, base = snapshots[0], snapshots[-1], snapshots[snapshot]
        # What collector.js sends by default: the stats types and fields the server reads
        # (fields 'read'); full: what it sends with fields 'all', the whole report but its
        # certificates, as other senders do.
        stats = base["a"] + base["b"]
        self.template: list[dict[str, Any]] = (
            [s for s in stats if s["type"] != "certificate"] if full else filter_report(stats)
        )
        self.base_t = float(base["t"])
        span_ms = float(last["t"]) - float(first["t"])
        by_id_first = {s["id"]: s for s in first["a"] + first["b"]}
        by_id_last = {s["id"]: s for s in last["a"] + last["b"]}
        # (stats dict, field, base value, increase per ms, is int)
        self.patches: list[tuple[dict[str, Any], str, float, float, bool]] = []
        self.loss_patches: list[tuple[dict[str, Any], float, float]] = []  # (stats, base, pps)
        packet_rate: dict[tuple[str, str], float] = {}
        for stats in self.template:
            a, b = by_id_first.get(stats["id"]), by_id_last.get(stats["id"])
            if a is None or b is None:
                continue
            for name, value in stats.items():
                if name == "timestamp" or isinstance(value, bool):
                    continue
                if not isinstance(value, int | float):
                    continue
                va, vb = a.get(name), b.get(name)
                if not isinstance(va, int | float) or not isinstance(vb, int | float):
                    continue
                if vb > va:
                    rate = (vb - va) / span_ms
                    self.patches.append((stats, name, value, rate, isinstance(value, int)))
                    if name in ("packetsReceived", "packetsSent"):
                        packet_rate[(stats["type"], stats.get("kind", ""))] = rate
        for stats in self.template:
            # Loss: of what b receives (inbound) and of what a sends, as b reports it back.
            if stats["type"] == "inbound-rtp":
                pps = packet_rate.get(("inbound-rtp", stats["kind"]), 0.0)
            elif stats["type"] == "remote-inbound-rtp":
                pps = packet_rate.get(("outbound-rtp", stats["kind"]), 0.0)
            else:
                continue
            self.loss_patches.append((stats, float(stats.get("packetsLost", 0)), pps))

    def item(self, room_id: str, participant_id: str, timestamp_ms: int, elapsed_ms: float,
             loss: float) -> bytes:
        """One ingest item (JSON bytes) at ``elapsed_ms`` after the template snapshot."""
        for stats, name, base, rate, is_int in self.patches:
            value = base + rate * elapsed_ms
            stats[name] = int(value) if is_int else value
        for stats, base, pps in self.loss_patches:
            stats["packetsLost"] = int(base + loss * pps * elapsed_ms)
            if "fractionLost" in stats:
                stats["fractionLost"] = loss
        for stats in self.template:
            stats["timestamp"] = float(timestamp_ms)
        # A name in every report, as collector.js sends one when it is given participantName.
        return orjson.dumps({"roomId": room_id, "participantId": participant_id,
                             "participantName": f"Participant {participant_id}",
                             "timestamp": timestamp_ms, "report": self.template})


@dataclass
class Participant:
    room_id: str
    participant_id: str
    loss: float
    phase_ms: float  # where in the fixture's counter history this participant starts
    join_step: int = 0  # --stagger: the step of its room's first report


@dataclass
class Result:
    accepted: int = 0
    duplicates: int = 0
    sent_items: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    sent_at_s: list[float] = field(default_factory=list)  # each latency's send, from the start
    errors: Counter[str] = field(default_factory=Counter)
    elapsed_s: float = 0.0
    late_s: float = 0.0  # worst lag of a send behind its schedule
    cpu_s: float = 0.0  # the generator process's own CPU time


STAGGER_STEPS = 12  # --stagger: rooms join over a minute of 5-s steps


def participants(n: int, room_size: int, loss_share: float, seed: int = 7,
                 *, stagger: bool = False) -> list[Participant]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        loss = rng.choice(LOSS_LEVELS) if rng.random() < loss_share else 0.0
        room = i // room_size
        out.append(Participant(f"room-{room:05d}", f"p{i:06d}", loss, rng.uniform(0, 60_000),
                               room % STAGGER_STEPS if stagger else 0))
    return out


async def _run(urls: list[str], token: str, people: list[Participant],
               args: argparse.Namespace, t0_ms: int, start_at: float) -> Result:
    """Send ``people``'s reports; batch j always to ``urls[j % len(urls)]`` (as a load
    balancer hashing the collector would), so that a participant's reports go to one API."""
    reports = Reports(FIXTURE, full=args.full_reports)
    result = Result()
    batches = [people[i : i + args.batch] for i in range(0, len(people), args.batch)]
    period = STEP_MS / 1000 / args.speedup
    slots = asyncio.Semaphore(args.concurrency)
    limits = httpx.Limits(max_connections=args.concurrency,
                          max_keepalive_connections=args.concurrency)
    headers = {"Authorization": token, "Content-Type": "application/json"}
    async with AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(httpx.AsyncClient(
            base_url=url, headers=headers, timeout=60, limits=limits)) for url in urls]

        async def send(client: httpx.AsyncClient, body: bytes, n: int, timed: bool) -> None:
            # The warm-up's answers (--stagger) are not counted: only their errors.
            counted = result if timed else Result()
            try:
                t = time.perf_counter()
                response = await client.post("/v2/stats", content=body)
                ms = (time.perf_counter() - t) * 1000
                if response.status_code == 202:
                    answer = response.json()
                    counted.accepted += answer["accepted"]
                    counted.duplicates += answer["duplicates"]
                    counted.latencies_ms.append(ms)
                    counted.sent_at_s.append(t - timed_from)
                else:
                    result.errors[str(response.status_code)] += n
            except httpx.HTTPError as exc:
                result.errors[type(exc).__name__] += n
            finally:
                slots.release()

        tasks: set[asyncio.Task[None]] = set()
        await asyncio.sleep(max(0.0, start_at - time.time()))
        warmup = STAGGER_STEPS if args.stagger else 0
        began = time.perf_counter()
        timed_from = began + warmup * period
        step = 0
        while time.perf_counter() - began < args.duration + warmup * period:
            timed = step >= warmup
            for j, whole_batch in enumerate(batches):
                batch = whole_batch if timed else [p for p in whole_batch if p.join_step <= step]
                if not batch:
                    continue
                due = began + step * period + j * period / len(batches)
                if not args.max:
                    delay = due - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                await slots.acquire()
                if not args.max and timed:
                    result.late_s = max(result.late_s, time.perf_counter() - due)
                if time.perf_counter() - began >= args.duration + warmup * period:
                    slots.release()
                    break
                parts = [
                    reports.item(p.room_id, p.participant_id, t0_ms + step * STEP_MS,
                                 step * STEP_MS + p.phase_ms, p.loss)
                    for p in batch
                ]
                body = b"[" + b",".join(parts) + b"]"
                if timed:
                    result.sent_items += len(batch)
                task = asyncio.create_task(
                    send(clients[j % len(clients)], body, len(batch), timed))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            step += 1
        await asyncio.gather(*tasks)
        result.elapsed_s = time.perf_counter() - timed_from
    return result


def print_slow_phases(results: list[Result], speedup: float) -> None:
    """Where in the minute of report time the slowest 1 % of requests were sent (a minute's
    close of every session that started together lands in one 5-s step): the share of them in
    each step of the minute, and each step's p99."""
    timed = [(at, ms) for r in results for at, ms in zip(r.sent_at_s, r.latencies_ms,
                                                          strict=True) if at >= 0]
    if len(timed) < 100:
        return
    cut = percentile([ms for _, ms in timed], 99)
    step_s = STEP_MS / 1000 / speedup
    steps = 60_000 // STEP_MS
    by_step: dict[int, list[float]] = {k: [] for k in range(steps)}
    for at, ms in timed:
        by_step[int(at // step_s) % steps].append(ms)
    slow = {k: sum(ms > cut for ms in v) for k, v in by_step.items()}
    total = max(sum(slow.values()), 1)
    print("slowest 1 % by step of the minute (share; step p99 ms): " + ", ".join(
        f"{k}: {100 * slow[k] / total:.0f} % ({percentile(v, 99):.0f})"
        for k, v in by_step.items() if v))


def _proc(urls: list[str], token: str, people: list[Participant], args: argparse.Namespace,
          t0_ms: int, start_at: float) -> Result:
    began = time.process_time()
    result = asyncio.run(_run(urls, token, people, args, t0_ms, start_at))
    result.cpu_s = time.process_time() - began
    return result


def _template_row() -> dict[str, Any]:
    """A samples row of the fixture's Chromium report (the second report: a measured one)."""
    snapshots = json.loads(FIXTURE.read_text())
    state = None
    row: dict[str, Any] | None = None
    for snap in snapshots[:3]:
        item = IngestItem(0, "raw", "p", int(snap["t"]), report=snap["a"] + snap["b"])
        sample, state = process_report(state, item.timestamp_ms, item.report or [])
        if sample is not None:
            row = sample_row("raw", item, sample, int(time.time() * 1000))
    assert row is not None
    return row


def raw_insert_rates(database_url: str, batch: int, seconds: float) -> dict[str, float]:
    """Rows/s of the same sample rows inserted straight into `samples`, ``batch`` rows per
    transaction, no HTTP: through SQLAlchemy's executemany (dicts), and through the driver's
    fastest plain path (sqlite3 executemany of tuples; psycopg COPY)."""
    template = _template_row()
    columns = list(template)
    engine = create_store_engine(database_url)
    session_id = f"raw-insert-{time.time_ns()}"
    k = 0

    def rows() -> list[dict[str, Any]]:
        nonlocal k
        out = []
        for _ in range(batch):
            k += 1
            out.append({**template, "session_id": session_id,
                        "participant_id": f"p{k % 1000}", "timestamp_ms": 1_800_000_000_000 + k})
        return out

    def timed(insert: Any, prepare: Any = lambda chunk: chunk) -> float:
        """Rows per second of inserting (building the rows is not timed)."""
        inserted, spent = 0, 0.0
        while spent < seconds:
            chunk = prepare(rows())
            began = time.perf_counter()
            insert(chunk)
            spent += time.perf_counter() - began
            inserted += len(chunk)
        return inserted / spent

    def sqlalchemy_many(chunk: list[dict[str, Any]]) -> None:
        with write_transaction(engine) as conn:
            conn.execute(samples.insert(), chunk)

    rates = {"SQLAlchemy executemany": timed(sqlalchemy_many)}
    with engine.connect() as conn:
        driver = conn.connection.dbapi_connection
        assert driver is not None
        if engine.dialect.name == "sqlite":
            sql = (f"INSERT INTO samples ({', '.join(columns)}) "
                   f"VALUES ({', '.join('?' for _ in columns)})")

            def sqlite_many(chunk: list[tuple[Any, ...]]) -> None:
                driver.execute("BEGIN IMMEDIATE")
                driver.executemany(sql, chunk)
                driver.execute("COMMIT")

            rates["sqlite3 executemany of tuples"] = timed(
                sqlite_many, lambda chunk: [tuple(r[c] for c in columns) for r in chunk])
        else:
            copy_sql = f"COPY samples ({', '.join(columns)}) FROM STDIN"

            def copy(chunk: list[list[Any]]) -> None:
                with driver.cursor() as cursor, cursor.copy(copy_sql) as out:
                    for r in chunk:
                        out.write_row(r)
                driver.commit()

            driver.rollback()
            rates["psycopg COPY"] = timed(
                copy, lambda chunk: [[r[c] for c in columns] for r in chunk])
    engine.dispose()
    return rates


SESSION_STEPS = 720  # the stored sessions: 10 participants x 1 hour at 5 s


def store_samples(database_url: str, count: int) -> float:
    """Fill the database with ``count`` samples (and their minute rollups) of sessions of
    their own, a week old, as in a database that has been running for a while; returns s."""
    from sqlalchemy import text

    from callquality.store.rollups import rollup_rows
    from callquality.store.schema import sample_rollups

    began = time.perf_counter()
    template = _template_row()
    t0 = int(time.time() * 1000) - 7 * 86_400_000
    minute = [{**template, "session_id": "s", "participant_id": "p", "peer_connection_id": "d",
               "timestamp_ms": t0 + i * STEP_MS, "received_ms": t0} for i in range(12)]
    (rollup,) = rollup_rows(minute, t0)
    engine = create_store_engine(database_url)
    postgres = engine.dialect.name == "postgresql"
    # g = 0, 1, ..., hi - 1 (SQLite has no generate_series without its extension)
    series = ("generate_series(:lo, :hi - 1) AS c(g)" if postgres else
              "(WITH RECURSIVE c(g) AS (SELECT :lo UNION ALL SELECT g + 1 FROM c "
              "WHERE g + 1 < :hi) SELECT g FROM c) AS c")

    def fill(table: str, rows: int, keys: dict[str, str], constants: dict[str, Any]) -> None:
        """INSERT ``rows`` rows: key columns computed from g, the others constant."""
        names = [*keys, *constants]
        sql = text(f"INSERT INTO {table} ({', '.join(names)}) "
                   f"SELECT {', '.join(keys.values())}, "
                   f"{', '.join(':' + c for c in constants)} FROM {series}")
        for lo in range(0, rows, 250_000):
            with write_transaction(engine) as conn:
                conn.execute(sql, {**constants, "lo": lo, "hi": min(rows, lo + 250_000)})

    per_session = 10 * SESSION_STEPS
    minutes = SESSION_STEPS // 12

    def session_id(n: str) -> str:
        """Session ``n``'s id, 24 hex digits spread as new_session_id's random ones are, so
        that the stored rows' keys interleave with the new sessions' in every index keyed
        on the session, as in a real database (ids sorting apart from the new ones would
        keep ingest's index inserts off the stored pages)."""
        spread = f"(({n}) * 2654435761) % 4294967296"  # Knuth's multiplicative hash
        if postgres:
            return f"lpad(to_hex({spread}), 8, '0') || lpad(to_hex({n}), 16, '0')"
        return f"printf('%08x%016x', {spread}, {n})"

    timestamp = f"{t0} + ((g / 10) % {SESSION_STEPS}) * {STEP_MS}"
    fill("samples", count, {
        "session_id": session_id(f"g / {per_session}"),
        "participant_id": "'p' || CAST(g % 10 AS TEXT)",
        "peer_connection_id": "'default'",
        "timestamp_ms": timestamp,
        "received_ms": timestamp,
    }, {c: v for c, v in template.items()
        if c not in ("session_id", "participant_id", "peer_connection_id", "timestamp_ms",
                     "received_ms")})
    fill(sample_rollups.name, count // 12, {
        "session_id": session_id(f"g / {10 * minutes}"),
        "participant_id": "'p' || CAST(g % 10 AS TEXT)",
        "peer_connection_id": "'default'",
        "bucket": f"(g / 10) % {minutes}",
        "received_ms": f"{t0} + ((g / 10) % {minutes} + 1) * 60000",
    }, {c: v for c, v in rollup.items()
        if c not in ("session_id", "participant_id", "peer_connection_id", "bucket",
                     "received_ms")})
    fill("sessions", -(-count // per_session), {
        "session_id": session_id("g"),
    }, {"api_key": "stored", "room_id": "stored-room", "start_ms": t0,
        "last_report_ms": t0 + 3_600_000, "end_ms": t0 + 3_600_000, "rollup_origin_ms": t0})
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
    engine.dispose()
    return time.perf_counter() - began


class Watch:
    """Samples, once a second, the servers' RSS and the CPU of the database's processes."""

    def __init__(self, rss_kb: Callable[[], int], database_name: str | None) -> None:
        self.rss_kb_now = rss_kb
        self.database_name = database_name
        self.rss_kb: list[int] = []
        # pid -> (CPU at first sight, CPU at last sight, "ours" | "background" | "other")
        self.database: dict[int, list[Any]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._sample_database(first=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self._sample_database()

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            self.rss_kb.append(self.rss_kb_now())
            self._sample_database()

    def _sample_database(self, first: bool = False) -> None:
        if self.database_name is None:
            return
        for pid in postgres_pids():
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            cpu = cpu_seconds([pid])
            entry = self.database.get(pid)
            if entry is None:
                role = ("ours" if f" {self.database_name}" in cmdline else
                        "background" if _BACKGROUND.search(cmdline) else "other")
                # A process that appeared during the run counts from zero.
                self.database[pid] = [cpu if first else 0.0, cpu, role]
            else:
                entry[1] = cpu

    def database_cpu_s(self, role: str) -> float:
        return sum(b - a for a, b, r in self.database.values() if r == role)


_BACKGROUND = re.compile(r": (walwriter|checkpointer|background writer|autovacuum launcher|"
                         r"logical replication launcher|walsummarizer|startup)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--participants", type=int, default=2000)
    parser.add_argument("--room-size", type=int, default=10)
    parser.add_argument("--loss-share", type=float, default=0.2)
    parser.add_argument("--batch", type=int, default=50, help="items per request")
    parser.add_argument("--duration", type=float, default=60, help="seconds of sending")
    parser.add_argument("--speedup", type=float, default=1.0,
                        help="report-time seconds per wall-clock second")
    parser.add_argument("--max", action="store_true", help="closed loop: as fast as possible")
    parser.add_argument("--concurrency", type=int, default=16,
                        help="requests in flight per generator process")
    parser.add_argument("--procs", type=int, default=1, help="generator processes")
    parser.add_argument("--workers", type=int, default=1,
                        help="worker processes per server (API) process")
    parser.add_argument("--raw-seconds", type=float, default=5)
    parser.add_argument("--full-reports", action="store_true",
                        help="send whole reports (but certificates), as collector.js does with "
                             "fields 'all' and other senders do; default: the fields read")
    parser.add_argument("--stored-samples", type=int, default=0,
                        help="samples already stored (other sessions) before the run")
    parser.add_argument("--stagger", action="store_true",
                        help="rooms join over an untimed first minute (not with --max)")
    log_mode = parser.add_argument_group("log mode (INGEST_LOG; PostgreSQL)")
    log_mode.add_argument("--log", action="store_true",
                          help="API processes publish to a 3-node JetStream cluster, "
                               "processors store into PostgreSQL")
    log_mode.add_argument("--apis", type=int, default=2, help="API processes")
    log_mode.add_argument("--processors", type=int, default=1, help="processor processes")
    log_mode.add_argument("--partitions", type=int, default=8, help="INGEST_PARTITIONS")
    log_mode.add_argument("--replicas", type=int, default=3, help="INGEST_REPLICAS")
    log_mode.add_argument("--netns", action="store_true",
                          help="each API process in a network namespace of its own (root)")
    log_mode.add_argument("--drain-timeout", type=float, default=600,
                          help="seconds to wait, after the load, for the lag to drain")
    args = parser.parse_args()
    if args.log:
        args.backend = "postgresql"
    if args.stagger and args.max:
        parser.error("--stagger: the warm-up minute is real time; not with --max")

    offered = args.participants / (STEP_MS / 1000) * args.speedup
    sample = Reports(FIXTURE, full=args.full_reports).item("room-00000", "p000000", 0, 0.0, 0.0)
    print(f"machine: {machine()}")
    print(f"backend: {args.backend}, "
          + (f"log mode: {args.apis} API processes x {args.workers} workers, "
             f"{args.processors} processors, {args.partitions} partitions, "
             f"{args.replicas} replicas" if args.log else f"server workers: {args.workers}")
          + f", generator processes: {args.procs}, batch: {args.batch}, participants: "
          f"{args.participants}, duration: {args.duration:.0f} s, "
          + ("closed loop (--max)" if args.max else
             f"offered: {offered:.0f} reports/s (speedup {args.speedup:g})")
          + (f"; rooms join over {STAGGER_STEPS} untimed steps (--stagger)"
             if args.stagger else ""))
    print(f"reports: {'full (all but certificates)' if args.full_reports else 'the fields read'}"
          f", {len(sample):,} bytes of JSON per item")
    with database(args.backend) as url, ExitStack() as stack:
        engine = create_store_engine(url)
        migrate(engine)
        with write_transaction(engine) as conn:
            api_key, secret = create_api_key(conn, name="bench", now_ms=int(time.time() * 1000))
        engine.dispose()
        if args.stored_samples:
            took = store_samples(url, args.stored_samples)
            print(f"stored beforehand: {args.stored_samples:,} samples and their rollups "
                  f"({took:.0f} s)")
        token = make_token(api_key, secret, roles=("rtc",), ttl_s=24 * 3600)
        people = participants(args.participants, args.room_size, args.loss_share,
                              stagger=args.stagger)
        deployment = None
        if args.log:
            deployment = stack.enter_context(deploy(
                url, apis=args.apis, workers=args.workers, processors=args.processors,
                partitions=args.partitions, replicas=args.replicas, netns=args.netns))
            servers = deployment.apis
            print(f"API processes {deployment.where}; partitions held by the processors: "
                  f"{deployment.shares()}")
        else:
            servers = [stack.enter_context(serve(url, workers=args.workers))]
        watch = Watch(lambda: sum(s.rss_kb() for s in servers),
                      url.rsplit("/", 1)[1] if args.backend == "postgresql" else None)
        lag = LagWatch(deployment) if deployment is not None else None
        t0_ms = int(time.time() * 1000)
        start_at = time.time() + 1.0
        # Whole rooms per process, so that a room's reports stay in order.
        per = -(-len(people) // args.procs)
        per = -(-per // args.room_size) * args.room_size
        shares = [people[i : i + per] for i in range(0, len(people), per)]
        urls = [s.url for s in servers]
        with ProcessPoolExecutor(len(shares),
                                 mp_context=multiprocessing.get_context("fork")) as pool:
            futures = [pool.submit(_proc, urls, token, share, args, t0_ms, start_at)
                       for share in shares]
            if args.stagger:  # the figures start after the warm-up, as the senders' do
                time.sleep(max(0.0, start_at + STAGGER_STEPS * STEP_MS / 1000 / args.speedup
                               - time.time()))
            watch.start()
            server_cpu_before = sum(s.cpu_seconds() for s in servers)
            workers_before = {p: c for s in servers for p, c in s.worker_cpu_seconds().items()}
            if deployment is not None and lag is not None:
                roles_before = _log_cpu(deployment)
                lag.start()
            results = [f.result() for f in futures]
        server_cpu = sum(s.cpu_seconds() for s in servers) - server_cpu_before
        workers_after = {p: c for s in servers for p, c in s.worker_cpu_seconds().items()}
        worker_cpu = [workers_after[p] - workers_before.get(p, 0.0) for p in workers_after]
        accepted = sum(r.accepted for r in results)
        if deployment is not None and lag is not None:
            sent_s = time.monotonic()
            print(f"  load done; waiting for the lag to drain ({accepted:,} items accepted)",
                  flush=True)
            while not lag.drained(accepted) and time.monotonic() - sent_s < args.drain_timeout:
                time.sleep(0.2)
            drain_s = time.monotonic() - sent_s
            lag.stop()
            roles = {k: v - roles_before[k] for k, v in _log_cpu(deployment).items()}
            shares_after = deployment.shares()
        watch.stop()
        peak_kb = sum(s.peak_rss_kb() for s in servers)
        if deployment is not None:
            samples_stored = _count_samples(url)
        stack.close()
        raw = raw_insert_rates(url, args.batch, args.raw_seconds)

    sent = sum(r.sent_items for r in results)
    elapsed = max(r.elapsed_s for r in results)
    latencies = [ms for r in results for ms in r.latencies_ms]
    errors: Counter[str] = Counter()
    for r in results:
        errors.update(r.errors)
    rate = accepted / elapsed
    print(f"sent {sent} reports, accepted {accepted}, duplicates "
          f"{sum(r.duplicates for r in results)}, errors {dict(errors) or 0}")
    print(f"accepted: {rate:,.0f} reports/s over {elapsed:.1f} s "
          f"({rate / PEERMETRICS_EVENTS_PER_S:.1f}x peermetrics' {PEERMETRICS_EVENTS_PER_S}/s)")
    if not args.max:
        late = max(r.late_s for r in results)
        verdict = "kept up" if late < 1.0 else "FELL BEHIND"
        print(f"schedule: worst send lag {late:.2f} s ({verdict})")
    print(f"ack latency: p50 {percentile(latencies, 50):.0f} ms, "
          f"p99 {percentile(latencies, 99):.0f} ms, max {max(latencies, default=0):.0f} ms "
          f"({len(latencies)} requests of {args.batch} reports)")
    print_slow_phases(results, args.speedup)
    # CPU time per accepted report: less sensitive than the rate to other work on the machine.
    per_report = 1e6 / max(accepted, 1)
    generator_us = sum(r.cpu_s for r in results) * per_report
    ours = watch.database_cpu_s("ours") * per_report
    background = watch.database_cpu_s("background") * per_report
    other = watch.database_cpu_s("other") * per_report
    postgres = (f"PostgreSQL {ours + background:.0f} µs (this database's backends {ours:.0f}"
                f" + WAL writer, checkpointer... {background:.0f}; other databases' backends, "
                f"not counted: {other:.0f})")
    if deployment is not None and lag is not None:
        _print_log_figures(lag, accepted, elapsed, drain_s, roles, per_report, samples_stored,
                           shares_after)
        total = sum(roles.values()) * per_report + ours + background
        print(f"CPU per accepted report, from the first send until drained: API processes "
              f"{roles['api'] * per_report:.0f} µs, processors "
              f"{roles['processors'] * per_report:.0f} µs, NATS servers (3) "
              f"{roles['nats'] * per_report:.0f} µs, {postgres}; all of them {total:.0f} µs; "
              f"load generator {generator_us:.0f} µs")
    else:
        server_us = server_cpu * per_report
        line = f"CPU per accepted report: server {server_us:.0f} µs"
        if args.backend == "postgresql":
            line += f", {postgres}; server + PostgreSQL {server_us + ours + background:.0f} µs"
        print(line + f"; load generator {generator_us:.0f} µs")
    if len(worker_cpu) > 1:  # how evenly the workers shared the work (their CPU time)
        worker_shares = sorted((100 * c / max(sum(worker_cpu), 1e-9) for c in worker_cpu),
                               reverse=True)
        print("server workers' shares of their CPU time: "
              + " / ".join(f"{s:.0f} %" for s in worker_shares))
    rss = watch.rss_kb
    if rss:
        marks = sorted({min(4, len(rss) - 1), *range(59, len(rss), 60), len(rss) - 1})
        print("server RSS: " + ", ".join(f"{rss[i] / 1024:.0f} MB at {i + 1} s" for i in marks)
              + f"; peak (VmHWM, summed over processes) {peak_kb / 1024:.0f} MB")
    for how, raw_rate in raw.items():
        print(f"raw insert ({how}, {args.batch} rows/transaction, no HTTP): "
              f"{raw_rate:,.0f} rows/s; HTTP ingest / raw insert = {rate / raw_rate:.3f}")


def _log_cpu(deployment: Deployment) -> dict[str, float]:
    """CPU seconds so far of each role of the log mode (PostgreSQL apart: Watch)."""
    return {"api": sum(s.cpu_seconds() for s in deployment.apis),
            "processors": sum(p.cpu_seconds() for p in deployment.processors),
            "nats": deployment.cluster.cpu_seconds()}


def _count_samples(database_url: str) -> int:
    engine = create_store_engine(database_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(samples)).scalar_one())
    finally:
        engine.dispose()


def _print_log_figures(lag: LagWatch, accepted: int, elapsed: float, drain_s: float,
                       roles: dict[str, float], per_report: float, samples_stored: int,
                       shares: str) -> None:
    """What the log mode adds: stored/s, the lag's peak and drain, the processors' balance."""
    stored = lag.stored()
    points = lag.points
    at_end = max((p for p in points if p.t_s <= elapsed), key=lambda p: p.t_s, default=None)
    peak = max(points, key=lambda p: p.lag, default=None)
    verdict = "drained" if lag.drained(accepted) else "DID NOT DRAIN"
    print(f"stored by the processors: {stored:,} of {accepted:,} accepted ({verdict}), "
          f"{samples_stored:,} sample rows; "
          f"{stored / (elapsed + drain_s):,.0f} items/s from the first send until drained"
          + (f", {at_end.stored / max(at_end.t_s, 1e-9):,.0f}/s while sending"
             if at_end else ""))
    if peak is not None:
        print(f"consumer lag: peak {peak.lag:,} messages at {peak.t_s:.0f} s, "
              f"{at_end.lag if at_end else 0:,} when the load stopped; drained "
              f"{drain_s:.1f} s after it")
    print("consumer lag every 5 s: "
          + ", ".join(f"{p.lag:,}" for p in points[4::5]))
    per = [c["stored"] + c["duplicate"] for c in lag.per_processor]
    print(f"processors: items taken {' / '.join(f'{n:,}' for n in per)}, partitions held "
          f"{shares}, dropped {sum(c['dropped'] for c in lag.per_processor)}")


if __name__ == "__main__":
    main()
