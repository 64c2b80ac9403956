"""Cumulative counters → interval deltas: resets, new streams, simulcast, SFUs, stale reports."""

from __future__ import annotations

import json
from typing import Any

import pytest
from report_helpers import CHROMIUM, FIREFOX, Stats, clone, one, run, side, snapshots

from callquality.domain.sample import DirectionStats, Sample
from callquality.ingest.report import STATE_VERSION, process_report


def send_video(sample: Sample | None) -> DirectionStats:
    assert sample is not None and sample.video is not None and sample.video.send is not None
    return sample.video.send


def recv_of(sample: Sample | None, kind: str) -> DirectionStats:
    assert sample is not None
    media = sample.media(kind)  # type: ignore[arg-type]
    assert media is not None and media.recv is not None
    return media.recv


def replace(report: list[Stats], old: Stats, *new: Stats) -> list[Stats]:
    """The report with one stats dict replaced by others."""
    out = [s for s in report if s["id"] != old["id"]]
    return out + list(new)


def chromium_a(i: int) -> tuple[float, list[Stats]]:
    snap = snapshots(CHROMIUM)[i]
    return snap["t"], snap["a"]


def chromium_b(i: int) -> tuple[float, list[Stats]]:
    snap = snapshots(CHROMIUM)[i]
    return snap["t"], snap["b"]


def test_first_report_is_a_baseline_without_sample() -> None:
    t, report = chromium_a(0)
    sample, state = process_report(None, t, report)
    assert sample is None
    assert state["version"] == STATE_VERSION and state["timestamp_ms"] == t


def test_counter_reset_starts_a_new_delta() -> None:
    (t0, r0), (t1, r1), (t2, r2) = chromium_a(0), chromium_a(1), chromium_a(2)
    out1 = one(r1, "outbound-rtp", "video")
    # The sender restarts its counters (e.g. the stream was recreated with the same id and SSRC).
    reset1 = clone(out1, packetsSent=10, bytesSent=9_000, framesEncoded=2)
    out2 = one(r2, "outbound-rtp", "video")
    reset2 = clone(out2, packetsSent=70, bytesSent=69_000, framesEncoded=22)
    samples = run([(t0, r0), (t1, replace(r1, out1, reset1)), (t2, replace(r2, out2, reset2))])
    during = send_video(samples[1])
    assert (during.packets, during.bitrate_bps) == (None, None)  # never negative
    after = send_video(samples[2])
    assert after.packets == 60
    dt_s = (out2["timestamp"] - out1["timestamp"]) / 1000
    assert after.bitrate_bps == pytest.approx(60_000 * 8 / dt_s)


def test_counter_reset_of_one_stream_leaves_the_others_counting() -> None:
    (t0, r0), (t1, r1) = chromium_a(0), chromium_a(1)
    out1 = one(r1, "outbound-rtp", "video")
    samples = run([(t0, r0), (t1, replace(r1, out1, clone(out1, packetsSent=1, bytesSent=10)))])
    assert samples[1] is not None and samples[1].audio is not None
    assert samples[1].audio.send is not None and (samples[1].audio.send.packets or 0) > 0


def test_a_secondary_counter_going_down_gives_no_delta_for_it_only() -> None:
    (t0, r0), (t1, r1) = chromium_b(0), chromium_b(1)
    in0 = one(r0, "inbound-rtp", "video")
    r0 = replace(r0, in0, clone(in0, freezeCount=5))
    samples = run([(t0, r0), (t1, r1)])
    recv = recv_of(samples[1], "video")
    assert recv.freeze_count is None
    assert (recv.packets or 0) > 0


