"""The daily rollups (service/rollups.py) give exactly the figures computed from the
participant-session summaries, on both databases: for a mixed data set over ten days (every
dimension, unknown values, audio-only and video streams, poor ones with causes), after late
reports that change a participant-session's figures and its day, and after retention purged
some summaries.
"""

from __future__ import annotations

import random
import uuid
from typing import Any

from sqlalchemy import func, select
from support.items import T0, sample_item
from support.server import RunningServer

from callquality.query import analytics
from callquality.service.summaries import purge_before, refresh_dirty
from callquality.store import bulk
from callquality.store.analytics import Scope
from callquality.store.db import read_transaction, write_transaction
from callquality.store.schema import analytics_daily, participant_summaries

DAY_MS = 86_400_000
D0 = (T0 // DAY_MS) * DAY_MS  # midnight UTC before T0
CAUSES = ["network loss", "latency", "jitter", "concealment", None]


def _pick(rng: random.Random, *values: Any) -> Any:
    return rng.choice(values)


def _summary(rng: random.Random, api_key: str, n: int) -> dict[str, Any]:
    """A refreshed-looking summary with random figures and dimensions (None: unknown)."""
    start = D0 + rng.randint(0, 10 * DAY_MS - 1)
    measured = rng.randint(1, 120) * 5000
    audio = rng.random() < 0.9
    video = rng.random() < 0.6
    a_poor_ms = rng.choice([0, 0, 0, 5000, measured]) if audio else 0
    v_poor_ms = rng.choice([0, 0, 5000, measured]) if video else 0
    a_poor = int(a_poor_ms > 0.1 * measured) if audio else None
    v_poor = int(v_poor_ms > 0.1 * measured) if video else None
    cause = rng.choice(CAUSES)
    return {
        "session_id": f"mix-{n // 3}", "participant_id": f"p{n % 3}", "api_key": api_key,
        "room_id": f"room-{n % 17}", "dirty": 1, "updated_ms": start + measured,
        "in_rollups": 0, "start_ms": start, "end_ms": start + measured,
        "day": start // DAY_MS, "hour": start // 3_600_000, "measured_ms": measured,
        "audio_scored_ms": measured if audio else 0, "audio_poor_ms": a_poor_ms,
        "video_scored_ms": measured if video else 0, "video_poor_ms": v_poor_ms,
        "audio_poor": a_poor, "video_poor": v_poor,
        "audio_mos_mean": round(rng.uniform(1.5, 4.5), 2) if audio else None,
        "audio_mos_p5": None,
        "video_vq_mean": round(rng.uniform(1.0, 5.0), 2) if video else None,
        "video_vq_p5": None, "loss_pct_p50": None, "loss_pct_p95": None, "rtt_ms_p50": None,
        "rtt_ms_p95": None, "jitter_ms_p50": None, "jitter_ms_p95": None, "freeze_ms": None,
        "likely_cause": cause if a_poor or v_poor else None,
        "audio_cause": cause if a_poor else None, "video_cause": cause if v_poor else None,
        "browser": _pick(rng, "Chrome", "Safari", "Firefox", None),
        "browser_version": None,
        "os": _pick(rng, "Windows", "iOS", "macOS", None),
        "device": _pick(rng, "desktop", "mobile", None),
        "sdk": _pick(rng, "videosdk-js", "videosdk-ios", None), "sdk_version": None,
        "connection": _pick(rng, "host", "srflx", "relay/tcp", None), "turn_transport": None,
        "network": _pick(rng, "wifi", "cellular", None),
        "country": _pick(rng, "US", "IN", "DE", None),
        "asn": _pick(rng, "AS1 One", "AS2 Two", None),
        "codec_audio": _pick(rng, "opus", "PCMU", None) if audio else None,
        "codec_video": _pick(rng, "VP8", "H264") if video else None,
    }


QUESTIONS: list[tuple[list[str], dict[str, list[str]]]] = [
    ([], {}),
    (["day"], {}),
    (["browser"], {}),
    (["day", "country"], {}),
    (["codec"], {}),
    (["asn"], {"asn": ["AS1 One", "unknown"]}),
    (["day"], {"connection": ["relay/tcp"]}),
    (["os"], {"day": [str(D0 // DAY_MS + 3), str(D0 // DAY_MS + 4)]}),
    (["hour"], {}),  # not rolled up: from the summaries both ways
    (["os", "browser"], {}),
]
# Not on day boundaries: the edges come from the summaries, the whole days from the rollups.
PERIODS = [(D0 + 5 * 3_600_000, D0 + 8 * DAY_MS + 3 * 3_600_000), (D0, D0 + 10 * DAY_MS)]


def _assert_rollups_equal_summaries(server: RunningServer, api_key: str) -> int:
    """Every question, kind and period answered both ways; returns how many of the answers
    came from the rollups."""
    rolled = 0
    with read_transaction(server.engine) as conn:
        for group_by, filters in QUESTIONS:
            for kind in (None, "audio", "video"):
                for from_ms, to_ms in PERIODS:
                    scope = Scope(api_key, from_ms, to_ms, filters, kind)
                    fast = analytics.quality(conn, scope, group_by)
                    slow = analytics.quality(conn, scope, group_by, use_rollups=False)
                    assert fast == slow, (group_by, filters, kind, from_ms, to_ms)
                    assert slow, (group_by, filters, kind)  # a question with an answer
                    rolled += analytics.rollup_dimension(scope, group_by) is not None
            rows, total = analytics.worst(conn, Scope(api_key, *PERIODS[0], {}, None), 5, 0)
            assert total == sum(g.sessions for g in analytics.quality(
                conn, Scope(api_key, *PERIODS[0], {}, None), [], use_rollups=False))
    return rolled


def test_rollups_give_the_summaries_figures_for_a_mixed_data_set(
    own_server: RunningServer,
) -> None:
    """On a database of its own: the purge at the end is global."""
    server = own_server
    api_key = server.new_tenant().api_key
    rng = random.Random(16)
    rows = [_summary(rng, api_key, n) for n in range(1500)]
    with write_transaction(server.engine) as conn:
        bulk.insert_many(conn, participant_summaries, rows)
    # dirty and not yet counted in, as after the migration: the refresh adds them
    assert refresh_dirty(server.engine, api_key, T0) == 1500
    with read_transaction(server.engine) as conn:
        daily_rows = conn.execute(select(func.count()).select_from(analytics_daily).where(
            analytics_daily.c.api_key == api_key)).scalar_one()
    assert daily_rows > 0
    with read_transaction(server.engine) as conn:
        (whole,) = analytics.quality(conn, Scope(api_key, D0, D0 + 10 * DAY_MS, {}, None), [])
    assert whole.sessions == 1500
    assert whole.poor > 100
    assert _assert_rollups_equal_summaries(server, api_key) > 40
    # retention takes the purged summaries' part back out of the rollups
    with write_transaction(server.engine) as conn:
        purged = purge_before(conn, D0 + 4 * DAY_MS)
    assert 400 < purged < 1100  # those that ended in the first four days
    _assert_rollups_equal_summaries(server, api_key)


def test_late_reports_move_their_participant_session_in_the_rollups(
    server: RunningServer,
) -> None:
    """Sessions on three days through POST /v2/stats; then late reports, poor and from the
    day before, for some of them: the rollups follow both changes."""
    tenant = server.new_tenant()
    tag = uuid.uuid4().hex[:6]
    starts = [D0 + DAY_MS + 600_000, D0 + 2 * DAY_MS + 60_000, D0 + 3 * DAY_MS + 60_000]
    items = [sample_item(f"late-{tag}-{d}-{n // 4}", f"p{n}", start + i * 5000)
             for d, start in enumerate(starts) for n in range(12) for i in range(1, 4)]

    def post(batch: list[dict[str, Any]]) -> None:
        with server.client(tenant) as client:
            answer = client.post("/v2/stats", json=batch)
            assert answer.status_code == 202, answer.text
            read = client.get("/v2/analytics/quality", params={
                "from": D0, "to": D0 + 5 * DAY_MS, "groupBy": "day"})
            assert read.status_code == 200, read.text  # refreshes the summaries

    post(items)
    assert _day_counts(server, tenant.api_key) == {
        D0 // DAY_MS + 1: 12, D0 // DAY_MS + 2: 12, D0 // DAY_MS + 3: 12}
    # late: two participants of the second day's sessions reported 3 poor intervals that
    # began 20 minutes before midnight, the day before
    late = [sample_item(f"late-{tag}-1-0", f"p{n}", starts[1] - 1_200_000 + i * 5000,
                        audio_recv_lost=60, video_recv_lost=300)
            for n in range(2) for i in range(1, 4)]
    post(late)
    assert _day_counts(server, tenant.api_key) == {
        D0 // DAY_MS + 1: 14, D0 // DAY_MS + 2: 10, D0 // DAY_MS + 3: 12}
    with read_transaction(server.engine) as conn:
        (day,) = [g for g in analytics.quality(
            conn, Scope(tenant.api_key, D0, D0 + 5 * DAY_MS, {}, None), ["day"])
            if g.key == (D0 // DAY_MS + 1,)]
    assert day.poor == 2
    _assert_every_kind_equal(server, tenant.api_key)


def _day_counts(server: RunningServer, api_key: str) -> dict[int, int]:
    """Participant-sessions per day, from the rollups alone."""
    with read_transaction(server.engine) as conn:
        rows = conn.execute(select(analytics_daily.c.day, analytics_daily.c.sessions).where(
            analytics_daily.c.api_key == api_key, analytics_daily.c.kind == "any",
            analytics_daily.c.dimension == "all"))
        return {int(r.day): int(r.sessions) for r in rows}


def _assert_every_kind_equal(server: RunningServer, api_key: str) -> None:
    with read_transaction(server.engine) as conn:
        for group_by in ([], ["day"], ["codec"]):
            for kind in (None, "audio", "video"):
                scope = Scope(api_key, D0, D0 + 5 * DAY_MS, {}, kind)
                assert analytics.quality(conn, scope, group_by) == analytics.quality(
                    conn, scope, group_by, use_rollups=False)
