"""The delta-compression rules of each line format, on small hand-written dumps."""

from __future__ import annotations

import json

from callquality.ingest.dumps import detect_format, read_dump, read_dump_info


def rtcstatsdump(*lines: object) -> bytes:
    return "\n".join(["RTCStatsDump", '{"fileFormat": 3}', *map(json.dumps, lines)]).encode()


def by_id(report: list[dict[str, object]]) -> dict[str, dict[str, object]]:
    return {str(o["id"]): o for o in report}


def test_detect_format_reads_the_first_bytes() -> None:
    assert detect_format(b"RTCStatsDump\n{") == "rtcstatsdump"
    assert detect_format(b'\xef\xbb\xbf  {"getUserMedia"') == "webrtc-internals"
    assert detect_format(b'["connectionInfo",null') == "jitsi-rtcstats"


def test_rtcstatsdump_times_are_deltas_from_the_previous_line() -> None:
    data = rtcstatsdump(
        ["create", None, {}, 1_000_000],
        ["getStats", "pc", {"P": {"type": "peer-connection"}}, 500],
        ["getStats", "pc", {}, 1000],
    )
    assert [r.timestamp_ms for r in read_dump(data)] == [1_000_500, 1_001_500]


def test_rtcstatsdump_compressed_method_properties_type_and_top_level_timestamp() -> None:
    first = {"0": {"type": 2, "10": 1234, "11": "video", "79": 10, "t": 7.0}, "t": 9.0}
    second = {"0": {"79": 25}, "t": 10.0}
    (a, b) = read_dump(rtcstatsdump(["g", "pc", first, 1], [1, "pc", second, 1]))
    assert a.report == [
        {"id": "0", "type": "outbound-rtp", "ssrc": 1234, "kind": "video", "packetsSent": 10,
         "timestamp": 7.0}
    ]  # fmt: skip
    assert (a.timestamp_ms, b.timestamp_ms) == (9.0, 10.0)
    assert b.report[0]["packetsSent"] == 25 and b.report[0]["ssrc"] == 1234
    assert b.report[0]["timestamp"] == 10.0


def test_rtcstatsdump_absent_id_is_unchanged_and_null_removes_it() -> None:
    base = {
        "A": {"type": "codec", "timestamp": 1.0, "mimeType": "audio/opus"},
        "B": {"type": "outbound-rtp", "timestamp": 1.0, "qualityLimitationDurations": {"cpu": 1}},
    }
    data = rtcstatsdump(
        ["getStats", "pc", base, 1],
        ["getStats", "pc", {"B": {"qualityLimitationDurations": {"none": 2}}, "t": 2.0}, 1],
        ["getStats", "pc", {"A": None, "t": 3.0}, 1],
    )
    first, second, third = (by_id(r.report) for r in read_dump(data))
    assert second["A"]["mimeType"] == "audio/opus" and second["A"]["timestamp"] == 2.0
    assert second["B"]["qualityLimitationDurations"] == {"cpu": 1, "none": 2}
    assert set(third) == {"B"}
    assert first["B"]["qualityLimitationDurations"] == {"cpu": 1}  # earlier reports unchanged


def jitsi(protocol: object, *lines: object) -> bytes:
    info = ["connectionInfo", None, {"userAgent": "Mozilla/5.0 Firefox/118.0",
            "url": "https://meet.example/room", "clientProtocol": protocol}, 1]  # fmt: skip
    return "\n".join(json.dumps(line) for line in (info, *lines)).encode()


FIRST = {
    "a": {"type": "inbound-rtp", "timestamp": 100, "packetsReceived": 5, "kind": "audio"},
    "b": {"type": "codec", "timestamp": 100, "mimeType": "audio/opus"},
    "timestamp": 100,
}


def test_jitsi_absent_field_keeps_its_value_and_zero_timestamp_is_the_reports() -> None:
    data = jitsi("3.1_STANDARD", ["getstats", "PC_0", FIRST, 101],
                 ["getstats", "PC_0", {"a": {"timestamp": 0, "packetsReceived": 9},
                                       "b": {}, "timestamp": 200}, 201])  # fmt: skip
    first, second = read_dump(data)
    assert second.timestamp_ms == 200
    assert by_id(second.report)["a"] == {"id": "a", "type": "inbound-rtp", "timestamp": 200,
                                         "packetsReceived": 9, "kind": "audio"}  # fmt: skip
    assert by_id(second.report)["b"]["timestamp"] == 100  # no timestamp: keeps its own


