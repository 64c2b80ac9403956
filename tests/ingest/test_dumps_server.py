"""Jitsi's server-side dumps: the videobridge's endpoints as samples, focus and gateway as none.

The figures are checked against the bridge's own counters as the dump holds them (read here
with nothing but json), and against the laws of a forwarding bridge; jitsi's extractor computes
no media features from these dumps ("statsFormat": "unsupported"), only their metadata.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from test_dumps import FIXTURES

from callquality.ingest.dumps import DumpError, DumpSample, detect_format, open_dump
from callquality.ingest.dumps.jitsi_bridge import merge

JVB = FIXTURES / "rtcstats" / "jvb-sample.rtcstats"
JICOFO = FIXTURES / "rtcstats" / "jicofo-sample.rtcstats"
JIGASI = FIXTURES / "rtcstats" / "jigasi-sample.rtcstats"


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def first_state() -> dict[str, Any]:
    """The first stats entry: a diff against nothing, so the whole conference state."""
    entry = next(o for o in lines(JVB) if o["type"] == "stats-entry")
    state: dict[str, Any] = json.loads(entry["data"])
    return state


def expected_metadata(path: Path) -> dict[str, Any]:
    doc = json.loads(path.with_name(path.stem + ".expected-features.json").read_text())
    meta: dict[str, Any] = doc["expectedExtractData"]["dumpMetadata"]
    return meta


def samples_of(eid: str) -> list[DumpSample]:
    return [s for s in open_dump(JVB.read_bytes()).samples() if s.participant_id == eid]


@pytest.mark.parametrize("path", [JVB, JICOFO, JIGASI], ids=lambda p: p.name)
def test_server_dumps_are_recognised_by_their_first_line(path: Path) -> None:
    assert detect_format(path.read_bytes()[:4096]) == "jitsi-server"
    info = open_dump(path.read_bytes()).info
    assert (info.format, info.source, info.browser) == ("jitsi-server", "server", None)


@pytest.mark.parametrize("path", [JVB, JICOFO, JIGASI], ids=lambda p: p.name)
def test_the_metadata_is_what_jitsis_extractor_read_from_the_same_dump(path: Path) -> None:
    meta = open_dump(path.read_bytes()).info.metadata
    expected = expected_metadata(path)
    assert meta["application"].lower() == expected["app"].lower()
    assert meta["meetingUniqueId"] == expected["sessionId"]
    assert meta["displayName"] == expected["userId"]
    if "conferenceId" in expected:
        assert meta["confName"] == expected["conferenceId"]


def test_the_videobridge_dump_gives_each_endpoint_one_sample_per_stats_entry() -> None:
    dump = open_dump(JVB.read_bytes())
    entries = sum(1 for o in lines(JVB) if o["type"] == "stats-entry")
    assert entries == dump.info.report_count == 727
    by_endpoint: dict[str, list[DumpSample]] = {}
    for s in dump.samples():
        by_endpoint.setdefault(s.participant_id, []).append(s)
    assert {e: len(ss) for e, ss in by_endpoint.items()} == {"92aac468": 727, "16fdb658": 727}
    names = {e: ss[0].participant_name for e, ss in by_endpoint.items()}
    assert names == {"92aac468": "Lottie-1R0", "16fdb658": "Hillard-sAi"}  # statsId
    for ss in by_endpoint.values():
        times = [s.timestamp_ms for s in ss]
        assert times == sorted(times) and len(set(times)) == len(times)
        # The push tool polls every 5 s (jvb-rtcstats-push app.js).
        gaps = [s.sample.interval_ms for s in ss[1:]]
        assert 4900 <= min(gaps) and max(gaps) <= 5100


def test_the_first_interval_runs_from_the_conference_creation_and_counts_every_packet() -> None:
    state = first_state()
    (first,) = [s for s in samples_of("92aac468")][:1]
    assert first.timestamp_ms == state["timestamp"]
    assert first.sample.interval_ms == state["timestamp"] - state["creationTime"]
    receiver = state["endpoints"]["92aac468"]["transceiver"]["RTP receiver 92aac468"]
    tracker = next(v for k, v in receiver.items() if k.startswith("Node Incoming statistics"))
    by_kind = {"audio": 0, "video": 0}
    for ssrc, s in tracker.items():
        if ssrc.isdigit():
            by_kind[s["media_type"]] += s["num_received_packets"]
    assert by_kind == {"audio": 83, "video": 56}
    assert first.sample.audio is not None and first.sample.video is not None
    assert first.sample.audio.send is not None and first.sample.video.send is not None
    assert (first.sample.audio.send.packets, first.sample.video.send.packets) == (83, 56)
    assert first.sample.audio.send.jitter_ms == pytest.approx(tracker["1292517411"]["jitter"])
    assert first.sample.audio.send.rtt_ms == pytest.approx(
        state["endpoints"]["92aac468"]["transceiver"]["endpointConnectionStats"]["rtt"]
    )


def test_no_media_flowed_after_the_first_entry_and_the_samples_say_zero_not_unknown() -> None:
    """The bridge's RTP counters stay where the first entry left them for the hour that follows:
    the endpoints stopped sending (RTCP and ICE keepalives still arrive)."""
    for eid in ("92aac468", "16fdb658"):
        later = samples_of(eid)[1:]
        for s in later:
            for media in (s.sample.audio, s.sample.video):
                assert media is not None and media.send is not None and media.recv is not None
                assert (media.send.packets, media.recv.packets) == (0, 0)
                assert media.send.bitrate_bps == 0.0 and media.send.packets_lost == 0
                assert media.recv.packets_lost is None  # the dump does not say


def test_rtt_is_the_bridges_own_and_unknown_while_it_is_zero() -> None:
    rtts = [s.sample.audio.send.rtt_ms for s in samples_of("92aac468")
            if s.sample.audio and s.sample.audio.send]  # fmt: skip
    assert rtts[0] == pytest.approx(18.508815) and max(r or 0 for r in rtts) == pytest.approx(
        21.5, abs=0.1
    )
    # 16fdb658's rtt stays 0.0: EndpointConnectionStats starts at 0 and no SR was answered.
    assert all(s.sample.audio.send.rtt_ms is None for s in samples_of("16fdb658")
               if s.sample.audio and s.sample.audio.send)  # fmt: skip


def test_what_an_endpoint_receives_is_what_the_bridge_received_of_the_others() -> None:
    """A forwarding bridge sends no more of a stream than it received: in the first interval
    16fdb658's audio reached 92aac468 whole (65 packets, same bytes), its video too (38)."""
    (a,), (b,) = samples_of("92aac468")[:1], samples_of("16fdb658")[:1]
    for kind in ("audio", "video"):
        ma, mb = a.sample.media(kind), b.sample.media(kind)
        assert ma is not None and mb is not None and ma.recv and mb.send and mb.recv and ma.send
        assert ma.recv.packets is not None and mb.send.packets is not None
        assert mb.recv.packets is not None and ma.send.packets is not None
        assert ma.recv.packets <= mb.send.packets and mb.recv.packets <= ma.send.packets
    assert a.sample.audio and b.sample.audio and a.sample.audio.recv and b.sample.audio.send
    assert a.sample.audio.recv.packets == b.sample.audio.send.packets == 65
    assert a.sample.audio.recv.bitrate_bps == pytest.approx(b.sample.audio.send.bitrate_bps)