def test_new_ssrc_is_a_baseline_and_contributes_nothing() -> None:
    (t0, r0), (t1, r1), (t2, r2) = chromium_b(0), chromium_b(1), chromium_b(2)
    audio1 = one(r1, "inbound-rtp", "audio")
    audio2 = one(r2, "inbound-rtp", "audio")
    # A second participant's audio appears behind an SFU at t1, with large counters already.
    extra1 = clone(audio1, id="IT01A42", ssrc=42, packetsReceived=5_000, bytesReceived=300_000)
    extra2 = clone(audio2, id="IT01A42", ssrc=42, packetsReceived=5_100, bytesReceived=306_000)
    samples = run([(t0, r0), (t1, r1 + [extra1]), (t2, r2 + [extra2])])
    only_first = recv_of(samples[1], "audio")
    assert (
        only_first.packets
        == audio1["packetsReceived"] - one(r0, "inbound-rtp", "audio")["packetsReceived"]
    )
    both = recv_of(samples[2], "audio")
    assert both.packets == audio2["packetsReceived"] - audio1["packetsReceived"] + 100


def test_ssrc_change_under_the_same_id_is_a_new_stream() -> None:
    (t0, r0), (t1, r1) = chromium_a(0), chromium_a(1)
    out1 = one(r1, "outbound-rtp", "video")
    samples = run([(t0, r0), (t1, replace(r1, out1, clone(out1, ssrc=1234)))])
    assert send_video(samples[1]).packets is None


def test_stream_that_disappears_leaves_the_state() -> None:
    (t0, r0), (t1, r1) = chromium_a(0), chromium_a(1)
    _, state = process_report(None, t0, r0)
    video = one(r1, "outbound-rtp", "video")
    sample, state = process_report(state, t1, replace(r1, video))
    assert sample is not None and sample.audio is not None and sample.video is not None
    assert sample.video.send is not None and sample.video.send.packets is None
    assert video["id"] not in state["streams"]


def test_stream_that_reappears_starts_from_a_baseline() -> None:
    (t0, r0), (t1, r1), (t2, r2) = chromium_a(0), chromium_a(1), chromium_a(2)
    video1 = one(r1, "outbound-rtp", "video")
    samples = run([(t0, r0), (t1, replace(r1, video1)), (t2, r2)])
    assert send_video(samples[2]).packets is None
    assert send_video(samples[2]).width == 640  # instantaneous values are still known


def simulcast(report: list[Stats], scale: float) -> list[Stats]:
    """Chromium's single video outbound-rtp split into three simulcast layers."""
    top = one(report, "outbound-rtp", "video")
    remote = one(report, "remote-inbound-rtp", "video")
    layers: list[Stats] = []
    for rid, (div, share) in {"q": (4, 0.1), "h": (2, 0.25), "f": (1, 0.65)}.items():
        ssrc = top["ssrc"] + div
        layers.append(
            clone(
                top,
                id=f"OT01V{ssrc}",
                ssrc=ssrc,
                rid=rid,
                remoteId=f"RIV{ssrc}",
                frameWidth=640 // div,
                frameHeight=480 // div,
                framesPerSecond=top["framesPerSecond"] - (div - 1),
                bytesSent=round(top["bytesSent"] * share * scale),
                packetsSent=round(top["packetsSent"] * share * scale),
            )
        )
        layers.append(clone(remote, id=f"RIV{ssrc}", ssrc=ssrc, localId=f"OT01V{ssrc}"))
    return replace(replace(report, top), remote, *layers)


def test_simulcast_sums_bytes_and_reports_the_top_layer() -> None:
    (t0, r0), (t1, r1) = chromium_a(0), chromium_a(1)
    samples = run([(t0, simulcast(r0, 1.0)), (t1, simulcast(r1, 1.0))])
    video = send_video(samples[1])
    single = send_video(run([(t0, r0), (t1, r1)])[1])
    assert video.bitrate_bps == pytest.approx(single.bitrate_bps, rel=0.01)
    assert video.packets == pytest.approx(single.packets, abs=2)
    assert (video.width, video.height) == (640, 480)
    assert video.frame_rate == one(r1, "outbound-rtp", "video")["framesPerSecond"]
    assert video.packets_lost == 0
    assert video.rtt_ms is not None and 0 < video.rtt_ms < 10


def test_simulcast_top_layer_is_the_largest_that_sent_in_the_interval() -> None:
    (t0, r0), (t1, r1) = chromium_a(0), chromium_a(1)
    first, second = simulcast(r0, 1.0), simulcast(r1, 1.0)
    # The 640x480 layer was paused (bandwidth): its counters stand still.
    f0 = next(s for s in first if s.get("rid") == "f")
    f1 = next(s for s in second if s.get("rid") == "f")
    second = replace(
        second, f1, clone(f1, bytesSent=f0["bytesSent"], packetsSent=f0["packetsSent"])
    )
    video = send_video(run([(t0, first), (t1, second)])[1])
    assert (video.width, video.height) == (320, 240)


