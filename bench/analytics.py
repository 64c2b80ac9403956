"""Fleet analytics at scale (issue 16): participant-session summaries over 90 days, written in
bulk straight into participant_summaries (as refreshed summaries would be) with their daily
rollups (service/rollups.py's change of each, added once), then the analytics queries timed
in-process against the database (query/analytics.py, the code the API runs after its
refresh of dirty rows; no HTTP).

    python bench/analytics.py --rows 1000000 [--database-url postgresql+psycopg://...]

Prints the write time, the time of one refresh of 500 of the last day's summaries (what a
read after ingest pays: their rollups' part taken back and added again), each query's p50 and
max over --repeat runs, and the Overview's eight queries together (what GET
/v2/analytics/quality x7 and /worst run). --no-rollups answers from the summaries alone.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, select, update

from callquality.query import analytics
from callquality.service import rollups
from callquality.service.summaries import refresh_dirty
from callquality.store import bulk
from callquality.store.analytics import Scope
from callquality.store.db import create_store_engine, migrate, read_transaction, write_transaction
from callquality.store.schema import participant_summaries

DAY_MS = 86_400_000
# Realistic mixes (weights): a web product with some native SDK traffic.
BROWSERS = {"Chrome": 60, "Safari": 15, "Edge": 10, "Firefox": 8, "Samsung Internet": 4,
            None: 3}
OS = {"Windows": 40, "macOS": 20, "iOS": 15, "Android": 18, "Linux": 5, None: 2}
DEVICES = {"desktop": 65, "mobile": 30, "tablet": 5}
SDKS = {"videosdk-js": 70, "videosdk-react-native": 15, "videosdk-android": 8,
        "videosdk-ios": 7}
CONNECTIONS = {"host": 20, "srflx": 60, "relay/udp": 12, "relay/tcp": 6, "relay/tls": 2}
NETWORKS = {"wifi": 55, "ethernet": 25, "cellular": 15, None: 5}
COUNTRIES = {c: w for c, w in zip(
    ["US", "IN", "DE", "GB", "BR", "FR", "JP", "CA", "AU", "NL", "ES", "IT", "MX", "SG",
     "ZA", "NG", "KR", "SE", "PL", "ID"],
    [25, 15, 8, 7, 6, 5, 4, 4, 3, 3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1], strict=True)}
ASNS = [f"AS{n} ISP-{n}" for n in range(7000, 7060)]
CODECS = {"opus": 95, "PCMU": 3, "G722": 2}
CAUSES = ["network loss", "latency", "jitter", "concealment", "sender bandwidth", "freezes"]


def _pick(rng: random.Random, weights: dict[Any, int]) -> Any:
    return rng.choices(list(weights), list(weights.values()))[0]


def _row(rng: random.Random, api_key: str, n: int, start_ms: int) -> dict[str, Any]:
    connection = _pick(rng, CONNECTIONS)
    base_poor = 0.02 + (0.10 if connection.startswith("relay/tcp") else 0) + (
        0.05 if rng.random() < 0.15 else 0)
    audio_poor = rng.random() < base_poor
    video = rng.random() < 0.7
    video_poor = video and rng.random() < base_poor * 1.5
    measured = rng.randint(60, 3600) * 1000
    mos = round(rng.uniform(2.0, 3.4) if audio_poor else rng.uniform(3.8, 4.45), 2)
    vq = round(rng.uniform(1.5, 2.9) if video_poor else rng.uniform(3.0, 4.6), 2) if video else None
    cause = rng.choice(CAUSES) if audio_poor or video_poor else None
    browser = _pick(rng, BROWSERS)
    return {
        "session_id": f"s{n // 4:08d}", "participant_id": f"p{n % 4}", "api_key": api_key,
        "room_id": f"room-{n % 5000}", "dirty": 0, "in_rollups": 1,
        "updated_ms": start_ms + measured,
        "start_ms": start_ms, "end_ms": start_ms + measured, "day": start_ms // DAY_MS,
        "hour": start_ms // 3_600_000, "measured_ms": measured,
        "audio_scored_ms": measured, "audio_poor_ms": measured // 4 if audio_poor else 0,
        "video_scored_ms": measured if video else 0,
        "video_poor_ms": measured // 4 if video_poor else 0,
        "audio_poor": int(audio_poor), "video_poor": int(video_poor) if video else None,
        "audio_mos_mean": mos, "audio_mos_p5": round(mos - 0.3, 2), "video_vq_mean": vq,
        "video_vq_p5": None if vq is None else round(vq - 0.3, 2),
        "loss_pct_p50": 0.5, "loss_pct_p95": 3.0, "rtt_ms_p50": 60.0, "rtt_ms_p95": 180.0,
        "jitter_ms_p50": 4.0, "jitter_ms_p95": 15.0, "freeze_ms": 0.0,
        "likely_cause": cause, "audio_cause": cause if audio_poor else None,
        "video_cause": cause if video_poor else None,
        "browser": browser, "browser_version": None if browser is None else str(
            rng.randint(115, 131)),
        "os": _pick(rng, OS), "device": _pick(rng, DEVICES), "sdk": _pick(rng, SDKS),
        "sdk_version": f"0.{rng.randint(1, 9)}.{rng.randint(0, 20)}",
        "connection": connection,
        "turn_transport": connection.split("/")[1] if "/" in connection else None,
        "network": _pick(rng, NETWORKS), "country": _pick(rng, COUNTRIES),
        "asn": rng.choice(ASNS), "codec_audio": _pick(rng, CODECS),
        "codec_video": "VP8" if video else None,
    }


def write(engine: Any, api_key: str, rows: int, now_ms: int) -> float:
    """Write ``rows`` summaries spread over the 90 days before now; seconds taken."""
    rng = random.Random(16)
    started = time.perf_counter()
    chunk: list[dict[str, Any]] = []
    delta: dict[Any, rollups.Totals] = {}
    for n in range(rows):
        chunk.append(_row(rng, api_key, n, now_ms - rng.randint(0, 90 * DAY_MS - 1)))
        if len(chunk) == 20_000 or n == rows - 1:
            with write_transaction(engine) as conn:
                bulk.insert_many(conn, participant_summaries, chunk)
            for key, totals in rollups.change([], chunk).items():
                delta.setdefault(key, rollups.Totals()).add(totals)
            chunk = []
    with write_transaction(engine) as conn:
        rollups.apply(conn, delta)
    return time.perf_counter() - started


def refresh(engine: Any, api_key: str, now_ms: int) -> float:
    """Mark 500 summaries of the last day dirty and refresh them (they have no samples, so
    their figures stay, but their rollup rows are read, changed twice and written); ms."""
    t = participant_summaries.c
    with write_transaction(engine) as conn:
        keys = conn.execute(
            select(t.session_id, t.participant_id)
            .where(t.api_key == api_key, t.day == now_ms // DAY_MS).limit(500)).all()
        conn.execute(update(participant_summaries).where(
            t.session_id == bindparam("s"), t.participant_id == bindparam("p")).values(dirty=1),
            [{"s": s, "p": p} for s, p in keys])
    started = time.perf_counter()
    refresh_dirty(engine, api_key, now_ms)
    return (time.perf_counter() - started) * 1000


def _time(engine: Any, work: Any, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        started = time.perf_counter()
        with read_transaction(engine) as conn:
            work(conn)
        out.append((time.perf_counter() - started) * 1000)
    return sorted(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--no-rollups", action="store_true")
    args = parser.parse_args()
    fast = not args.no_rollups
    url = args.database_url or f"sqlite:///{Path(tempfile.mkdtemp()) / 'analytics.db'}"
    engine = create_store_engine(url)
    migrate(engine)
    api_key = f"bench{int(time.time())}"
    now = int(time.time() * 1000)
    seconds = write(engine, api_key, args.rows, now)
    print(f"database: {engine.dialect.name}; {args.rows} participant-sessions and their rollups "
          f"written in {seconds:.1f} s ({args.rows / seconds:,.0f}/s)")
    print(f"refresh of 500 summaries of the last day: {refresh(engine, api_key, now):.0f} ms")
    whole = Scope(api_key, now - 90 * DAY_MS, now + 1, {}, None)
    week = Scope(api_key, now - 7 * DAY_MS, now + 1, {}, None)
    cases = {
        "groupBy=browser, 90 days": lambda c: analytics.quality(
            c, whole, ["browser"], use_rollups=fast),
        "groupBy=day, 90 days": lambda c: analytics.quality(c, whole, ["day"], use_rollups=fast),
        "groupBy=day,country, 90 days": lambda c: analytics.quality(
            c, whole, ["day", "country"], use_rollups=fast),
        "groupBy=os, kind=video, browser=Safari, 90 days": lambda c: analytics.quality(
            c, Scope(api_key, whole.from_ms, whole.to_ms, {"browser": ["Safari"]}, "video"),
            ["os"], use_rollups=fast),
        "worst, 90 days": lambda c: analytics.worst(c, whole, 10, 0),
    }

    def overview(scope: Scope) -> Any:
        def run(c: Any) -> None:
            for g in (["day"], [], ["browser"], ["os"], ["connection"], ["country"], ["codec"]):
                analytics.quality(c, scope, g, use_rollups=fast)
            analytics.worst(c, scope, 10, 0)
        return run

    cases["Overview (8 queries), 7 days"] = overview(week)
    cases["Overview (8 queries), 90 days"] = overview(whole)
    for name, work in cases.items():
        times = _time(engine, work, args.repeat)
        print(f"{name:50s} p50 {times[len(times) // 2]:8.1f} ms   max {times[-1]:8.1f} ms")


if __name__ == "__main__":
    main()
