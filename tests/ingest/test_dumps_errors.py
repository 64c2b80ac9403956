"""Every broken dump is a DumpError that says where: truncated at any length, malformed, huge."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pytest
from test_dumps import FIREFOX, FIXTURES, INTERNALS_86, INTERNALS_144, RTCSTATSDUMP_144, SAFARI

from callquality.ingest.dumps import DumpError, detect_format, open_dump, read_dump, read_dump_info

LINE_FORMATS = [RTCSTATSDUMP_144, FIREFOX, SAFARI]
WHERE = re.compile(r"line \d+|column \d+|PeerConnections")


def cuts(size: int, count: int) -> list[int]:
    """``count`` lengths spread over the whole file, with the first few bytes all tried."""
    step = max(1, size // count)
    return sorted(set(range(0, min(size, 40))) | set(range(1, size, step)))


@pytest.mark.parametrize("path", [INTERNALS_144, INTERNALS_86], ids=lambda p: p.name)
def test_webrtc_internals_cut_anywhere_is_a_dump_error_with_its_position(path) -> None:
    data = path.read_bytes().rstrip()
    for length in cuts(len(data), 150):
        with pytest.raises(DumpError) as caught:
            read_dump(data[:length])
        assert WHERE.search(str(caught.value)), (length, str(caught.value))


@pytest.mark.parametrize("path", LINE_FORMATS, ids=lambda p: p.name)
def test_line_dump_cut_mid_line_is_a_dump_error_naming_the_line(path) -> None:
    data = path.read_bytes()
    tried = 0
    for length in cuts(len(data), 300):
        if data[length - 1 : length + 1].find(b"\n") >= 0 or length >= len(data.rstrip()):
            continue  # a cut at a line end leaves a shorter, valid dump
        tried += 1
        last_line = data[:length].count(b"\n") + 1
        with pytest.raises(DumpError) as caught:
            read_dump(data[:length])
        message = str(caught.value)
        assert re.search(r"line \d+", message), (length, message)
        if length > 20:
            assert f"line {last_line}" in message, (length, message)
    assert tried > 200


@pytest.mark.parametrize("path", LINE_FORMATS, ids=lambda p: p.name)
def test_line_dump_cut_at_a_line_end_reads_the_lines_before(path) -> None:
    data = path.read_bytes()
    whole = len(list(read_dump(data)))
    half = data[: data.index(b"\n", len(data) // 2) + 1]
    assert 0 < len(list(read_dump(half))) < whole


def test_a_gzip_file_reads_like_the_plain_one() -> None:
    data = SAFARI.read_bytes()
    assert list(read_dump(gzip.compress(data))) == list(read_dump(data))
    assert detect_format(gzip.compress(data)[:200]) == "jitsi-rtcstats"


def test_a_truncated_gzip_file_is_a_dump_error() -> None:
    packed = gzip.compress(SAFARI.read_bytes())
    with pytest.raises(DumpError, match="gzip"):
        read_dump(packed[: len(packed) // 2])


@pytest.mark.parametrize("path", [INTERNALS_144, SAFARI], ids=lambda p: p.name)
def test_a_file_over_max_bytes_is_refused(path) -> None:
    data = path.read_bytes()
    with pytest.raises(DumpError, match="larger than"):
        read_dump(data, max_bytes=len(data) - 1)
    with path.open("rb") as f, pytest.raises(DumpError, match="larger than"):
        read_dump(f, max_bytes=1000)
    assert list(read_dump(data, max_bytes=len(data)))


def test_a_gzip_bomb_is_refused_by_its_uncompressed_size() -> None:
    with pytest.raises(DumpError, match="larger than"):
        read_dump(gzip.compress(b"[" + b" " * 5_000_000), max_bytes=1_000_000)


@pytest.mark.parametrize(
    "first",
    [b"", b"   \n", b"hello", b"RTCStatsDumX\n{}", b"\x00\x01binary", b"<html>"],
)
def test_an_unknown_first_line_is_a_dump_error(first: bytes) -> None:
    with pytest.raises(DumpError, match="line 1"):
        read_dump(first)


def rtcstatsdump(*lines: object, metadata: object = None) -> bytes:
    header = json.dumps({"fileFormat": 3} if metadata is None else metadata)
    body = [line if isinstance(line, str) else json.dumps(line) for line in lines]
    return "\n".join(["RTCStatsDump", header, *body]).encode()


GOOD_STATS = {"P": {"id": "P", "type": "peer-connection", "timestamp": 1000.0}}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"RTCStatsDump", "line 2: missing the metadata"),
        (b"RTCStatsDump\n[1]", "line 2: the metadata line must be a JSON object"),
        (rtcstatsdump(metadata={"fileFormat": 2}), "line 2: fileFormat is 2"),
        (rtcstatsdump('["getStats", "pc", {}, 1'), "line 3: invalid JSON"),
        (rtcstatsdump({"not": "an array"}), "line 3: expected a JSON array"),
        (rtcstatsdump(["getStats", "pc", GOOD_STATS]), "line 3: the last item"),
        (rtcstatsdump(["getStats", "pc", GOOD_STATS, "soon"]), "line 3: the last item"),
        (rtcstatsdump(["getStats", "pc", [1, 2], 5]), "line 3: the getStats report must be"),
        (rtcstatsdump(["getStats", "pc", GOOD_STATS, 5], ["getStats", "pc", "x", 5]), "line 4"),
        (rtcstatsdump(["getStats", "pc", {"P": 7}, 5]), "line 3: stats 'P' must be"),
        (rtcstatsdump(["getStats", "pc", {"P": {"timestamp": 1}}, 5]), "line 3: stats 'P' has no"),
        (rtcstatsdump(["getStats", None, GOOD_STATS, 5]), "line 3: a getStats event without"),
        (rtcstatsdump([{"m": 1}, "pc", GOOD_STATS, 5]), "line 3: the method"),
        (rtcstatsdump("\xff"), "line 3: invalid JSON"),
    ],
)
def test_a_malformed_rtcstatsdump_names_the_line(data: bytes, message: str) -> None:
    with pytest.raises(DumpError, match=re.escape(message)):
        read_dump(data)


def test_invalid_utf8_is_a_dump_error_naming_the_line() -> None:
    data = rtcstatsdump(["getStats", "pc", GOOD_STATS, 5]) + b'\n["x", "pc", "\xff\xfe", 1]'
    with pytest.raises(DumpError, match="line 4"):
        read_dump(data)


def jitsi(*lines: object) -> bytes:
    return "\n".join(json.dumps(line) for line in lines).encode()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (jitsi(["getstats", "PC_0", "nope", 5]), "line 1: the getStats report must be"),
        (jitsi(["getstats", "PC_0", {"a": [1]}, 5]), "line 1: stats 'a' must be a JSON object"),
        (jitsi(["getstats", "PC_0", {"a": {"timestamp": 0}}, 5]), "line 1: stats 'a' has no type"),
        (jitsi(["getstats", "PC_0", {}, 5], ["getstats"]), "line 2: expected a JSON array"),
        (jitsi(["getstats", "PC_0", {}, 5]) + b"\n[", "line 2: invalid JSON"),
    ],
)
def test_a_malformed_jitsi_dump_names_the_line(data: bytes, message: str) -> None:
    with pytest.raises(DumpError, match=re.escape(message)):
        read_dump(data)


def internals(stats: object, **top: object) -> bytes:
    doc = {"PeerConnections": {"1-1": {"stats": stats, "url": "https://x"}}, **top}
    return json.dumps(doc).encode()


SERIES = {"startTime": "2024-01-01T00:00:00.000Z", "endTime": "2024-01-01T00:00:01.000Z"}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"[]", "line 1"),  # a JSON array is a jitsi dump; that one has no valid line
        (b"{}", "PeerConnections: missing"),
        (b'{"PeerConnections": []}', "PeerConnections: missing"),
        (b'{"PeerConnections": {"1-1": 5}}', "PeerConnections.1-1: must be an object"),
        (internals([1]), "PeerConnections.1-1.stats: must be an object"),
        (internals({"P-x": 1}), "PeerConnections.1-1.stats.P-x: must be an object"),
        (internals({"nodash": {**SERIES, "values": "[1]"}}), "stats.nodash: a series key"),
        (internals({"P-x": {**SERIES}}), "stats.P-x.values: missing"),
        (internals({"P-x": {**SERIES, "values": "[1,"}}), "stats.P-x.values: invalid JSON"),
        (internals({"P-x": {**SERIES, "values": "{}"}}), "stats.P-x.values: must encode"),
        (internals({"P-x": {**SERIES, "startTime": 5, "values": "[1]"}}), "P-x.startTime"),
        (internals({"P-x": {**SERIES, "endTime": "yesterday", "values": "[1]"}}), "P-x.endTime"),
        (
            internals({"P-x": {**SERIES, "endTime": "2023-01-01T00:00:00Z", "values": "[1]"}}),
            "P-x: endTime is before startTime",
        ),
    ],
)
def test_a_malformed_webrtc_internals_file_names_the_field(data: bytes, message: str) -> None:
    with pytest.raises(DumpError, match=re.escape(message)):
        read_dump(data)


def test_dump_error_is_a_value_error() -> None:
    assert issubclass(DumpError, ValueError)
    with pytest.raises(ValueError):
        read_dump_info(b"nonsense")


# --- The formats issue 18 added: cut at every length, the exact error ---------------------------

CHROME96 = FIXTURES / "rtcstats" / "chrome96-standard-stats-p2p-add-transceiver.rtcstats"
LEGACY_P2P = FIXTURES / "rtcstats" / "google-legacy-stats-p2p.rtcstats"
CHROME48 = FIXTURES / "rtcstats-legacy" / "fippo-clienttest-chrome48.json"
JVB = FIXTURES / "rtcstats" / "jvb-sample.rtcstats"
JICOFO = FIXTURES / "rtcstats" / "jicofo-sample.rtcstats"
JIGASI = FIXTURES / "rtcstats" / "jigasi-sample.rtcstats"
SERVER_HEAD = len(b'{"statsSessionId":')  # the first bytes that say "jitsi server-side"


def _first_lines(path: Path, count: int) -> bytes:
    """The file's first ``count`` lines: a shorter dump of the same format, cut where it may be."""
    data = path.read_bytes()
    end = 0
    for _ in range(count):
        end = data.index(b"\n", end) + 1
    return data[:end]


