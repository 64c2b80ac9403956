"""score_sample: which direction and which numbers a participant's scores come from.

Rule (docs/models.md, "Which numbers a sample is scored from"): received media first, else the
sent media as the remote end reported it, else no score; RTT from the sent audio, else video.
"""

from __future__ import annotations

import json
import math

import pytest

from callquality.domain.sample import DirectionStats, MediaStats, Sample
from callquality.scoring import audio_score, score_sample, video_score

RECV_AUDIO = DirectionStats(packets=245, packets_lost=5, jitter_ms=12.0, concealed_ratio=0.01)
SEND_AUDIO = DirectionStats(packets=250, packets_lost=25, jitter_ms=40.0, rtt_ms=80.0)
RECV_VIDEO = DirectionStats(packets=900, packets_lost=9, bitrate_bps=1_200_000.0, frame_rate=24.0,
                            width=1280, height=720, freeze_duration_ms=500.0)
SEND_VIDEO = DirectionStats(packets=800, packets_lost=0, bitrate_bps=900_000.0, frame_rate=30.0,
                            rtt_ms=120.0)


def _sample(**kwargs: object) -> Sample:
    return Sample(interval_ms=5000, codec_audio="opus", codec_video="VP8", **kwargs)  # type: ignore[arg-type]


def test_audio_is_scored_from_what_was_received() -> None:
    """Rule: recv loss, recv jitter and concealment; RTT from the sent audio."""
    score = score_sample(_sample(audio=MediaStats(send=SEND_AUDIO, recv=RECV_AUDIO)))
    assert score.audio_direction == "recv"
    assert score.audio == audio_score(rtt_ms=80.0, jitter_ms=12.0, loss_pct=2.0, codec="opus",
                                      concealed_ratio=0.01)


def test_audio_falls_back_to_the_sent_direction_as_the_remote_reported_it() -> None:
    """Rule: no received audio → send.loss_pct and send.jitter_ms, no concealment."""
    score = score_sample(_sample(audio=MediaStats(send=SEND_AUDIO)))
    assert score.audio_direction == "send"
    assert score.audio == audio_score(rtt_ms=80.0, jitter_ms=40.0, loss_pct=25 / 275 * 100,
                                      codec="opus")


def test_audio_rtt_comes_from_video_when_audio_has_none() -> None:
    """Rule: RTT of the same kind, else of the other kind."""
    score = score_sample(_sample(audio=MediaStats(recv=RECV_AUDIO),
                                 video=MediaStats(send=SEND_VIDEO)))
    assert score.audio is not None
    assert score.audio.rtt_ms == 120.0


def test_unknown_rtt_assumes_no_network_delay() -> None:
    """Rule: no RTT anywhere → network delay 0; Ta is jitter buffer + codec delay only."""
    score = score_sample(_sample(audio=MediaStats(recv=RECV_AUDIO)))
    assert score.audio is not None
    assert score.audio.rtt_ms is None
    assert score.audio.ta_ms == pytest.approx(24.0 + 26.5)


def test_video_is_scored_from_what_was_received_with_its_freezes() -> None:
    """Rule: recv bitrate, frame rate, loss and freeze time over the sample's interval."""
    score = score_sample(_sample(video=MediaStats(send=SEND_VIDEO, recv=RECV_VIDEO)))
    assert score.video_direction == "recv"
    assert score.video == video_score(bitrate_bps=1_200_000.0, frame_rate=24.0,
                                      loss_pct=9 / 909 * 100,
                                      codec="VP8", width=1280, height=720,
                                      freeze_duration_ms=500.0, interval_ms=5000.0)


def test_video_falls_back_to_the_sent_direction() -> None:
    """Rule: no received video → send bitrate, frame rate and remote-reported loss."""
    score = score_sample(_sample(video=MediaStats(send=SEND_VIDEO)))
    assert score.video_direction == "send"
    assert score.video == video_score(bitrate_bps=900_000.0, frame_rate=30.0, loss_pct=0.0,
                                      codec="VP8")


def test_a_kind_with_no_media_is_not_scored() -> None:
    """Rule: no direction carried packets (or none is present) → None, not a perfect score."""
    silent = DirectionStats(packets=0, packets_lost=0, bitrate_bps=0.0)
    score = score_sample(_sample(audio=MediaStats(recv=silent, send=silent)))
    assert score.audio is None and score.audio_direction is None
    assert score.video is None and score.video_direction is None