def test_jitsi_protocol_3_absent_id_was_removed() -> None:
    data = jitsi("3.1_STANDARD", ["getstats", "PC_0", FIRST, 101],
                 ["getstats", "PC_0", {"a": {"timestamp": 0}, "timestamp": 200}, 201])  # fmt: skip
    assert set(by_id(list(read_dump(data))[-1].report)) == {"a"}


def test_jitsi_older_protocol_absent_id_is_unchanged() -> None:
    data = jitsi(2, ["getstats", "PC_0", FIRST, 101],
                 ["getstats", "PC_0", {"a": {"timestamp": 0}, "timestamp": 200}, 201])  # fmt: skip
    assert set(by_id(list(read_dump(data))[-1].report)) == {"a", "b"}


def test_jitsi_info_comes_from_connection_info() -> None:
    info = read_dump_info(jitsi(3, ["getstats", "PC_0", FIRST, 101]))
    assert (info.browser, info.url) == ("Firefox 118", "https://meet.example/room")
    assert info.metadata["clientProtocol"] == 3


def test_reports_out_of_time_order_come_back_sorted() -> None:
    late = {**FIRST, "timestamp": 300}
    data = jitsi(3, ["getstats", "PC_0", late, 1], ["getstats", "PC_0", FIRST, 2])
    assert [r.timestamp_ms for r in read_dump(data)] == [100, 300]


# --- Which browser an imported session reports (issue 18) ---------------------------------------

STANDARD = {"o": {"type": "outbound-rtp", "kind": "audio", "ssrc": 1, "packetsSent": 3},
            "timestamp": 100}  # fmt: skip
LEGACY = {"ssrc_1_send": {"type": "ssrc", "mediaType": "audio", "packetsSent": "3",
                          "googRtt": "40"}, "timestamp": 100}  # fmt: skip


def jitsi_info(connection_info: dict[str, object], stats: dict[str, object]) -> str | None:
    lines = [["connectionInfo", None, connection_info, 1], ["getstats", "PC_0", stats, 101]]
    data = "\n".join(json.dumps(line) for line in lines).encode()
    return read_dump_info(data).browser


def test_the_user_agent_in_the_dump_names_the_browser_and_its_version() -> None:
    ua = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/96.0.4664.110 Safari/537.36"
    assert jitsi_info({"userAgent": ua, "statsFormat": "firefox"}, LEGACY) == "Chrome 96"


def test_without_a_user_agent_the_stats_fields_say_which_browser_wrote_them() -> None:
    """Only libwebrtc wrote goog* fields: a declaration that says otherwise is wrong."""
    assert jitsi_info({"statsFormat": "firefox"}, LEGACY) == "Chrome"
    assert jitsi_info({}, {"r": {"type": "remote-inbound-rtp", "mozRtt": 3}, "timestamp": 1}) == (
        "Firefox"
    )


def test_the_dumps_declaration_is_the_fallback_spelled_as_a_browser() -> None:
    # "chrome_standard" is jitsi's stats format; the browser is "Chrome".
    assert jitsi_info({"statsFormat": "chrome_standard"}, STANDARD) == "Chrome"
    assert jitsi_info({"statsFormat": "safari"}, STANDARD) == "Safari"
    assert jitsi_info({}, STANDARD) is None


def test_user_agent_data_brands_come_before_the_stats_fields() -> None:
    brands = {"brands": [{"brand": "Google Chrome", "version": "144"}]}
    stats = {"P": {"type": "peer-connection"}, "s": {"type": "ssrc", "googRtt": "1"}}
    data = rtcstatsdump(
        ["create", None, {"userAgentData": brands}, 1], ["getStats", "pc", stats, 2]
    )
    assert read_dump_info(data).browser == "Chrome 144"