def test_several_inbound_streams_sum_packets_loss_and_bitrate_and_average_jitter() -> None:
    reports = []
    for t, report in side(CHROMIUM, "b"):
        audio = one(report, "inbound-rtp", "audio")
        second = clone(
            audio,
            id="IT01A7",
            ssrc=7,
            jitter=0.010,
            packetsLost=audio["packetsReceived"] // 50,  # 2 % of what was sent to us lost
        )
        reports.append((t, [*report, second]))
    both = [recv_of(s, "audio") for s in run(reports)[1:]]
    alone = [recv_of(s, "audio") for s in run(side(CHROMIUM, "b"))[1:]]
    for b, a in zip(both, alone, strict=True):
        assert b.packets == 2 * (a.packets or 0)
        assert b.bitrate_bps == pytest.approx(2 * (a.bitrate_bps or 0))
        assert b.jitter_ms == pytest.approx(((a.jitter_ms or 0) + 10) / 2)
        assert b.packets_lost is not None and b.packets_lost > 0
        assert b.loss_pct is not None and 0.5 < b.loss_pct < 1.5


def test_several_inbound_videos_report_the_largest_picture_and_add_freezes() -> None:
    (t0, r0), (t1, r1) = chromium_b(0), chromium_b(1)
    tiles = []
    for report, freezes in ((r0, 1), (r1, 3)):
        video = one(report, "inbound-rtp", "video")
        thumb = clone(
            video,
            id="IT01V9",
            ssrc=9,
            frameWidth=160,
            frameHeight=120,
            freezeCount=freezes,
            totalFreezesDuration=0.5 * freezes,
            framesPerSecond=7,
        )
        tiles.append([*report, thumb])
    recv = recv_of(run([(t0, tiles[0]), (t1, tiles[1])])[1], "video")
    assert (recv.width, recv.height, recv.frame_rate) == (640, 480, 20)
    assert (recv.freeze_count, recv.freeze_duration_ms) == (2, 1000.0)


def test_duplicate_report_is_stale_and_leaves_the_state_unchanged() -> None:
    (t0, r0), (t1, r1) = chromium_a(0), chromium_a(1)
    _, state = process_report(None, t0, r0)
    sample, state = process_report(state, t1, r1)
    assert sample is not None
    snapshot = json.dumps(state, sort_keys=True)
    again, same = process_report(state, t1, r1)
    assert again is None and same is state
    assert json.dumps(same, sort_keys=True) == snapshot


def test_out_of_order_report_is_stale_and_the_next_report_covers_its_interval() -> None:
    reports = side(CHROMIUM, "a")
    (t0, r0), (t1, r1), (t2, r2) = reports[:3]
    in_order = run([(t0, r0), (t2, r2)])[1]
    _, state = process_report(None, t0, r0)
    late, state2 = process_report(state, t2, r2)
    stale, state3 = process_report(state2, t1, r1)  # t1 arrives after t2
    assert stale is None and state3 is state2
    assert late == in_order
    assert send_video(late).packets == (
        one(r2, "outbound-rtp", "video")["packetsSent"]
        - one(r0, "outbound-rtp", "video")["packetsSent"]
    )


@pytest.mark.parametrize("name", [CHROMIUM, FIREFOX])
@pytest.mark.parametrize("pc", ["a", "b"])
def test_state_json_round_trip_gives_identical_results(name: str, pc: str) -> None:
    direct: list[Sample | None] = []
    via_json: list[Sample | None] = []
    s1: dict[str, Any] | None = None
    s2: dict[str, Any] | None = None
    for t, report in side(name, pc):
        a, s1 = process_report(s1, t, report)
        b, s2 = process_report(json.loads(json.dumps(s2)) if s2 else None, t, report)
        direct.append(a)
        via_json.append(b)
        assert json.loads(json.dumps(s1)) == s1
    assert direct == via_json


