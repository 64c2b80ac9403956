"""Two API processes on one PostgreSQL, taking alternate reports, give one process's stats."""

from __future__ import annotations

import json
import math
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from conftest import fixture_path
from support.processes import create_key, serve_process

from callquality.tokens import make_token


def report_items(room: str) -> list[list[dict[str, Any]]]:
    """Per step, one raw-report item for each of two participants (the fixture's pcs)."""
    snapshots = json.loads(fixture_path("chromium-156-loopback-getstats.json").read_text())
    return [
        [
            {"roomId": room, "participantId": side, "peerConnectionId": f"pc-{side}",
             "timestamp": snap["t"], "report": snap[side]}
            for side in ("a", "b")
        ]
        for snap in snapshots
    ]


def flat(entry: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested keys joined with dots (pytest.approx compares flat mappings)."""
    out: dict[str, Any] = {}
    for key, value in entry.items():
        if isinstance(value, dict):
            out.update(flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def test_two_processes_give_the_same_stats_as_one(pg_database: str) -> None:
    api_key, secret = create_key(pg_database)
    token = make_token(api_key, secret)
    headers = {"Authorization": token}
    with serve_process(pg_database) as (url_a, _), serve_process(pg_database) as (url_b, _):
        urls = [url_a, url_b]
        with ThreadPoolExecutor(2) as pool:
            for step, (item_a, item_b) in enumerate(report_items("two-procs")):
                # Participant a's reports alternate A, B, A...; b's alternate B, A, B...
                sends = [(urls[step % 2], item_a), (urls[(step + 1) % 2], item_b)]
                answers = list(pool.map(
                    lambda s: httpx.post(f"{s[0]}/v2/stats", json=s[1], headers=headers,
                                         timeout=30),
                    sends,
                ))
                assert [a.status_code for a in answers] == [202, 202]
        for step_items in report_items("one-proc"):
            assert httpx.post(f"{url_a}/v2/stats", json=step_items, headers=headers,
                              timeout=30).status_code == 202
        listed = httpx.get(f"{url_b}/v2/sessions/", headers=headers).json()["data"]
        ids = {s["roomId"]: s["id"] for s in listed}
        assert set(ids) == {"two-procs", "one-proc"}, "one session per room, not one per process"
        params = {"interval": 5, "extended": "true"}
        two = httpx.get(f"{url_a}/v2/sessions/{ids['two-procs']}/stats", params=params,
                        headers=headers).json()
        one = httpx.get(f"{url_b}/v2/sessions/{ids['one-proc']}/stats", params=params,
                        headers=headers).json()
    assert two["stats"], "the stats are not empty"
    assert any(s["averageRecvVideoBitrate"] for s in two["stats"])
    # Equal to the last digits: PostgreSQL sums floats in the order it reads rows, so two
    # sessions with the same data may differ in the 16th significant digit.
    for got, want in zip(two["stats"], one["stats"], strict=True):
        flat_got, flat_want = flat(got), flat(want)
        assert flat_got.keys() == flat_want.keys()
        for key, value in flat_got.items():
            expected = flat_want[key]
            if isinstance(value, float) and isinstance(expected, float):
                assert math.isclose(value, expected, rel_tol=1e-12), (key, value, expected)
            else:
                assert value == expected, (key, value, expected)
    assert two["meetingId"] == "two-procs"
