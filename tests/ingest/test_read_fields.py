"""What collector.js sends by default (ingest/read_fields.py) is all that ingest reads.

Leaving out the types and fields of that table changes nothing the server derives: on every
real capture and dump, the filtered reports give the same samples and the same counter states
as the full ones, and collector.js carries the same table as the server.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import orjson
import pytest
from conftest import FIXTURES
from report_helpers import CHROMIUM, FIREFOX, snapshots

from callquality.api.web import WEB_DIR
from callquality.ingest.client import connection_of
from callquality.ingest.dumps import open_dump
from callquality.ingest.read_fields import READ_FIELDS, READ_FIELDS_VERSION, filter_report
from callquality.ingest.report import process_report
from callquality.ingest.rtcstats import NUMERIC_FIELDS

COLLECTOR = WEB_DIR / "collector.js"
# Every browser dump of the fixtures that holds getStats() reports (the others are server
# logs, a truncated file, or a legacy dump with no standard stats).
DUMPS = (
    "webrtc-internals/chrome144-two-pcs.json",
    "webrtc-internals/chrome86-two-pcs.json",
    "rtcstats/chrome144-two-pcs.rtcstats",
    "rtcstats/firefox-standard-stats-sfu.rtcstats",
    "rtcstats/google-legacy-stats-p2p.rtcstats",
    "rtcstats/google-standard-stats-p2p.rtcstats",
    "rtcstats/google-standard-stats-sfu.rtcstats",
    "rtcstats/safari-standard-stats.rtcstats",
)


def _collector_table() -> tuple[int, dict[str, list[str]]]:
    text = COLLECTOR.read_text(encoding="utf-8")
    (version,) = re.findall(r"^\s*var READ_FIELDS_VERSION = (\d+);", text, re.MULTILINE)
    (body,) = re.findall(r"^\s*var READ_FIELDS = (\{.*?\n\s*\});", text, re.MULTILINE | re.DOTALL)
    # The JS object literal as JSON: double quotes, no trailing commas.
    as_json = re.sub(r",(\s*[\]}])", r"\1", body.replace("'", '"'))
    return int(version), json.loads(as_json)


def test_collector_js_carries_the_servers_table_and_version() -> None:
    version, table = _collector_table()
    assert version == READ_FIELDS_VERSION
    assert table == {t: list(fields) for t, fields in READ_FIELDS.items()}


def test_every_number_the_reader_checks_is_kept() -> None:
    for stats_type, names in NUMERIC_FIELDS.items():
        assert set(names) <= set(READ_FIELDS[stats_type]), stats_type


def _reports() -> dict[str, list[list[tuple[float, list[dict[str, Any]]]]]]:
    """Each capture's and dump's reports, per peer connection, in order."""
    out: dict[str, list[list[tuple[float, list[dict[str, Any]]]]]] = {}
    for name in (CHROMIUM, FIREFOX):
        snaps = snapshots(name)
        out[name] = [[(s["t"], s[pc]) for s in snaps] for pc in ("a", "b")]
        out[name + " (a+b merged)"] = [[(s["t"], s["a"] + s["b"]) for s in snaps]]
    for name in DUMPS:
        by_pc: dict[str, list[tuple[float, list[dict[str, Any]]]]] = {}
        for r in open_dump((FIXTURES / name).read_bytes()).reports():
            by_pc.setdefault(r.peer_connection_id, []).append((r.timestamp_ms, r.report))
        out[name] = list(by_pc.values())
    return out


REPORTS = _reports()


@pytest.mark.parametrize("name", sorted(REPORTS))
def test_filtered_reports_give_the_same_samples_and_states(name: str) -> None:
    measured = 0
    full_bytes = kept_bytes = 0
    for stream in REPORTS[name]:
        full_state: dict[str, Any] | None = None
        kept_state: dict[str, Any] | None = None
        for t, report in stream:
            kept = filter_report(report)
            full_bytes += len(orjson.dumps(report))
            kept_bytes += len(orjson.dumps(kept))
            full, full_state = process_report(full_state, t, report)
            sample, kept_state = process_report(kept_state, t, kept)
            assert sample == full, (name, t)
            assert kept_state == full_state, (name, t)
            measured += full is not None
    assert measured >= 5, f"{name}: too few samples to compare"
    assert kept_bytes < 0.6 * full_bytes, (name, kept_bytes, full_bytes)


def test_the_collector_filters_a_report_as_the_server_table_says() -> None:
    """collector.js's own filterReport (run in node) keeps what filter_report keeps."""
    report = snapshots(CHROMIUM)[3]["a"] + snapshots(CHROMIUM)[3]["b"]
    script = (
        "const fs = require('fs'); globalThis.addEventListener = () => {};"
        f"eval(fs.readFileSync({json.dumps(str(COLLECTOR))}, 'utf8'));"
        "const report = JSON.parse(fs.readFileSync(0, 'utf8'));"
        "process.stdout.write(JSON.stringify(callquality.filterReport(report)));"
    )
    done = subprocess.run(
        ["node", "-e", script], input=json.dumps(report), capture_output=True, text=True,
        timeout=30, check=True, cwd=Path(__file__).parent,
    )
    assert json.loads(done.stdout) == filter_report(report)
    assert {s["type"] for s in filter_report(report)} == {
        "inbound-rtp", "outbound-rtp", "remote-inbound-rtp", "remote-outbound-rtp",
        "media-source", "candidate-pair", "transport", "codec", "local-candidate",
    }
    # Of the local candidates only what names the connection, never an address or a port.
    for stats in filter_report(report):
        if stats["type"] == "local-candidate":
            assert not {"address", "ip", "port", "url", "relatedAddress"} & set(stats)


def test_a_filtered_report_keeps_its_connection() -> None:
    """The selected pair's local candidate survives the filter: the participant's
    connection (docs/api.md) is the same from a filtered report as from the whole one."""
    for snap in snapshots(CHROMIUM):
        for side in ("a", "b"):
            whole = connection_of(snap[side])
            assert whole is not None and whole.candidate_type == "host"
            assert connection_of(filter_report(snap[side])) == whole
