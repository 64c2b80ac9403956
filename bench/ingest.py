"""Ingest benchmark: N participants send real Chromium getStats() reports to a real server.

    .venv/bin/python bench/ingest.py [--backend sqlite|postgresql] [--participants 2000]
        [--batch 50] [--duration 60] [--workers 1] [--procs 1] [--speedup 1] [--max]

Each participant sends one raw report every 5 s of *report time*: the fixture's `a` and `b`
stats of one snapshot as collector.js sends them by default (31 stats objects, ~13 KB: all but
the 4 certificates), its counters advanced at the rates the fixture itself shows, and for
one participant in five a loss of 1-8 % (packetsLost rising in inbound-rtp and
remote-inbound-rtp). Participants sit in rooms of --room-size; an SFU-side collector posts
--batch participants' reports per request. --speedup S compresses time: report timestamps still
advance 5 s per step, but a step takes 5/S s of wall clock. --max sends as fast as the server
answers (closed loop, --concurrency requests in flight per process).

Printed: reports/s accepted (wall clock), acknowledge latency p50/p99 (request sent -> 202),
errors by status, the server's resident memory (start, end, and peak VmHWM summed over the
server process and its workers), and, in the same run, the rate of inserting the same sample
rows straight into the samples table (SQLAlchemy executemany, --batch rows per transaction,
no HTTP), with the ratio of the two.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import random
import threading
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
from _common import ROOT, cpu_seconds, database, machine, percentile, postgres_pids, serve

from callquality.ingest.items import IngestItem
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

    def __init__(self, fixture: Path, snapshot: int = 3,
                 exclude_types: tuple[str, ...] = ("certificate",)) -> None:
        snapshots = json.loads(fixture.read_text())
        first, last, base = snapshots[0], snapshots[-1], snapshots[snapshot]
        # What collector.js sends by default: the whole report but its certificates.
        self.template: list[dict[str, Any]] = [
            s for s in base["a"] + base["b"] if s["type"] not in exclude_types
        ]
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
        return orjson.dumps({"roomId": room_id, "participantId": participant_id,
                             "timestamp": timestamp_ms, "report": self.template})


@dataclass
class Participant:
    room_id: str
    participant_id: str
    loss: float
    phase_ms: float  # where in the fixture's counter history this participant starts


@dataclass
class Result:
    accepted: int = 0
    duplicates: int = 0
    sent_items: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    elapsed_s: float = 0.0
    late_s: float = 0.0  # worst lag of a send behind its schedule
    cpu_s: float = 0.0  # the generator process's own CPU time


def participants(n: int, room_size: int, loss_share: float, seed: int = 7) -> list[Participant]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        loss = rng.choice(LOSS_LEVELS) if rng.random() < loss_share else 0.0
        out.append(Participant(f"room-{i // room_size:05d}", f"p{i:06d}", loss,
                               rng.uniform(0, 60_000)))
    return out


async def _run(url: str, token: str, people: list[Participant], args: argparse.Namespace,
               t0_ms: int, start_at: float) -> Result:
    reports = Reports(FIXTURE)
    result = Result()
    batches = [people[i : i + args.batch] for i in range(0, len(people), args.batch)]
    period = STEP_MS / 1000 / args.speedup
    slots = asyncio.Semaphore(args.concurrency)
    limits = httpx.Limits(max_connections=args.concurrency,
                          max_keepalive_connections=args.concurrency)
    async with httpx.AsyncClient(base_url=url, headers={
        "Authorization": token, "Content-Type": "application/json"}, timeout=60,
        limits=limits) as client:

        async def send(body: bytes, n: int) -> None:
            try:
                t = time.perf_counter()
                response = await client.post("/v2/stats", content=body)
                ms = (time.perf_counter() - t) * 1000
                if response.status_code == 202:
                    answer = response.json()
                    result.accepted += answer["accepted"]
                    result.duplicates += answer["duplicates"]
                    result.latencies_ms.append(ms)
                else:
                    result.errors[str(response.status_code)] += n
            except httpx.HTTPError as exc:
                result.errors[type(exc).__name__] += n
            finally:
                slots.release()

        tasks: set[asyncio.Task[None]] = set()
        await asyncio.sleep(max(0.0, start_at - time.time()))
        began = time.perf_counter()
        step = 0
        while time.perf_counter() - began < args.duration:
            for j, batch in enumerate(batches):
                due = began + step * period + j * period / len(batches)
                if not args.max:
                    delay = due - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                await slots.acquire()
                if not args.max:
                    result.late_s = max(result.late_s, time.perf_counter() - due)
                if time.perf_counter() - began >= args.duration:
                    slots.release()
                    break
                parts = [
                    reports.item(p.room_id, p.participant_id, t0_ms + step * STEP_MS,
                                 step * STEP_MS + p.phase_ms, p.loss)
                    for p in batch
                ]
                body = b"[" + b",".join(parts) + b"]"
                result.sent_items += len(batch)
                task = asyncio.create_task(send(body, len(batch)))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            step += 1
        await asyncio.gather(*tasks)
        result.elapsed_s = time.perf_counter() - began
    return result


def _proc(url: str, token: str, people: list[Participant], args: argparse.Namespace,
          t0_ms: int, start_at: float) -> Result:
    began = time.process_time()
    result = asyncio.run(_run(url, token, people, args, t0_ms, start_at))
    result.cpu_s = time.process_time() - began
    return result


def raw_insert_rate(database_url: str, batch: int, seconds: float) -> float:
    """Rows/s of the same sample rows inserted straight into `samples` (no HTTP)."""
    snapshots = json.loads(FIXTURE.read_text())
    state = None
    row_template: dict[str, Any] | None = None
    for snap in snapshots[:3]:
        item = IngestItem(0, "raw", "p", int(snap["t"]), report=snap["a"] + snap["b"])
        sample, state = process_report(state, item.timestamp_ms, item.report or [])
        if sample is not None:
            row_template = sample_row("raw", item, sample, int(time.time() * 1000))
    assert row_template is not None
    engine = create_store_engine(database_url)
    inserted = 0
    began = time.perf_counter()
    k = 0
    while time.perf_counter() - began < seconds:
        rows = []
        for _ in range(batch):
            k += 1
            rows.append({**row_template, "session_id": "raw-insert-bench",
                         "participant_id": f"p{k % 1000}", "timestamp_ms": 1_800_000_000_000 + k})
        with write_transaction(engine) as conn:
            conn.execute(samples.insert(), rows)
        inserted += len(rows)
    rate = inserted / (time.perf_counter() - began)
    engine.dispose()
    return rate


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
    parser.add_argument("--workers", type=int, default=1, help="server worker processes")
    parser.add_argument("--raw-seconds", type=float, default=5)
    args = parser.parse_args()

    offered = args.participants / (STEP_MS / 1000) * args.speedup
    print(f"machine: {machine()}")
    print(f"backend: {args.backend}, server workers: {args.workers}, generator processes: "
          f"{args.procs}, batch: {args.batch}, participants: {args.participants}, "
          f"duration: {args.duration:.0f} s, "
          + ("closed loop (--max)" if args.max else
             f"offered: {offered:.0f} reports/s (speedup {args.speedup:g})"))
    with database(args.backend) as url:
        engine = create_store_engine(url)
        migrate(engine)
        with write_transaction(engine) as conn:
            api_key, secret = create_api_key(conn, name="bench", now_ms=int(time.time() * 1000))
        engine.dispose()
        token = make_token(api_key, secret, roles=("rtc",), ttl_s=24 * 3600)
        people = participants(args.participants, args.room_size, args.loss_share)
        with serve(url, workers=args.workers) as server:
            rss: list[int] = []
            stop = threading.Event()

            def watch() -> None:
                while not stop.wait(1.0):
                    rss.append(server.rss_kb())

            watcher = threading.Thread(target=watch, daemon=True)
            watcher.start()
            t0_ms = int(time.time() * 1000)
            start_at = time.time() + 1.0
            # Whole rooms per process, so that a room's reports stay in order.
            per = -(-len(people) // args.procs)
            per = -(-per // args.room_size) * args.room_size
            shares = [people[i : i + per] for i in range(0, len(people), per)]
            database_pids = postgres_pids() if args.backend == "postgresql" else []
            database_cpu = {p: cpu_seconds([p]) for p in database_pids}
            cpu_before = (server.cpu_seconds(), sum(database_cpu.values()))
            with ProcessPoolExecutor(len(shares),
                                     mp_context=multiprocessing.get_context("fork")) as pool:
                futures = [pool.submit(_proc, server.url, token, share, args, t0_ms, start_at)
                           for share in shares]
                results = [f.result() for f in futures]
            # Backends that started during the run (the server's pool) count from zero.
            database_pids = postgres_pids() if args.backend == "postgresql" else []
            cpu_after = (server.cpu_seconds(), cpu_seconds(database_pids)
                         - sum(database_cpu.get(p, 0.0) for p in database_pids)
                         + sum(database_cpu.values()))
            stop.set()
            watcher.join()
            peak_kb = server.peak_rss_kb()
        raw = raw_insert_rate(url, args.batch, args.raw_seconds)

    accepted = sum(r.accepted for r in results)
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
    # CPU time per accepted report: less sensitive than the rate to other work on the machine.
    server_us, database_us = (1e6 * (b - a) / max(accepted, 1)
                              for a, b in zip(cpu_before, cpu_after, strict=True))
    generator_us = 1e6 * sum(r.cpu_s for r in results) / max(accepted, 1)
    print(f"CPU per accepted report: server {server_us:.0f} µs"
          + (f", PostgreSQL {database_us:.0f} µs" if args.backend == "postgresql" else "")
          + f", load generator {generator_us:.0f} µs")
    if rss:
        early = rss[min(len(rss) - 1, 5)]
        print(f"server RSS: {early / 1024:.0f} MB at 5 s, {rss[-1] / 1024:.0f} MB at "
              f"the end, peak (VmHWM, summed over processes) {peak_kb / 1024:.0f} MB")
        if len(rss) > 120:
            print("server RSS each minute: "
                  + ", ".join(f"{rss[i] / 1024:.0f}" for i in range(0, len(rss), 60)) + " MB")
    print(f"raw insert (executemany, {args.batch} rows/transaction, no HTTP): "
          f"{raw:,.0f} rows/s; HTTP ingest / raw insert = {rate / raw:.2f}")


if __name__ == "__main__":
    main()