def test_video_without_a_frame_rate_is_not_scored() -> None:
    """G.1070 §11.3 needs bitrate and frame rate: without either there is no Vq."""
    no_fps = DirectionStats(packets=100, packets_lost=0, bitrate_bps=500_000.0)
    assert score_sample(_sample(video=MediaStats(recv=no_fps))).video is None


def test_values_no_model_can_take_are_treated_as_unknown() -> None:
    """scoring/sample_score.py: a negative jitter or a NaN concealment is unknown, not an error."""
    odd = DirectionStats(packets=100, packets_lost=0, jitter_ms=-3.0, concealed_ratio=math.nan)
    score = score_sample(_sample(audio=MediaStats(recv=odd)))
    assert score.audio is not None
    assert score.audio.jitter_ms is None and score.audio.concealed_ratio is None


def test_inputs_are_flat_snake_case_and_json_ready() -> None:
    """CONTRACT.md ?extended=true shows "the inputs the scores were computed from"."""
    score = score_sample(_sample(audio=MediaStats(send=SEND_AUDIO, recv=RECV_AUDIO),
                                 video=MediaStats(recv=RECV_VIDEO)))
    inputs = score.inputs()
    assert json.loads(json.dumps(inputs, allow_nan=False)) == inputs
    assert all(k == k.lower() and " " not in k for k in inputs)
    assert score.audio is not None
    assert inputs["audio_r"] == score.audio.r
    assert inputs["audio_loss_pct"] == pytest.approx(2.0)
    assert inputs["video_bitrate_kbps"] == 1200.0
    assert inputs["video_frozen_fraction"] == 0.1


def test_inputs_have_the_same_keys_when_nothing_was_scored() -> None:
    """Stable schema: an unscored kind reports its keys with None."""
    empty = score_sample(Sample(interval_ms=5000)).inputs()
    full = score_sample(_sample(audio=MediaStats(recv=RECV_AUDIO),
                                video=MediaStats(recv=RECV_VIDEO))).inputs()
    audio_only = score_sample(_sample(audio=MediaStats(recv=RECV_AUDIO))).inputs()
    video_only = score_sample(_sample(video=MediaStats(recv=RECV_VIDEO))).inputs()
    assert list(empty) == list(full) == list(audio_only) == list(video_only)  # in one order
    assert all(v is None for v in empty.values())
    assert audio_only["audio_mos"] is not None and audio_only["video_vq"] is None
    assert video_only["video_vq"] is not None and video_only["audio_mos"] is None


def test_received_audio_on_which_no_stream_carried_speech_is_muted_not_scored() -> None:
    """docs/models.md, "Muted and silent audio": every received stream silent (muted_ratio 1)
    → no speech to judge: no score, audio_muted."""
    muted = DirectionStats(packets=5, packets_lost=0, concealed_ratio=0.0,
                           silent_concealed_ratio=0.95, muted_ratio=1.0)
    score = score_sample(_sample(audio=MediaStats(recv=muted)))
    assert score.audio is None and score.audio_muted
    assert score.inputs()["audio_muted"] == 1.0


def test_one_speaking_stream_among_muted_ones_is_scored() -> None:
    """An SFU call where two of three remote participants are muted is still a call to judge."""
    some = DirectionStats(packets=110, packets_lost=0, concealed_ratio=0.0,
                          silent_concealed_ratio=0.6, muted_ratio=0.67)
    score = score_sample(_sample(audio=MediaStats(recv=some)))
    assert score.audio is not None and not score.audio_muted
    assert score.inputs()["audio_muted"] == 0.0


def test_without_a_stream_judgement_half_silent_concealment_is_muted() -> None:
    """A source with the silent-concealment ratio only: ≥ 50 % concealed silence is muted."""
    mostly_silent = DirectionStats(packets=82, packets_lost=0, concealed_ratio=0.05,
                                   silent_concealed_ratio=0.95)
    assert score_sample(_sample(audio=MediaStats(recv=mostly_silent))).audio_muted
    assert not score_sample(_sample(audio=MediaStats(recv=DirectionStats(
        packets=250, packets_lost=0, concealed_ratio=0.01,
        silent_concealed_ratio=0.2)))).audio_muted
