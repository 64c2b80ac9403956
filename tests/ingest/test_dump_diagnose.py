"""What an import will say of a dump: per peer connection, reports used and skipped, and why."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_dumps import FIREFOX, INTERNALS_86, INTERNALS_144, RTCSTATSDUMP_144, SAFARI
from test_dumps_legacy import CHROME48, CHROME96, LEGACY_P2P
from test_dumps_server import JICOFO, JIGASI, JVB

from callquality.ingest.dumps import open_dump
from callquality.ingest.dumps.diagnose import (
    BASELINE,
    NO_PACKETS,
    NO_RTP,
    Diagnosis,
    diagnose,
)


def diagnosis_of(data: bytes) -> Diagnosis:
    dump = open_dump(data)
    return diagnose(dump.info, list(dump.reports()), list(dump.samples()))


@pytest.mark.parametrize(
    "path", [INTERNALS_144, INTERNALS_86, RTCSTATSDUMP_144, FIREFOX, SAFARI], ids=lambda p: p.name
)
def test_a_standard_stats_dump_says_nothing_but_its_baselines(path: Path) -> None:
    d = diagnosis_of(path.read_bytes())
    assert d.warnings == ()
    for pc in d.peer_connections:
        assert pc.stats == "standard" and pc.warning is None
        assert dict(pc.skipped) == {BASELINE: 1}
        # Chrome 144 reports before negotiation hold no RTP stream (7 of its 58 intervals).
        assert pc.intervals == pc.reports - 1 and pc.with_media >= pc.intervals * 0.8


def test_the_legacy_dump_says_its_stats_are_legacy_and_what_they_cannot_tell() -> None:
    d = diagnosis_of(LEGACY_P2P.read_bytes())
    pcs = d.peer_connections
    summaries = [(p.peer_connection_id, p.stats, p.reports, p.intervals) for p in pcs]
    assert summaries == [
        ("PC_0", "legacy", 78, 77), ("PC_1", "legacy", 44, 43)
    ]  # fmt: skip
    legacy = (
        ": Chrome's legacy (goog*) stats, rebuilt as standard ones (docs/dumps.md); they "
        "cannot tell audio concealment, video freezes, the jitter of received video"
    )
    # jitsi moved the call to its peer-to-peer connection (PC_1) for 85 s, and the bridge's
    # (PC_0) carried nothing meanwhile: true, and said.
    assert d.warnings == (
        "PC_0" + legacy,
        "PC_0: media flowed in only 36 of its 77 intervals",
        "PC_1" + legacy,
    )
    assert d.usable == 36 + 43


def test_the_chrome96_dump_warns_of_its_untimed_line_and_counts_six_reports() -> None:
    d = diagnosis_of(CHROME96.read_bytes())
    assert d.warnings[0] == "line 142: skipped an event without a time ('e2eRtt')"
    assert {pc.peer_connection_id: (pc.reports, pc.intervals) for pc in d.peer_connections} == {
        "PC_1": (3, 2), "PC_0": (3, 2)
    }  # fmt: skip


def test_the_chrome48_dump_has_26_reports_two_baselines_and_24_intervals_with_media() -> None:
    d = diagnosis_of(CHROME48.read_bytes())
    assert sum(pc.reports for pc in d.peer_connections) == 26
    assert sum(pc.skipped[BASELINE] for pc in d.peer_connections) == 2
    assert d.usable == 24


def test_the_videobridge_dump_says_media_flowed_in_one_interval_of_each_endpoint() -> None:
    d = diagnosis_of(JVB.read_bytes())
    for pc in d.peer_connections:
        assert (pc.stats, pc.reports, pc.intervals, pc.with_media) == ("media server", 727, 727, 1)
        assert dict(pc.without_media) == {NO_PACKETS: 726}
    assert d.warnings == (
        "92aac468: media flowed in only 1 of its 727 intervals",
        "16fdb658: media flowed in only 1 of its 727 intervals",
    )


@pytest.mark.parametrize("path", [JICOFO, JIGASI], ids=lambda p: p.name)
def test_a_dump_without_media_statistics_has_no_peer_connection_and_says_why(path: Path) -> None:
    d = diagnosis_of(path.read_bytes())
    assert d.peer_connections == () and len(d.warnings) == 1
    assert "no media statistics" in d.warnings[0]


def jitsi(*lines: object) -> bytes:
    info = ["connectionInfo", None, {"clientProtocol": "3.1_STANDARD"}, 1]
    return "\n".join(json.dumps(line) for line in (info, *lines)).encode()


def stream(ts: int, packets: int) -> dict[str, object]:
    return {"o": {"type": "outbound-rtp", "kind": "audio", "ssrc": 1, "timestamp": ts,
                  "packetsSent": packets, "bytesSent": packets * 100}, "timestamp": ts}  # fmt: skip


def test_a_call_in_which_no_media_flowed_is_a_warning_not_a_clean_call() -> None:
    d = diagnosis_of(jitsi(*(["getstats", "PC_0", stream(t, 40), t] for t in (1000, 3000, 5000))))
    (pc,) = d.peer_connections
    assert (pc.intervals, pc.with_media, dict(pc.without_media)) == (2, 0, {NO_PACKETS: 2})
    assert d.warnings == (
        "PC_0: no usable sample: no media flowed in its 2 intervals",
        "the dump yields no usable sample: no interval of it carried media",
    )


def test_reports_without_rtp_streams_and_a_lone_report_are_warnings() -> None:
    legacy = {"g": {"type": "googTrack", "timestamp": 0}, "timestamp": 1000}
    d = diagnosis_of(jitsi(["getstats", "PC_0", legacy, 1000],
                           ["getstats", "PC_0", {**legacy, "timestamp": 3000}, 3000],
                           ["getstats", "PC_1", stream(1000, 40), 1000]))  # fmt: skip
    pcs = {pc.peer_connection_id: pc for pc in d.peer_connections}
    assert dict(pcs["PC_0"].without_media) == {NO_RTP: 1}
    assert pcs["PC_0"].warning == "PC_0: no usable sample: its reports hold no RTP stream"
    assert pcs["PC_1"].warning == "PC_1: no usable sample: none of its 1 reports ends an interval"
    assert d.warnings[-1] == "the dump yields no usable sample: no interval of it carried media"


def test_an_out_of_order_report_is_skipped_as_stale() -> None:
    d = diagnosis_of(jitsi(["getstats", "PC_0", stream(1000, 1), 1000],
                           ["getstats", "PC_0", stream(3000, 90), 3000],
                           ["getstats", "PC_0", stream(3000, 90), 3000]))  # fmt: skip
    (pc,) = d.peer_connections
    assert dict(pc.skipped) == {BASELINE: 1, "timestamp not after the previous report's": 1}
    assert (pc.intervals, pc.with_media) == (1, 1)