def _expected_line_error(data: bytes, length: int, server: bool) -> str:
    if not data[:length].strip():
        return "line 1: the file is empty"
    if server and length < SERVER_HEAD:
        return "webrtc-internals JSON: invalid JSON ("  # too short to tell it from a download
    line = data[:length].count(b"\n") + 1
    return f"line {line}: invalid JSON ("


@pytest.mark.parametrize(
    ("path", "lines", "count"),
    # Every length of the Chrome 96 and Jigasi dumps; spread cuts, with the first 40 bytes, of
    # the others (the JVB dump whole, and its first 30 lines densely).
    [(CHROME96, None, None), (LEGACY_P2P, 40, 600), (JVB, None, 150), (JVB, 30, 600),
     (JICOFO, None, 600), (JIGASI, None, None)],
    ids=lambda v: v.name if isinstance(v, Path) else str(v),
)  # fmt: skip
def test_a_new_line_format_cut_mid_line_is_invalid_json_on_the_cut_line(
    path: Path, lines: int | None, count: int | None
) -> None:
    data = _first_lines(path, lines) if lines else path.read_bytes()
    server = path in (JVB, JICOFO, JIGASI)
    lengths = range(len(data)) if count is None else cuts(len(data), count)
    tried = 0
    for length in lengths:
        if data[length - 1 : length + 1].find(b"\n") >= 0 and length > 0:
            continue  # a cut at a line end leaves a shorter, valid dump
        tried += 1
        with pytest.raises(DumpError) as caught:
            open_dump(data[:length])
        expected = _expected_line_error(data, length, server)
        assert str(caught.value).startswith(expected), (length, str(caught.value))
    assert tried >= min(len(data) - 10, (count or len(data)) * 3 // 4)


@pytest.mark.parametrize("path", [CHROME96, JVB, JIGASI], ids=lambda p: p.name)
def test_a_new_line_format_cut_at_a_line_end_reads_the_lines_before(path: Path) -> None:
    data = path.read_bytes()
    half = data[: data.index(b"\n", len(data) // 2) + 1]
    whole, part = open_dump(data), open_dump(half)
    assert part.info.format == whole.info.format
    count = len(list(whole.reports())) + len(list(whole.samples()))
    if count:
        assert 0 < len(list(part.reports())) + len(list(part.samples())) < count


def test_the_first_rtcstats_layout_cut_anywhere_is_invalid_json_with_its_position() -> None:
    data = CHROME48.read_bytes().rstrip()
    key_end = data.index(b'"peerConnections"') + len(b'"peerConnections"')
    for length in cuts(len(data), 200):
        with pytest.raises(DumpError) as caught:
            open_dump(data[:length])
        message = str(caught.value)
        if length == 0:
            assert message == "line 1: the file is empty"
            continue
        # Until the first bytes show its own key, the file reads as a webrtc-internals download.
        where = "rtcstats JSON" if length >= key_end else "webrtc-internals JSON"
        assert message.startswith(f"{where}: invalid JSON ("), (length, message)
        position = re.search(r"\(char (\d+)\)", message)
        assert position and int(position.group(1)) <= length, (length, message)


def v1(pcs: object) -> bytes:
    doc = {"url": "https://x", "userAgent": "Chrome/48.0", "peerConnections": pcs}
    return json.dumps(doc).encode()


STATS = {"s": {"type": "ssrc", "timestamp": 1.0, "mediaType": "audio", "packetsSent": "1"}}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (v1({"PC_0": {"time": 1}}),
         "peerConnections.PC_0: must be a list of {time, type, value} events"),
        (v1({"PC_0": [5]}), "peerConnections.PC_0[0]: must be an object {time, type, value}"),
        (v1({"PC_0": [{"type": "getStats", "time": "yesterday", "value": STATS}]}),
         "peerConnections.PC_0[0].time: 'yesterday' is not an ISO 8601 time with a zone"),
        (v1({"PC_0": [{"type": "getStats", "time": "2016-01-28T18:24:21", "value": STATS}]}),
         "peerConnections.PC_0[0].time: '2016-01-28T18:24:21' is not an ISO 8601 time"),
        (v1({"PC_0": [{"type": "getStats", "time": 1, "value": [1]}]}),
         "peerConnections.PC_0[0].value: the getStats report must be a JSON object of stats by id"),
        (v1({"PC_0": [{"type": "getStats", "time": 1, "value": {"s": 1}}]}),
         "peerConnections.PC_0[0].value.s: must be a JSON object"),
        (v1({"PC_0": [{"type": "getStats", "time": 1, "value": {"s": {"id": "s"}}}]}),
         "peerConnections.PC_0[0].value.s: has no type"),
    ],
)  # fmt: skip
def test_a_malformed_first_layout_dump_names_the_event(data: bytes, message: str) -> None:
    with pytest.raises(DumpError) as caught:
        open_dump(data)
    assert str(caught.value).startswith(message), str(caught.value)


def test_a_line_without_a_time_is_skipped_with_a_warning_unless_it_is_a_getstats() -> None:
    info = read_dump_info(CHROME96.read_bytes())
    assert info.warnings == ("line 142: skipped an event without a time ('e2eRtt')",)
    untimed = jitsi(["e2eRtt", None, {"rtt": 5}], ["getstats", "PC_0", {}, 5], ["x", None, {}, "t"])
    assert read_dump_info(untimed).warnings == (
        "line 1: skipped an event without a time ('e2eRtt')",
        "line 3: skipped an event without a time ('x')",
    )
    with pytest.raises(DumpError, match=re.escape("line 1: the last item must be the event time")):
        read_dump(jitsi(["getstats", "PC_0", {}]))