@pytest.mark.parametrize("name", [CHROMIUM, FIREFOX])
def test_state_is_small_plain_json(name: str) -> None:
    state: dict[str, Any] | None = None
    for t, report in side(name, "b"):
        _, state = process_report(state, t, report)
    text = json.dumps(state, allow_nan=False)
    assert len(text) < 1500
    assert json.loads(text) == state


def test_unknown_state_version_starts_from_a_baseline() -> None:
    (t0, r0), (t1, r1) = chromium_a(0), chromium_a(1)
    _, state = process_report(None, t0, r0)
    sample, new_state = process_report({**state, "version": 0}, t1, r1)
    assert sample is None and new_state["version"] == STATE_VERSION


def test_non_positive_stats_time_delta_gives_no_bitrate() -> None:
    (t0, r0), (t1, r1) = chromium_a(0), chromium_a(1)
    out0 = one(r0, "outbound-rtp", "video")
    out1 = one(r1, "outbound-rtp", "video")
    r1 = replace(r1, out1, clone(out1, timestamp=out0["timestamp"]))
    video = send_video(run([(t0, r0), (t1, r1)])[1])
    assert video.bitrate_bps is None
    assert video.packets == out1["packetsSent"] - out0["packetsSent"]


def test_report_timestamp_times_streams_without_their_own() -> None:
    reports = []
    for t, report in side(CHROMIUM, "a")[:2]:
        reports.append((t, [{k: v for k, v in s.items() if k != "timestamp"} for s in report]))
    (t0, r0), (t1, r1) = reports
    video = send_video(run(reports)[1])
    sent = (
        one(r1, "outbound-rtp", "video")["bytesSent"]
        - one(r0, "outbound-rtp", "video")["bytesSent"]
    )
    assert video.bitrate_bps == pytest.approx(sent * 8 / ((t1 - t0) / 1000))


def test_packets_lost_dip_from_duplicates_is_not_counted_twice() -> None:
    reports = side(CHROMIUM, "b")[:4]
    lost = [0, 5, 3, 6]  # 5 lost, then 2 duplicates, then 1 more lost
    varied = []
    for (t, report), n in zip(reports, lost, strict=True):
        audio = one(report, "inbound-rtp", "audio")
        varied.append((t, replace(report, audio, clone(audio, packetsLost=n))))
    counted = [recv_of(s, "audio").packets_lost for s in run(varied)[1:]]
    assert counted == [5, 0, 1]


def test_send_loss_is_the_remote_inbound_packets_lost_delta() -> None:
    reports = side(CHROMIUM, "a")[1:4]
    varied = []
    for (t, report), n in zip(reports, [0, 4, 10], strict=True):
        remote = one(report, "remote-inbound-rtp", "video")
        varied.append((t, replace(report, remote, clone(remote, packetsLost=n))))
    assert [send_video(s).packets_lost for s in run(varied)[1:]] == [4, 6]


def test_rtt_prefers_the_interval_mean_over_the_latest_value() -> None:
    (t0, r0), (t1, r1) = chromium_a(1), chromium_a(2)
    rem0 = one(r0, "remote-inbound-rtp", "video")
    rem1 = one(r1, "remote-inbound-rtp", "video")
    r0 = replace(r0, rem0, clone(rem0, totalRoundTripTime=1.0, roundTripTimeMeasurements=10))
    r1 = replace(
        r1,
        rem1,
        clone(rem1, totalRoundTripTime=1.5, roundTripTimeMeasurements=20, roundTripTime=0.2),
    )
    assert send_video(run([(t0, r0), (t1, r1)])[1]).rtt_ms == pytest.approx(50.0)


def test_rtt_falls_back_to_the_selected_candidate_pair() -> None:
    (t0, r0), (t1, r1) = chromium_a(0), chromium_a(1)
    r1 = [s for s in r1 if s["type"] != "remote-inbound-rtp"]
    pair = next(s for s in r1 if s["id"] == "CP3JHLvHHi_CGBy9flz")
    r1 = replace(r1, pair, clone(pair, currentRoundTripTime=0.042))
    assert send_video(run([(t0, r0), (t1, r1)])[1]).rtt_ms == pytest.approx(42.0)


