"""Scores of a real capture: Chromium 156 loopback, Opus + VP8 at 640x480, no impairment.

/work/shared/fixtures/README.md: zero loss, RTT of a few ms, Opus, video near 20 frame/s.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import FIXTURES

from callquality.domain.sample import Sample
from callquality.ingest.dumps import read_dump
from callquality.ingest.report import process_report
from callquality.scoring import audio_score, score_sample, video_score
from callquality.scoring.classify import IntervalFacts, causes_of

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
    on the fullband scale (G.107.2, Ie,FB 10.2) is MOS 4.40, near the scale's 4.5 top."""
    top = audio_score(rtt_ms=0.0, jitter_ms=0.0, loss_pct=0.0, codec="opus").mos
    assert receiver
    for sample in receiver:
        score = score_sample(sample)
        assert score.audio is not None and score.audio_direction == "recv"
        assert score.audio.codec == "opus"
        assert score.audio.mos == pytest.approx(top, abs=0.01)
        assert score.audio.band == "fullband"
        assert score.audio.mos == pytest.approx(4.40, abs=0.01)


def test_clean_loopback_video_is_g1070_of_the_measured_bitrate_and_frame_rate(
    receiver: list[Sample],
) -> None:
    """No loss and no freezes: Vq is exactly video_score() of the received bitrate, frame rate
    and frame size."""
    for sample in receiver:
        score = score_sample(sample)
        recv = sample.video.recv if sample.video else None
        assert recv is not None and recv.bitrate_bps and recv.frame_rate
        assert score.video is not None and score.video_direction == "recv"
        assert score.video.vq == video_score(bitrate_bps=recv.bitrate_bps,
                                             frame_rate=recv.frame_rate, loss_pct=0.0,
                                             codec="VP8", width=recv.width,
                                             height=recv.height).vq


CLIENT_DUMPS = [
    "webrtc-internals/chrome144-two-pcs.json",
    "webrtc-internals/chrome86-two-pcs.json",
    "rtcstats/chrome144-two-pcs.rtcstats",
    "rtcstats/firefox-standard-stats-sfu.rtcstats",
    "rtcstats/google-legacy-stats-p2p.rtcstats",
    "rtcstats/google-standard-stats-p2p.rtcstats",
    "rtcstats/google-standard-stats-sfu.rtcstats",
    "rtcstats/safari-standard-stats.rtcstats",
    "rtcstats/chrome96-standard-stats-p2p-add-transceiver.rtcstats",
    "rtcstats-legacy/fippo-clienttest-chrome48.json",
]


@pytest.mark.parametrize("name", CLIENT_DUMPS)
def test_no_interval_of_a_real_dump_scores_below_3_5_without_a_cause(name: str) -> None:
    """Issue 14: re-imported, no clean call scores below 3.5 unless a documented cause
    explains it (scoring/classify.py). Today one interval of the fixtures does: chrome86,
    MOS 3.01 with 6.8 % audible concealment at no loss ("concealment")."""
    path = FIXTURES / name
    states: dict[str, Any] = {}
    below = 0
    for r in read_dump(path.read_bytes()):
        sample, states[r.peer_connection_id] = process_report(
            states.get(r.peer_connection_id), r.timestamp_ms, r.report)
        if sample is None:
            continue
        score = score_sample(sample)
        if score.audio is None or score.audio.mos >= 3.5:
            continue
        recv = sample.audio.recv if sample.audio else None
        facts = IntervalFacts(
            interval_ms=float(sample.interval_ms), audio_mos=score.audio.mos,
            audio_loss_pct=score.audio.loss_pct, audio_concealed_ratio=score.audio.concealed_ratio,
            rtt_ms=score.audio.rtt_ms, jitter_ms=score.audio.jitter_ms,
            video_freeze_ms=None, limitation=None,
        )
        assert recv is not None
        assert causes_of(facts), (name, r.peer_connection_id, score.audio)
        below += 1
    assert below == (1 if "chrome86" in name else 0)
