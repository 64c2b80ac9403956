"""A participant's series (query/stats.py ``participant_series``, written by
api/render.py ``participant_stats_json``) answers byte for byte what the general path
answers: ``time_series`` of that participant through ``bucket_json``, and
``resolution_usage`` through ``resolution_usage_json``, on real dumps and raw reports and
on samples with two peer connections, gaps, irregular intervals and changing video sizes."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any

import orjson
import pytest
from conftest import FIXTURES
from sqlalchemy import Engine, select, update
from support.items import T0, sample_item
from support.server import RunningServer

from callquality.api.render import (
    bucket_json,
    csv_text,
    participant_stats_json,
    resolution_usage_json,
)
from callquality.query.participant_series import participant_series
from callquality.query.resolution import resolution_usage
from callquality.query.sessions import participant_names
from callquality.query.stats import input_means, time_series
from callquality.store import writes
from callquality.store.db import read_transaction, write_transaction
from callquality.store.schema import samples, sessions
from callquality.store.series import add_numeric_inputs

INTERVALS = (5, 7, 10, 15, 30, 45, 60, 120, 300, 3600)
DUMPS = ("webrtc-internals/chrome144-two-pcs.json", "rtcstats/google-standard-stats-sfu.rtcstats",
         "rtcstats/firefox-standard-stats-sfu.rtcstats", "rtcstats/safari-standard-stats.rtcstats")


def _general(conn: Any, session_id: str, start_ms: int, interval_s: int, participant_id: str,
             extended: bool) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """What the route answered before participant_series: the general path."""
    usage = resolution_usage(conn, session_id, start_ms, interval_s=interval_s,
                             participant_id=participant_id)
    buckets = time_series(conn, session_id, start_ms, interval_s=interval_s,
                          participant_id=participant_id, extended=extended)
    return ([bucket_json(b) for b in buckets],
            resolution_usage_json([b.start_ms for b in buckets], usage))


def _compare_every_participant(engine: Engine, session_id: str) -> int:
    """Compare both paths at every interval, plain and extended; the buckets compared."""
    compared = 0
    with read_transaction(engine) as conn:
        session = writes.session_by_id(conn, session_id)
        assert session is not None
        participants = sorted(participant_names(conn, session_id))
        assert participants
        for pid in participants:
            for interval in INTERVALS:
                for extended in (False, True):
                    before = _general(conn, session_id, session.start_ms, interval, pid,
                                      extended)
                    found = participant_series(conn, session_id, session.start_ms,
                                               interval_s=interval, participant_id=pid,
                                               extended=extended)
                    after = participant_stats_json(found, extended)
                    where = (pid, interval, extended)
                    assert orjson.dumps(after) == orjson.dumps(before), where
                    assert csv_text(after[0]) == csv_text(before[0]), where
                    compared += len(after[0])
    return compared


def _import(server: RunningServer, path: Path) -> str:
    tenant = server.new_tenant()
    with server.client(tenant) as client, path.open("rb") as f:
        response = client.post("/v2/sessions/import", files={"file": (path.name, f)},
                               data={"roomId": "participant-series"})
    assert response.status_code == 201, response.text
    session_id: str = response.json()["sessionId"]
    return session_id


def _post(server: RunningServer, items: list[dict[str, Any]]) -> str:
    tenant = server.new_tenant()
    with server.client(tenant) as client:
        response = client.post("/v2/stats", json=items)
        assert response.status_code == 202, response.text
        session_id: str = response.json()["sessionIds"][0]
    return session_id


@pytest.mark.parametrize("dump", DUMPS, ids=[Path(d).stem for d in DUMPS])
def test_an_imported_dump_answers_as_the_general_path(server: RunningServer, dump: str) -> None:
    session_id = _import(server, FIXTURES / dump)
    assert _compare_every_participant(server.engine, session_id) > 0  # type: ignore[arg-type]


def test_raw_reports_answer_as_the_general_path(server: RunningServer) -> None:
    snapshots = json.loads((FIXTURES / "chromium-156-loopback-getstats.json").read_text())
    items = [{"roomId": "participant-series-raw", "participantId": side,
              "timestamp": snap["t"], "peerConnectionId": f"pc-{side}", "report": snap[side]}
             for snap in snapshots for side in ("a", "b")]
    session_id = _post(server, items)
    assert _compare_every_participant(server.engine, session_id) > 0  # type: ignore[arg-type]


def _irregular_items(room: str) -> list[dict[str, Any]]:
    """Three participants over 7.5 minutes: alice with two peer connections, bob whose
    video comes and goes, carol away for a while and changing her received video size
    within buckets (several resolution classes in one bucket); irregular timestamps,
    intervals, loss, RTT and jitter."""
    rng = random.Random(19)
    items = []
    for step in range(1, 90):
        for p in ("alice", "bob", "carol"):
            if p == "carol" and 20 < step < 45:
                continue
            item = sample_item(
                room, p, T0 + step * 5000 + rng.randint(0, 900),
                audio_recv_lost=rng.randint(0, 9), video_recv_lost=rng.randint(0, 30),
                audio_send_lost=rng.randint(0, 3), rtt_ms=rng.uniform(20, 300),
                jitter_ms=rng.uniform(1, 40), video_bitrate=rng.uniform(1e5, 2e6),
                interval_ms=rng.choice((4000, 5000, 6000)),
            )
            if p == "bob" and step % 3 == 0:
                item["sample"].pop("video")
            if p == "carol":
                recv = item["sample"]["video"]["recv"]
                recv["height"] = rng.choice((144, 270, 360, 540, 720, 1080, 1600, 2400))
                recv["width"] = recv["height"] * 16 // 9
                recv["frameRate"] = rng.uniform(10, 30)
                recv["freezeCount"] = rng.randint(0, 2)
                recv["freezeDurationMs"] = rng.uniform(0, 900)
                item["sample"]["audio"]["recv"]["concealedRatio"] = rng.uniform(0, 0.2)
            items.append(item)
            if p == "alice":
                second = sample_item(room, p, T0 + step * 5000 + 7,
                                     rtt_ms=rng.uniform(20, 300), interval_ms=5000)
                second["peerConnectionId"] = "screen"
                items.append(second)
    return items


def test_irregular_samples_answer_as_the_general_path(server: RunningServer) -> None:
    session_id = _post(server, _irregular_items("participant-series-irregular"))
    engine: Engine = server.engine  # type: ignore[assignment]
    assert _compare_every_participant(engine, session_id) > 0
    # Without the minute rollups (a session whose start is not on its rollup origin):
    # whole minutes are read from the samples too.
    with write_transaction(engine) as conn:
        conn.execute(update(sessions).where(sessions.c.session_id == session_id)
                     .values(rollup_origin_ms=None))
    assert _compare_every_participant(engine, session_id) > 0


def test_a_participant_without_samples_has_an_empty_series(server: RunningServer) -> None:
    session_id = _post(server, _irregular_items("participant-series-empty")[:30])
    with read_transaction(server.engine) as conn:  # type: ignore[arg-type]
        session = writes.session_by_id(conn, session_id)
        assert session is not None
        found = participant_series(conn, session_id, session.start_ms, interval_s=5,
                                   participant_id="nobody", extended=True)
    assert participant_stats_json(found, True) == ([], [])


def _means_as_before(texts: list[str]) -> dict[str, float]:
    """The score inputs' means as the series computed them before (one rule for any
    number of samples): every numeric input's fsum over its count, to 4 digits."""
    by_key: dict[str, list[float]] = {}
    for text in texts:
        add_numeric_inputs(by_key, text)
    return {k: round(math.fsum(vs) / len(vs), 4) for k, vs in by_key.items()}


def test_the_score_input_means_are_those_of_fsum_and_round(server: RunningServer) -> None:
    session_id = _post(server, _irregular_items("participant-series-inputs"))
    with read_transaction(server.engine) as conn:  # type: ignore[arg-type]
        texts = [t for t in conn.execute(select(samples.c.score_inputs).where(
            samples.c.session_id == session_id)).scalars() if t]
    assert len(texts) > 300
    edges = [
        '{"a": -0.0, "b": 0, "c": 3, "d": true, "e": null, "f": "opus", "g": 1e20, "h": -1e-5}',
        '{"a": 0.00005, "b": 0.00015, "c": 2.5e-05, "g": 123456.78905, "h": -2.00005}',
        '{"c": -0.0, "a": 7.0, "z": 1.23456789}',
    ]
    rng = random.Random(5)
    groups = [[t] for t in texts + edges] + [edges, edges[:2]]
    groups += [rng.sample(texts + edges, rng.randint(2, 12)) for _ in range(300)]
    for group in groups:
        found, expected = input_means(group), _means_as_before(group)
        assert orjson.dumps(found) == orjson.dumps(expected), group
