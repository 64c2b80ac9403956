"""process_report on real browser getStats() captures: what it derives agrees with the browser."""

from __future__ import annotations

import pytest
from report_helpers import CHROMIUM, FIREFOX, one, run, side, snapshots

from callquality.domain.sample import DirectionStats, Sample

BOTH = [CHROMIUM, FIREFOX]


def samples(name: str, pc: str) -> list[Sample]:
    out = run(side(name, pc))
    assert out[0] is None  # the first report is a baseline
    assert all(s is not None for s in out[1:])
    return [s for s in out[1:] if s is not None]


def direction(sample: Sample, kind: str, dir_: str) -> DirectionStats:
    media = sample.media(kind)  # type: ignore[arg-type]
    assert media is not None
    stats = media.send if dir_ == "send" else media.recv
    assert stats is not None
    return stats


def counter_rate_bps(name: str, pc: str, type_: str, kind: str, counter: str) -> list[float]:
    """The browser's own byte counter over its own elapsed time, per interval, in bit/s."""
    snaps = snapshots(name)
    rates = []
    for before, after in zip(snaps, snaps[1:], strict=False):
        s0, s1 = one(before[pc], type_, kind), one(after[pc], type_, kind)
        rates.append(8 * (s1[counter] - s0[counter]) / ((s1["timestamp"] - s0["timestamp"]) / 1000))
    return rates


@pytest.mark.parametrize("name", BOTH)
@pytest.mark.parametrize("kind", ["audio", "video"])
def test_send_bitrate_is_the_payload_byte_counter_over_the_stats_elapsed_time(
    name: str, kind: str
) -> None:
    expected = counter_rate_bps(name, "a", "outbound-rtp", kind, "bytesSent")
    got = [direction(s, kind, "send").bitrate_bps for s in samples(name, "a")]
    assert got == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("name", BOTH)
@pytest.mark.parametrize("kind", ["audio", "video"])
def test_recv_bitrate_is_the_payload_byte_counter_over_the_stats_elapsed_time(
    name: str, kind: str
) -> None:
    expected = counter_rate_bps(name, "b", "inbound-rtp", kind, "bytesReceived")
    got = [direction(s, kind, "recv").bitrate_bps for s in samples(name, "b")]
    assert got == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize(
    ("name", "low", "high"), [(CHROMIUM, 22_000, 27_000), (FIREFOX, 60_000, 68_000)]
)
def test_audio_bitrate_is_the_opus_rate_the_fixture_documents(
    name: str, low: float, high: float
) -> None:
    # README: Chromium around 24 kbit/s, Firefox around 64 kbit/s: payload bytes, no headers.
    for s in samples(name, "a"):
        assert low < (direction(s, "audio", "send").bitrate_bps or 0) < high
    for s in samples(name, "b"):
        assert low < (direction(s, "audio", "recv").bitrate_bps or 0) < high


def test_chromium_video_is_640x480_at_the_frame_rate_the_browser_reports() -> None:
    snaps = snapshots(CHROMIUM)
    for snap, s in zip(snaps[1:], samples(CHROMIUM, "a"), strict=True):
        send = direction(s, "video", "send")
        out = one(snap["a"], "outbound-rtp", "video")
        assert (send.width, send.height) == (out["frameWidth"], out["frameHeight"]) == (640, 480)
        assert send.frame_rate == out["framesPerSecond"]
        assert 18 <= (send.frame_rate or 0) <= 21
    for snap, s in zip(snaps[1:], samples(CHROMIUM, "b"), strict=True):
        recv = direction(s, "video", "recv")
        inb = one(snap["b"], "inbound-rtp", "video")
        assert (recv.width, recv.height) == (inb["frameWidth"], inb["frameHeight"]) == (640, 480)
        assert recv.frame_rate == inb["framesPerSecond"]


def test_firefox_video_size_follows_the_encoder_as_it_ramps_up() -> None:
    snaps = snapshots(FIREFOX)
    for snap, s in zip(snaps[1:], samples(FIREFOX, "b"), strict=True):
        recv = direction(s, "video", "recv")
        inb = one(snap["b"], "inbound-rtp", "video")
        assert (recv.width, recv.height) == (inb["frameWidth"], inb["frameHeight"])
        assert recv.frame_rate == inb["framesPerSecond"]
    last = direction(samples(FIREFOX, "a")[-1], "video", "send")
    assert (last.width, last.height) == (640, 480)


