"""A receive-only participant's own round trip reaches its sample and its audio score."""

from __future__ import annotations

import json

from conftest import fixture_path

from callquality.domain.sample import Sample
from callquality.ingest.report import process_report
from callquality.scoring import score_sample


def receiver_samples() -> list[Sample]:
    snapshots = json.loads(fixture_path("chromium-156-loopback-getstats.json").read_text())
    state = None
    out = []
    for snap in snapshots:
        sample, state = process_report(state, snap["t"], snap["b"])
        if sample is not None:
            out.append(sample)
    return out


def test_the_receiver_reports_its_own_rtt() -> None:
    samples = receiver_samples()
    assert samples
    for s in samples:
        assert s.audio is not None and s.audio.send is None, "b only receives"
        assert s.audio.recv is not None and s.audio.recv.rtt_ms is not None
        assert 0 < s.audio.recv.rtt_ms < 20, "loopback: a few ms"


def test_a_receive_only_participant_is_scored_with_its_delay() -> None:
    (sample, *_) = receiver_samples()
    score = score_sample(sample)
    assert score.audio is not None
    assert score.inputs()["audio_rtt_ms"] == sample.audio.recv.rtt_ms  # type: ignore[union-attr]
