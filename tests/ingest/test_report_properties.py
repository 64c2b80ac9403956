"""Laws of process_report over any sequence of reports, in any order, with counter resets."""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from callquality.domain.sample import DirectionStats, Sample
from callquality.ingest.report import process_report

COUNTERS = {
    "outbound-rtp": ("packetsSent", "bytesSent", "framesEncoded"),
    "inbound-rtp": (
        "packetsReceived",
        "bytesReceived",
        "framesDecoded",
        "freezeCount",
        "totalFreezesDuration",
        "concealedSamples",
        "totalSamplesReceived",
    ),
    "remote-inbound-rtp": ("totalRoundTripTime", "roundTripTimeMeasurements"),
}
STREAMS = [
    (type_, kind, n)
    for type_ in COUNTERS
    for kind in ("audio", "video")
    for n in (range(2) if type_ == "inbound-rtp" else range(1))
]

# Per report and stream: how much each counter grew, or (sometimes) a restart from small values.
stream_step = st.fixed_dictionaries(
    {
        "growth": st.lists(st.integers(0, 5000), min_size=7, max_size=7),
        "reset": st.integers(0, 9).map(lambda i: i == 0),
        "lost": st.integers(-3, 20),
        "jitter": st.floats(0, 2),
        "ssrc": st.integers(0, 19).map(lambda i: 2 if i == 0 else 1),
        "present": st.integers(0, 9).map(lambda i: i != 0),
    }
)
report_step = st.fixed_dictionaries(
    {
        "dt": st.sampled_from([0.0, 2000.0, 2000.0, 5000.0]),
        "stats_dt": st.sampled_from([-3000.0, 0.0, 2.0, 2000.0, 2000.0, 2000.0]),
        "streams": st.lists(stream_step, min_size=len(STREAMS), max_size=len(STREAMS)),
    }
)
Report = tuple[float, list[dict[str, Any]], float]


def build(steps: list[dict[str, Any]]) -> list[Report]:
    """Reports in the order they were taken: cumulative counters that grow, reset, vanish."""
    totals: dict[str, list[float]] = {}
    lost: dict[str, int] = {}
    t, stats_ts = 1_000_000.0, 1_000_000.0
    reports: list[Report] = []
    for step in steps:
        t += step["dt"]
        stats_ts += step["stats_dt"]
        report: list[dict[str, Any]] = []
        for (type_, kind, n), values in zip(STREAMS, step["streams"], strict=True):
            sid = f"{type_}-{kind}-{n}"
            if values["reset"] or sid not in totals:
                totals[sid], lost[sid] = [0.0] * 7, 0
            totals[sid] = [a + b for a, b in zip(totals[sid], values["growth"], strict=True)]
            lost[sid] += values["lost"]
            if not values["present"]:
                continue
            stats: dict[str, Any] = {
                "id": sid,
                "type": type_,
                "kind": kind,
                "ssrc": values["ssrc"] + 10 * n,
                "timestamp": stats_ts,
            }
            stats.update(zip(COUNTERS[type_], totals[sid], strict=False))
            if type_ != "outbound-rtp":
                stats["packetsLost"] = lost[sid]
                stats["jitter"] = values["jitter"]
            report.append(stats)
        reports.append((t, report, stats_ts))
    return reports


def directions(sample: Sample) -> list[DirectionStats]:
    return [
        d
        for m in (sample.audio, sample.video)
        if m is not None
        for d in (m.send, m.recv)
        if d is not None
    ]


def check_sample(sample: Sample, stats_dt_ms: float) -> None:
    assert sample.interval_ms > 0
    for d in directions(sample):
        for count in (d.packets, d.packets_lost, d.freeze_count):
            assert count is None or count >= 0
        assert d.freeze_duration_ms is None or d.freeze_duration_ms >= 0
        assert d.loss_pct is None or 0 <= d.loss_pct <= 100
        assert d.concealed_ratio is None or 0 <= d.concealed_ratio <= 1
        for rate in (d.bitrate_bps, d.frame_rate):
            assert rate is None or (math.isfinite(rate) and rate >= 0)
        if stats_dt_ms <= 0:
            assert d.bitrate_bps is None, "a bitrate from a zero or negative time delta"
            assert d.frame_rate is None
        for v in (d.rtt_ms, d.jitter_ms):
            assert v is None or (math.isfinite(v) and v >= 0)


@settings(max_examples=200, deadline=None)
@given(st.lists(report_step, min_size=1, max_size=10), st.data())
def test_no_sequence_of_reports_in_any_order_makes_a_negative_count_or_impossible_rate(
    steps: list[dict[str, Any]], data: st.DataObject
) -> None:
    reports = data.draw(st.permutations(build(steps)))
    state: dict[str, Any] | None = None
    accepted_t: float | None = None
    accepted_stats_ts: float | None = None
    for t, report, stats_ts in reports:
        sample, new_state = process_report(state, t, report)
        if accepted_t is not None and t <= accepted_t:  # stale: duplicate or out of order
            assert sample is None and new_state is state
            continue
        if sample is not None:
            assert accepted_stats_ts is not None
            check_sample(sample, stats_ts - accepted_stats_ts)
        else:
            assert accepted_t is None  # only the first report is a baseline
        state, accepted_t, accepted_stats_ts = new_state, t, stats_ts


@settings(max_examples=100, deadline=None)
@given(st.lists(report_step, min_size=1, max_size=10), st.data())
def test_state_survives_a_json_round_trip_between_any_two_reports(
    steps: list[dict[str, Any]], data: st.DataObject
) -> None:
    direct: dict[str, Any] | None = None
    stored: str | None = None
    for t, report, _ in data.draw(st.permutations(build(steps))):
        a, direct = process_report(direct, t, report)
        b, loaded = process_report(json.loads(stored) if stored else None, t, report)
        assert a == b
        assert loaded == direct
        stored = json.dumps(loaded, allow_nan=False)