@pytest.mark.parametrize("name", BOTH)
def test_frame_rate_agrees_with_frames_decoded_over_time(name: str) -> None:
    snaps = snapshots(name)
    for before, after, s in zip(snaps, snaps[1:], samples(name, "b"), strict=False):
        i0, i1 = one(before["b"], "inbound-rtp", "video"), one(after["b"], "inbound-rtp", "video")
        counted = (i1["framesDecoded"] - i0["framesDecoded"]) / (
            (i1["timestamp"] - i0["timestamp"]) / 1000
        )
        assert direction(s, "video", "recv").frame_rate == pytest.approx(counted, abs=2.5)


@pytest.mark.parametrize("name", BOTH)
def test_loopback_call_has_zero_loss(name: str) -> None:
    for s in samples(name, "b"):
        for kind in ("audio", "video"):
            recv = direction(s, kind, "recv")
            assert recv.packets_lost == 0
            assert recv.loss_pct == 0.0
            assert (recv.packets or 0) > 0
    for s in samples(name, "a")[2:]:  # after the first RTCP receiver reports
        for kind in ("audio", "video"):
            assert direction(s, kind, "send").packets_lost == 0


@pytest.mark.parametrize("name", BOTH)
def test_loopback_rtt_is_a_few_ms(name: str) -> None:
    rtts = [direction(s, "video", "send").rtt_ms for s in samples(name, "a")]
    assert all(r is not None and 0 < r < 10 for r in rtts)


def test_chromium_audio_rtt_is_known_from_the_first_interval() -> None:
    # The first interval has no remote-inbound-rtp for audio yet: the candidate pair's RTT.
    rtts = [direction(s, "audio", "send").rtt_ms for s in samples(CHROMIUM, "a")]
    assert all(r is not None and 0 < r < 10 for r in rtts)


def test_firefox_unmeasured_audio_rtt_is_unknown_not_zero() -> None:
    # Firefox: remote-inbound roundTripTimeMeasurements 0 and candidate-pair RTT 0 = unmeasured.
    rtts = [direction(s, "audio", "send").rtt_ms for s in samples(FIREFOX, "a")]
    assert rtts[:3] == [None, None, None]
    assert all(r is not None and 0 < r < 10 for r in rtts[3:])


@pytest.mark.parametrize("name", BOTH)
def test_jitter_is_reported_in_milliseconds(name: str) -> None:
    snaps = snapshots(name)
    for snap, s in zip(snaps[1:], samples(name, "b"), strict=True):
        inb = one(snap["b"], "inbound-rtp", "audio")
        assert direction(s, "audio", "recv").jitter_ms == pytest.approx(inb["jitter"] * 1000)
    for snap, s in zip(snaps[1:], samples(name, "a"), strict=True):
        remote = one(snap["a"], "remote-inbound-rtp", "video")
        assert direction(s, "video", "send").jitter_ms == pytest.approx(remote["jitter"] * 1000)


@pytest.mark.parametrize("name", BOTH)
def test_codecs_are_named_by_mime_subtype(name: str) -> None:
    for pc in ("a", "b"):
        for s in samples(name, pc):
            assert (s.codec_audio, s.codec_video) == ("opus", "VP8")


def test_chromium_sender_reports_quality_limitation_and_available_outgoing_bitrate() -> None:
    for s in samples(CHROMIUM, "a"):
        video = direction(s, "video", "send")
        assert video.quality_limitation_reason == "none"
        assert video.available_outgoing_bitrate_bps == 3_512_000
        assert direction(s, "audio", "send").quality_limitation_reason is None


def test_firefox_has_no_quality_limitation_reason() -> None:
    for s in samples(FIREFOX, "a"):
        assert direction(s, "video", "send").quality_limitation_reason is None


@pytest.mark.parametrize("name", BOTH)
def test_receiver_reports_no_freezes_and_little_concealment(name: str) -> None:
    for s in samples(name, "b"):
        video = direction(s, "video", "recv")
        assert (video.freeze_count, video.freeze_duration_ms) == (0, 0.0)
        ratio = direction(s, "audio", "recv").concealed_ratio
        assert ratio is not None and 0 <= ratio < 0.05


@pytest.mark.parametrize("name", BOTH)
def test_interval_is_the_time_between_reports(name: str) -> None:
    snaps = snapshots(name)
    for before, after, s in zip(snaps, snaps[1:], samples(name, "a"), strict=False):
        assert s.interval_ms == round(after["t"] - before["t"])


@pytest.mark.parametrize("name", BOTH)
def test_sender_has_no_recv_side_and_receiver_no_send_side(name: str) -> None:
    for s in samples(name, "a"):
        assert s.audio is not None and s.audio.recv is None
    for s in samples(name, "b"):
        assert s.video is not None and s.video.send is None
