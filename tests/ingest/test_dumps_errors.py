"""Every broken dump is a DumpError that says where: truncated at any length, malformed, huge."""

from __future__ import annotations

import gzip
import json
import re

import pytest
from test_dumps import FIREFOX, INTERNALS_86, INTERNALS_144, RTCSTATSDUMP_144, SAFARI

from callquality.ingest.dumps import DumpError, detect_format, read_dump, read_dump_info

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
