"""process_report throughput: one ~10 KB Chromium report per call, state carried forward.

What it times: ``callquality.ingest.report.process_report`` alone, on one core, in-process. The
report is the receiving peer connection ("b", inbound audio + video, ~9 KB of JSON) or the
sending one ("a") of the Chromium 156 loopback fixture, already parsed into Python dicts;
its timestamps and counters are advanced from call to call (prepared before timing) so every
call yields a sample. Not timed:
JSON parsing of the request, storing the state and the sample (see bench/ for those).

    .venv/bin/python bench/report_ingest.py [--seconds 3] [--fixture PATH]
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path
from typing import Any

from callquality.ingest.report import process_report

FIXTURE = (
    Path(__file__).resolve().parents[2] / "shared/fixtures/chromium-156-loopback-getstats.json"
)
_ADVANCED = (
    "packetsSent",
    "bytesSent",
    "packetsReceived",
    "bytesReceived",
    "framesEncoded",
    "framesDecoded",
    "totalSamplesReceived",
    "concealedSamples",
)


def reports(snapshot: list[dict[str, Any]], n: int, step_ms: float) -> list[list[dict[str, Any]]]:
    """n copies of one report, each ``step_ms`` later with counters grown."""
    out = []
    for i in range(n):
        report = copy.deepcopy(snapshot)
        for stats in report:
            stats["timestamp"] = stats["timestamp"] + i * step_ms
            for name in _ADVANCED:
                if name in stats:
                    stats[name] = stats[name] + i * 100
        out.append(report)
    return out


def measure(report: list[dict[str, Any]], t0: float, seconds: float) -> tuple[int, float]:
    """Calls made and elapsed seconds, carrying state from call to call."""
    batch = reports(report, 1000, 2000.0)
    state: dict[str, Any] | None = None
    calls, t, start = 0, t0, time.perf_counter()
    while True:
        for i, r in enumerate(batch):
            # Laps reuse the batch with later report timestamps: every report is accepted;
            # the first of each lap restarts the counters (one counter reset per 1000 calls).
            _, state = process_report(state, t + i * 2000.0, r)
        calls += len(batch)
        t += len(batch) * 2000.0
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return calls, elapsed


def main() -> None:
    """Print reports/s for the receiving and the sending side of the fixture."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--fixture", type=Path, default=FIXTURE)
    args = parser.parse_args()
    snapshot = json.loads(args.fixture.read_text())[3]
    for pc, what in (
        ("b", "receiver (inbound audio+video)"),
        ("a", "sender (outbound audio+video)"),
    ):
        size = len(json.dumps(snapshot[pc]))
        calls, elapsed = measure(snapshot[pc], snapshot["t"], args.seconds)
        print(
            f"process_report, {what}, {size / 1024:.1f} KB report: "
            f"{calls / elapsed:,.0f} reports/s on one core ({1e6 * elapsed / calls:.1f} µs each)"
        )


if __name__ == "__main__":
    main()
