"""Retention on PostgreSQL: dropping a day's partition against the DELETE it replaces.

    .venv/bin/python bench/retention.py [--rows 2000000] [--fresh 200000]

Each mode on a new database: ``delete`` at revision 0014 (samples a plain table, retention a
``DELETE ... WHERE received_ms < cutoff``), ``drop`` at the newest revision (samples
partitioned by day, ``sample_partitions.drop_expired``). Both hold ``--rows`` expired rows
(yesterday's, every stat column set) and ``--fresh`` rows of today, vacuumed and analysed.
While the purge runs, a writer inserts 20 rows of today every 50 ms (COPY, as ingest does)
in its own transactions. Printed per mode: the purge's time, the VACUUM it leaves to do, and
the writer's batch latency (p50, max) before and during the purge. ``--mode migrate``: the
same rows at revision 0014, and the time migration 0015 takes to partition them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import threading
import time
from typing import Any

import sqlalchemy as sa
from _common import database
from alembic import command
from alembic.config import Config

from callquality.store import bulk, sample_partitions
from callquality.store.db import MIGRATIONS, create_store_engine, migrate, write_transaction
from callquality.store.schema import samples

DAY = sample_partitions.DAY_MS
SCORE_INPUTS = '{"audio":{"rtt_ms":40.0,"jitter_ms":5.0,"loss_pct":0.5,"codec":"opus"},' \
    '"video":{"bitrate_bps":800000.0,"frame_rate":30.0,"width":640,"height":480}}'


def _fill(engine: sa.Engine, first: int, rows: int, day: int) -> None:
    """``rows`` rows of ``day`` (timestamps spread over it), ids from ``first``."""
    stats = [c.name for c in samples.c if c.name.startswith(("audio_s", "audio_r", "video_"))
             and c.name != "video_vq" and isinstance(c.type, (sa.Float, sa.BigInteger))]
    values = ", ".join(
        f"(i % 997)::{'float8' if isinstance(samples.c[c].type, sa.Float) else 'bigint'}"
        for c in stats
    )
    with write_transaction(engine) as conn:
        conn.execute(sa.text(
            "INSERT INTO samples (session_id, participant_id, peer_connection_id, timestamp_ms,"
            " received_ms, interval_ms, codec_audio, codec_video, audio_mos, video_vq,"
            f" score_inputs, {', '.join(stats)}) "
            "SELECT 's' || (i / 6000), 'p' || (i % 200), 'pc', ts, ts + 40, 5000, 'opus', 'VP8',"
            f" 4.1, 3.9, :inputs, {values} "
            "FROM generate_series(CAST(:first AS bigint), CAST(:last AS bigint)) AS i, "
            "LATERAL (SELECT CAST(:lo AS bigint)"
            " + (i - CAST(:first AS bigint)) * CAST(:step AS bigint) AS ts) t"
        ), {"first": first, "last": first + rows - 1, "lo": day * DAY,
            "step": max(1, DAY // rows), "inputs": SCORE_INPUTS})


class Writer(threading.Thread):
    """Ingest's write: a COPY of 20 rows of today every 50 ms, each batch timed."""

    def __init__(self, engine: sa.Engine, today: int) -> None:
        super().__init__(daemon=True)
        self.engine, self.today = engine, today
        self.latencies: list[tuple[float, float]] = []  # (start, seconds)
        self.stop = threading.Event()

    def run(self) -> None:
        n = 0
        while not self.stop.is_set():
            rows: list[dict[str, Any]] = [
                {"session_id": f"w{n}", "participant_id": f"p{k}", "peer_connection_id": "pc",
                 "timestamp_ms": self.today * DAY + 3_600_000 + n,
                 "received_ms": self.today * DAY + 3_600_000 + n}
                for k in range(20)
            ]
            began = time.monotonic()
            with write_transaction(self.engine) as conn:
                bulk.copy_rows(conn, samples, rows)
            self.latencies.append((began, time.monotonic() - began))
            n += 1
            time.sleep(0.05)

    def between(self, start: float, end: float) -> list[float]:
        return [s for t, s in self.latencies if start <= t <= end]


def _upgrade(engine: sa.Engine, revision: str) -> None:
    with engine.connect() as conn, conn.begin():
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = conn
        command.upgrade(config, revision)


def _run(mode: str, rows: int, fresh: int) -> None:
    today = int(time.time() * 1000) // DAY
    with database("postgresql") as url:
        engine = create_store_engine(url)
        if mode == "drop":
            migrate(engine)
        else:
            _upgrade(engine, "0014")
        _fill(engine, 0, rows, today - 1)
        _fill(engine, rows, fresh, today)
        if mode == "migrate":
            began = time.monotonic()
            _upgrade(engine, "0015")
            print(f"migrate: 0014 -> 0015 of {rows + fresh} rows in"
                  f" {time.monotonic() - began:.1f} s; load average {os.getloadavg()[0]:.2f}")
            engine.dispose()
            return
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM ANALYZE samples"))
        writer = Writer(engine, today)
        writer.start()
        time.sleep(3)
        began = time.monotonic()
        cpu = time.process_time()
        if mode == "delete":
            with write_transaction(engine) as conn:
                purged = conn.execute(
                    sa.delete(samples).where(samples.c.received_ms < today * DAY)).rowcount
        else:
            purged = sample_partitions.drop_expired(engine, today * DAY)
        ended = time.monotonic()
        time.sleep(3)
        writer.stop.set()
        writer.join()
        vacuum = time.monotonic()
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM samples"))
        vacuum = time.monotonic() - vacuum
        before = writer.between(0, began)
        during = writer.between(began - 0.06, ended + 0.06)
        print(
            f"{mode}: {purged} rows purged in {ended - began:.2f} s"
            f" (this process {time.process_time() - cpu:.2f} s CPU), VACUUM after {vacuum:.2f} s;"
            f" writer batches before p50 {1000 * statistics.median(before):.1f} ms"
            f" max {1000 * max(before):.1f} ms, during ({len(during)}) max"
            f" {1000 * max(during, default=0):.1f} ms; load average {os.getloadavg()[0]:.2f}",
            flush=True,
        )
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--fresh", type=int, default=200_000)
    parser.add_argument("--mode", choices=["delete", "drop", "both", "migrate"], default="both")
    args = parser.parse_args()
    for mode in ("delete", "drop") if args.mode == "both" else (args.mode,):
        _run(mode, args.rows, args.fresh)


if __name__ == "__main__":
    main()
