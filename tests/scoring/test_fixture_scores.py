"""Scores of a real capture: Chromium 156 loopback, Opus + VP8 at 640x480, no impairment.

/work/shared/fixtures/README.md: zero loss, RTT of a few ms, Opus, video near 20 frame/s.
"""

from __future__ import annotations

import json

import pytest
from conftest import FIXTURES

from callquality.domain.sample import Sample
from callquality.ingest.report import process_report
from callquality.scoring import audio_score, score_sample, video_score

FIXTURE = FIXTURES / "chromium-156-loopback-getstats.json"


def _samples(peer: str) -> list[Sample]:
    snapshots = json.loads(FIXTURE.read_text())
    state = None
    samples = []
    for snapshot in snapshots:
        sample, state = process_report(state, snapshot["t"], snapshot[peer])
        if sample is not None:
            samples.append(sample)
    return samples


@pytest.fixture(scope="module")
def receiver() -> list[Sample]:
    assert FIXTURE.exists(), f"fixture not found: {FIXTURE}"
    return _samples("b")


def test_clean_loopback_audio_scores_at_the_top_for_opus(receiver: list[Sample]) -> None:
    """No loss, ~0 jitter, ~1 ms RTT: every interval within 0.01 of a perfect Opus call, which
    on the fullband scale (G.107.2) is MOS 4.30, near the scale's 4.5 top."""
    top = audio_score(rtt_ms=0.0, jitter_ms=0.0, loss_pct=0.0, codec="opus").mos
    assert receiver
    for sample in receiver:
        score = score_sample(sample)
        assert score.audio is not None and score.audio_direction == "recv"
        assert score.audio.codec == "opus"
        assert score.audio.mos == pytest.approx(top, abs=0.01)
        assert score.audio.scale == "fullband"
        assert score.audio.mos == pytest.approx(4.30, abs=0.01)


def test_clean_loopback_video_is_g1070_of_the_measured_bitrate_and_frame_rate(
    receiver: list[Sample],
) -> None:
    """No loss and no freezes: Vq is exactly video_score() of the received bitrate and fps."""
    for sample in receiver:
        score = score_sample(sample)
        recv = sample.video.recv if sample.video else None
        assert recv is not None and recv.bitrate_bps and recv.frame_rate
        assert score.video is not None and score.video_direction == "recv"
        assert score.video.vq == video_score(bitrate_bps=recv.bitrate_bps,
                                             frame_rate=recv.frame_rate, loss_pct=0.0).vq
