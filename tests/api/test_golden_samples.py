"""Every fixture's and dump's raw reports, as a sender posts them, to samples and scores:
the same bytes must give the same samples-table rows, counter states and connections
whatever the body's decoding and the reader do inside (issue 19's golden, taken before
the typed decoding).

Regenerate only for a deliberate change of the figures: ``CQ_UPDATE_GOLDEN=1 pytest
tests/api/test_golden_samples.py``, and say in the commit what changed and why.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

import orjson
import pytest
from conftest import FIXTURES

from callquality.api.ingest_models import parse_body
from callquality.domain.bounds import bounded_sample
from callquality.ingest.client import connection_of
from callquality.ingest.dumps import open_dump
from callquality.ingest.report import process_report
from callquality.service.ingest import sample_row

GOLDEN = Path(__file__).parent / "golden" / "samples"
UPDATE = os.environ.get("CQ_UPDATE_GOLDEN") == "1"
CAPTURES = ("chromium-156-loopback-getstats.json", "firefox-153-getstats.json")
# Every dump of the fixtures; those without getStats() reports (server logs, a legacy dump
# of another format) give no streams, and say so in their golden file.
DUMPS = tuple(
    str(p.relative_to(FIXTURES))
    for folder in ("rtcstats", "webrtc-internals", "rtcstats-legacy")
    for p in sorted((FIXTURES / folder).iterdir())
    if p.suffix in (".rtcstats", ".json") and not p.name.endswith(".expected-features.json")
)
Stream = list[tuple[float, list[Any]]]


def _streams(name: str) -> dict[str, Stream]:
    if name in CAPTURES:
        snaps = orjson.loads((FIXTURES / name).read_bytes())
        streams = {pc: [(s["t"], s[pc]) for s in snaps] for pc in ("a", "b")}
        streams["a+b"] = [(s["t"], s["a"] + s["b"]) for s in snaps]
        return streams
    by_pc: dict[str, Stream] = {}
    try:
        reports = list(open_dump((FIXTURES / name).read_bytes()).reports())
    except ValueError as exc:  # not a dump of reports: nothing to derive
        return {"error": [(0.0, [str(exc)])]}
    for r in reports:
        by_pc.setdefault(r.peer_connection_id, []).append((r.timestamp_ms, r.report))
    return by_pc


def _derived(stream: Stream) -> list[dict[str, Any]]:
    """Each report of a stream posted as one item, read by the API's parser, then differenced
    and scored as ingest does: the samples row, the new state and the connection of each."""
    body = orjson.dumps([
        {"roomId": "r", "participantId": "p", "peerConnectionId": "pc",
         "timestamp": t, "report": report}
        for t, report in stream
    ])
    out = []
    state: Any = None
    for item in parse_body(body, len(stream)):
        assert item.report is not None
        sample, state = process_report(state, item.timestamp_ms, item.report)
        if sample is not None:
            sample = bounded_sample(sample)
        connection = connection_of(item.report)
        row = sample_row("s", item, sample, 0)
        out.append({
            "row": {k: v for k, v in row.items() if v is not None},  # the NULLs left out
            # the state's digest: a few hundred bytes per report otherwise
            "state": hashlib.sha256(orjson.dumps(state, option=orjson.OPT_SORT_KEYS))
            .hexdigest()[:16],
            "connection": None if connection is None else {
                k: v for k, v in asdict(connection).items() if v is not None
            },
        })
    return out


@pytest.mark.parametrize("name", CAPTURES + DUMPS)
def test_the_same_reports_give_the_same_samples_scores_and_states(name: str) -> None:
    streams = _streams(name)
    if "error" in streams:
        got: Any = {"error": streams["error"][0][1][0]}
    else:
        got = {pc: _derived(stream) for pc, stream in streams.items()}
    path = GOLDEN / (name.replace("/", "__") + ".json")
    # One line per report, so that a diff shows which changed.
    text = "\n".join(
        orjson.dumps(line, option=orjson.OPT_SORT_KEYS).decode()
        for line in ([got] if "error" in got else
                     [[pc, n, derived] for pc, rows in got.items() for n, derived in
                      enumerate(rows)])
    )
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n")
    expected = path.read_text().rstrip("\n")
    assert text.splitlines() == expected.splitlines(), f"{name}: samples changed"
