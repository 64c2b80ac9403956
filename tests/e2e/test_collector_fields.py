"""In real Chromium, collector.js keeps of each getStats() report what the server reads
(ingest/read_fields.py), and the server derives the same samples from it as from the whole
report."""

from __future__ import annotations

from typing import Any

import pytest
from browser_kit import (  # noqa: F401 (fixtures)
    PageHost,
    chromium,
    new_page,
    open_call_page,
    page_host,
    sqlite_server,
)
from support.server import RunningServer

from callquality.ingest.read_fields import READ_FIELDS_VERSION, filter_report
from callquality.ingest.report import process_report

pytestmark = pytest.mark.browser

_REPORTS = """async () => {
  const out = [];
  for (let i = 0; i < 4; i++) {
    await new Promise((r) => setTimeout(r, 1000));
    const report = await window.pcs.a.getStats();
    // Both from the same RTCStatsReport: the whole of it, and what the collector sends.
    out.push({t: Date.now(), full: Array.from(report.values()),
              kept: callquality.filterReport(report)});
  }
  return out;
}"""


def test_chromium_reports_filtered_by_the_collector_give_the_same_samples(
    sqlite_server: RunningServer, new_page: Any, page_host: PageHost  # noqa: F811
) -> None:
    page = new_page()
    open_call_page(page, page_host, f"{sqlite_server.url}/collector.js")
    assert page.evaluate("callquality.readFieldsVersion") == READ_FIELDS_VERSION
    page.evaluate(
        "o => startCall(o)",
        {"endpoint": sqlite_server.url, "roomId": "fields", "intervalMs": 60000,
         "tokens": {"a": "unused", "b": "unused"}},
    )
    reports = page.evaluate(_REPORTS)
    full_state: dict[str, Any] | None = None
    kept_state: dict[str, Any] | None = None
    measured = 0
    for r in reports:
        for a, b in zip(r["kept"], filter_report(r["full"]), strict=True):
            assert a == b, {k: (a.get(k), b.get(k)) for k in a.keys() | b.keys()
                            if a.get(k) != b.get(k)}
        assert {s["type"] for s in r["full"]} - {s["type"] for s in r["kept"]} >= {
            "certificate", "remote-candidate", "peer-connection"
        }
        # The local candidates are kept for the connection, without their addresses.
        for kept in r["kept"]:
            if kept["type"] == "local-candidate":
                assert set(kept) <= {"id", "type", "candidateType", "protocol",
                                     "relayProtocol", "networkType"}
        full, full_state = process_report(full_state, r["t"], r["full"])
        kept, kept_state = process_report(kept_state, r["t"], r["kept"])
        assert kept == full and kept_state == full_state
        measured += full is not None and full.video is not None and full.audio is not None
    assert measured == len(reports) - 1  # the first report is the baseline