def test_pictures_and_codecs_are_the_bridges_layers_and_payload_types() -> None:
    (first,) = samples_of("92aac468")[:1]
    assert first.sample.video and first.sample.video.send and first.sample.video.recv
    # Its own top simulcast layer (E0S2T2: 720p at 30 fps) and the 180p layer forwarded to it.
    assert (first.sample.video.send.height, first.sample.video.send.frame_rate) == (720, 30.0)
    assert (first.sample.video.recv.height, first.sample.video.recv.frame_rate) == (180, 30.0)
    assert first.sample.video.send.width is None  # the bridge reports heights only
    assert (first.sample.codec_audio, first.sample.codec_video) == ("opus", "VP9")


@pytest.mark.parametrize(
    ("path", "words"),
    [(JICOFO, "Jicofo (conference focus) dump"), (JIGASI, "Jigasi (SIP gateway) dump")],
)
def test_focus_and_gateway_dumps_say_they_hold_no_media_statistics(path: Path, words: str) -> None:
    dump = open_dump(path.read_bytes())
    assert list(dump.samples()) == [] and list(dump.reports()) == []
    (warning,) = dump.info.warnings
    assert words in warning and "no media statistics" in warning


def server(*items: object) -> bytes:
    return "\n".join(json.dumps(i) for i in items).encode()


