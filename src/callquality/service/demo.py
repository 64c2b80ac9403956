"""A realistic demo session: four participants for ten minutes, one on a bad network."""

from __future__ import annotations

import math
import random
import time

from sqlalchemy import Engine

from callquality.config import Settings
from callquality.domain.sample import DirectionStats, MediaStats, Sample
from callquality.ingest.items import IngestItem
from callquality.query.sessions import list_sessions
from callquality.service.ingest import ingest
from callquality.store.db import read_transaction

DEMO_ROOM = "demo-room"
INTERVAL_MS = 5000
# (participant id, name, base RTT ms, base loss %, video kbit/s, joins at s, leaves at s)
PEOPLE = (
    ("p-ana", "Ana (office fibre)", 18.0, 0.0, 1200, 0, 600),
    ("p-ben", "Ben (home Wi-Fi)", 45.0, 0.5, 900, 20, 600),
    ("p-chloe", "Chloé (train, 4G)", 160.0, 6.0, 250, 60, 540),
    ("p-dev", "Dev (rejoined)", 30.0, 0.2, 1000, 0, 600),
)
DEV_AWAY = (200, 290)  # Dev drops out for 90 s, then rejoins


def _direction(
    rng: random.Random, rtt: float, loss_pct: float, kbps: float, kind: str, send: bool
) -> DirectionStats:
    pps = 50 if kind == "audio" else max(30.0, kbps / 8)
    packets = int(pps * INTERVAL_MS / 1000)
    lost = int(packets * max(0.0, rng.gauss(loss_pct, loss_pct / 3 + 0.01)) / 100)
    bitrate = (32000.0 if kind == "audio" else kbps * 1000) * rng.uniform(0.9, 1.05)
    video = kind == "video"
    low = kbps < 500
    return DirectionStats(
        packets=packets - (0 if send else lost),
        packets_lost=lost,
        bitrate_bps=bitrate,
        rtt_ms=max(1.0, rng.gauss(rtt, rtt / 6)) if send else None,
        jitter_ms=max(0.1, rng.gauss(rtt / 10, rtt / 30)),
        width=(320 if low else 1280) if video else None,
        height=(180 if low else 720) if video else None,
        frame_rate=(rng.uniform(12, 20) if low else rng.uniform(28, 30)) if video else None,
        freeze_count=(1 if low and rng.random() < 0.15 else 0) if video and not send else None,
        freeze_duration_ms=(rng.uniform(400, 1500) if low and rng.random() < 0.15 else 0.0)
        if video and not send
        else None,
        concealed_ratio=min(1.0, loss_pct / 100 * 1.2) if kind == "audio" and not send else None,
        quality_limitation_reason=("bandwidth" if low else "none") if video and send else None,
    )


def demo_items(start_ms: int, seed: int = 7) -> list[IngestItem]:
    """The demo call's samples, deterministic for a seed."""
    rng = random.Random(seed)
    items: list[IngestItem] = []
    for person_id, name, rtt, loss, kbps, joins, leaves in PEOPLE:
        for t in range(joins + 5, leaves + 1, INTERVAL_MS // 1000):
            if person_id == "p-dev" and DEV_AWAY[0] < t <= DEV_AWAY[1]:
                continue
            # The bad network gets worse in the middle of the call.
            surge = 1 + 1.5 * math.exp(-(((t - 300) / 60) ** 2)) if loss > 1 else 1.0
            sample = Sample(
                interval_ms=INTERVAL_MS,
                audio=MediaStats(
                    send=_direction(rng, rtt * surge, loss * surge, kbps, "audio", True),
                    recv=_direction(rng, rtt * surge, loss * surge, kbps, "audio", False),
                ),
                video=MediaStats(
                    send=_direction(rng, rtt * surge, loss * surge, kbps, "video", True),
                    recv=_direction(rng, rtt * surge, loss * surge, kbps, "video", False),
                ),
                codec_audio="opus",
                codec_video="VP8",
            )
            items.append(
                IngestItem(
                    index=len(items),
                    room_id=DEMO_ROOM,
                    participant_id=person_id,
                    participant_name=name,
                    timestamp_ms=start_ms + t * 1000,
                    sample=sample,
                )
            )
    return items


def seed_demo_session(engine: Engine, settings: Settings, api_key: str) -> str:
    """Store the demo session once for this key; returns its id."""
    now = int(time.time() * 1000)
    with read_transaction(engine) as conn:
        existing, _ = list_sessions(
            conn, api_key, now_ms=now, idle_timeout_s=settings.idle_timeout_s,
            room_id=DEMO_ROOM, per_page=1,
        )
    if existing:
        return existing[0].session_id
    start = now - 15 * 60 * 1000
    result = ingest(engine, settings, api_key, demo_items(start), now)
    return result.session_ids[0]