def test_safari_remote_inbound_without_kind_takes_the_kind_of_its_local_stream() -> None:
    (t0, r0), (t1, r1) = chromium_a(1), chromium_a(2)
    varied = []
    for t, report, lost in ((t0, r0, 0), (t1, r1, 3)):
        remote = one(report, "remote-inbound-rtp", "video")
        varied.append(
            (t, replace(report, remote, clone(remote, kind="", mediaType="", packetsLost=lost)))
        )
    assert send_video(run(varied)[1]).packets_lost == 3


def test_legacy_track_stats_supply_frame_size_freezes_and_concealment() -> None:
    varied = []
    for t, report in side(CHROMIUM, "b")[:2]:
        video = one(report, "inbound-rtp", "video")
        moved = {k: video[k] for k in ("frameWidth", "frameHeight", "freezeCount")}
        legacy = {k: v for k, v in video.items() if k not in moved and k != "framesPerSecond"}
        track = {"id": "T1", "type": "track", "timestamp": video["timestamp"], **moved}
        varied.append((t, replace(report, video, {**legacy, "trackId": "T1"}, track)))
    recv = recv_of(run(varied)[1], "video")
    assert (recv.width, recv.height, recv.freeze_count) == (640, 480, 0)
    assert recv.frame_rate == pytest.approx(20, abs=2)  # from framesDecoded over time


def test_legacy_firefox_is_remote_inbound_rtp_counts_as_remote_inbound() -> None:
    varied = []
    for (t, report), lost in zip(side(FIREFOX, "a")[1:3], [0, 2], strict=True):
        remote = one(report, "remote-inbound-rtp", "video")
        rtt_ms = remote["roundTripTime"] * 1000
        old = clone(remote, type="inbound-rtp", isRemote=True, packetsLost=lost, mozRtt=rtt_ms)
        del old["roundTripTime"], old["totalRoundTripTime"], old["roundTripTimeMeasurements"]
        varied.append((t, replace(report, remote, old)))
    video = send_video(run(varied)[1])
    assert video.packets_lost == 2
    assert video.rtt_ms == pytest.approx(one(varied[1][1], "inbound-rtp", "video")["mozRtt"])


def test_aiortc_integer_jitter_is_converted_from_rtp_timestamp_units() -> None:
    report = [
        {
            "id": "inbound-rtp_1",
            "type": "inbound-rtp",
            "kind": "audio",
            "ssrc": 1,
            "timestamp": 1000.0,
            "packetsReceived": 10,
            "packetsLost": 0,
            "jitter": 480,
        },
    ]
    later = [clone(report[0], timestamp=3000.0, packetsReceived=110)]
    recv = recv_of(run([(1000, report), (3000, later)])[1], "audio")
    assert recv.jitter_ms == pytest.approx(10.0)  # 480 units at 48 kHz
    assert recv.bitrate_bps is None  # aiortc has no bytesReceived, and no SR arrived


def test_missing_byte_counters_use_the_senders_rtcp_sender_report() -> None:
    def report(t: float, packets: int, sr_bytes: int, sr_time: float) -> list[Stats]:
        return [
            {
                "id": "inbound-rtp_1",
                "type": "inbound-rtp",
                "kind": "video",
                "ssrc": 1,
                "timestamp": t,
                "packetsReceived": packets,
                "packetsLost": 0,
                "jitter": 900,
            },
            {
                "id": "remote-outbound-rtp_1",
                "type": "remote-outbound-rtp",
                "kind": "video",
                "ssrc": 1,
                "timestamp": t,
                "packetsSent": packets,
                "bytesSent": sr_bytes,
                "remoteTimestamp": sr_time,
            },
        ]

    samples = run([(1000, report(1000, 10, 10_000, 900)), (3000, report(3000, 110, 60_000, 2900))])
    recv = recv_of(samples[1], "video")
    assert recv.bitrate_bps == pytest.approx(50_000 * 8 / 2.0)
    assert recv.jitter_ms == pytest.approx(10.0)  # 900 units at 90 kHz