IDENTITY = {"statsSessionId": "s", "type": "identity", "data": {"applicationName": "JVB"}}


def entry(data: object, *, text: bool = True) -> dict[str, object]:
    return {"statsSessionId": "s", "type": "stats-entry",
            "data": json.dumps(data) if text else data}  # fmt: skip


def endpoint(received: int, lost: int = 0, rtt: float = 0.0) -> dict[str, Any]:
    stream = {
        "num_received_packets": received,
        "num_received_bytes": received * 100,
        "cumulative_packets_lost": lost,
        "jitter": 3.0,
        "media_type": "audio",
    }
    tracker = {"Node Incoming statistics tracker 1": {"11": stream}}
    return {
        "statsId": "Ann",
        "transceiver": {"endpointConnectionStats": {"rtt": rtt}, "RTP receiver e1": tracker},
    }


def test_entries_are_deep_diffs_merged_into_the_state() -> None:
    data = server(
        IDENTITY,
        entry({"creationTime": 0, "timestamp": 1000, "endpoints": {"e1": endpoint(50)}}),
        entry({"timestamp": 6000, "endpoints": {"e1": {"transceiver": {"RTP receiver e1": {
            "Node Incoming statistics tracker 1": {"11": {"num_received_packets": 300,
                                                          "cumulative_packets_lost": 4}}}}}}},
              text=False),
    )  # fmt: skip
    first, second = open_dump(data).samples()
    assert first.sample.interval_ms == 1000 and second.sample.interval_ms == 5000
    assert second.sample.audio is not None and second.sample.audio.send is not None
    send = second.sample.audio.send
    assert (send.packets, send.packets_lost) == (250, 4)
    assert send.bitrate_bps == 0.0  # bytes unchanged by the diff: 0 new bytes
    assert send.loss_pct == pytest.approx(100 * 4 / 254)


def test_an_array_in_a_diff_is_an_object_of_changed_indices() -> None:
    state: dict[str, Any] = {"a": [1, 2, {"x": 1}], "b": {"c": 1}}
    merge(state, {"a": {"1": 5, "2": {"y": 2}, "4": 9}, "b": {"d": 2}})
    assert state == {"a": [1, 5, {"x": 1, "y": 2}, None, 9], "b": {"c": 1, "d": 2}}


def test_without_a_creation_time_the_first_entry_is_a_baseline() -> None:
    data = server(IDENTITY, entry({"timestamp": 1000, "endpoints": {"e1": endpoint(50)}}),
                  entry({"timestamp": 6000, "endpoints": {"e1": endpoint(80)}}))  # fmt: skip
    (only,) = open_dump(data).samples()
    assert only.sample.audio and only.sample.audio.send and only.sample.audio.send.packets == 30


def test_an_endpoint_that_joins_later_counts_from_zero() -> None:
    data = server(IDENTITY, entry({"timestamp": 1000, "endpoints": {}}),
                  entry({"timestamp": 6000, "endpoints": {"e1": endpoint(80)}}))  # fmt: skip
    (only,) = open_dump(data).samples()
    assert only.sample.audio and only.sample.audio.send and only.sample.audio.send.packets == 80


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (server(IDENTITY, entry({"endpoints": {}})),
         "line 2: a videobridge stats entry without a timestamp"),
        (server(IDENTITY, entry({"timestamp": "soon", "endpoints": {}})),
         "line 2: timestamp must be a number, got 'soon'"),
        (server(IDENTITY, {"type": "stats-entry", "data": "{"}), "line 2: data: invalid JSON"),
        (server(IDENTITY, [1, 2]), "line 2: expected a JSON object {statsSessionId, type, data}"),
        (server(IDENTITY, {"type": 3}), "line 2: 'type' must be a string"),
        (server({"type": "identity", "data": [1]}),
         "line 1: an identity's data must be a JSON object"),
        (server(IDENTITY, entry({"timestamp": 1, "endpoints": {"e1": endpoint(math.inf)}})),
         "line 2: endpoints.e1: incoming SSRC 11 num_received_packets must be a number, got inf"),
    ],
)  # fmt: skip
def test_a_malformed_server_dump_names_the_line(data: bytes, message: str) -> None:
    with pytest.raises(DumpError) as caught:
        open_dump(data)
    assert str(caught.value).startswith(message), str(caught.value)
