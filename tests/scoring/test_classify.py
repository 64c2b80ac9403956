"""Poor intervals and their causes (scoring/classify.py; docs/models.md, "Classification")."""

from __future__ import annotations

import pytest

from callquality.scoring.classify import IntervalFacts, audio_poor, causes_of, video_poor

GOOD_AUDIO = IntervalFacts(interval_ms=5000.0, audio_mos=4.4, audio_loss_pct=0.0,
                           audio_concealed_ratio=0.0, rtt_ms=40.0, jitter_ms=5.0)
GOOD_VIDEO = IntervalFacts(interval_ms=5000.0, video_vq=3.9, video_frame_rate=30.0,
                           video_loss_pct=0.0, video_freeze_ms=0.0)


def _with(base: IntervalFacts, **changes: object) -> IntervalFacts:
    fields = {name: getattr(base, name) for name in base.__slots__}  # type: ignore[attr-defined]
    fields.update(changes)
    return IntervalFacts(**fields)  # type: ignore[arg-type]


def test_good_intervals_are_not_poor() -> None:
    assert not audio_poor(GOOD_AUDIO) and not video_poor(GOOD_VIDEO)


@pytest.mark.parametrize("change", [
    {"audio_mos": 3.4},  # below the 3.5 line (G.107 Table B.1)
    {"rtt_ms": 501.0},  # Teams CQD: RTT > 500 ms
    {"audio_loss_pct": 10.5},  # CQD: packet loss > 10 %
    {"jitter_ms": 31.0},  # CQD: jitter > 30 ms
    {"audio_concealed_ratio": 0.071},  # CQD (older rule): concealed ratio > 7 %
])
def test_audio_is_poor_by_the_cqd_thresholds_or_its_mos(change: dict[str, float]) -> None:
    assert audio_poor(_with(GOOD_AUDIO, **change))


def test_muted_audio_is_never_poor() -> None:
    """docs/models.md: a muted interval is neither scored nor counted as bad."""
    assert not audio_poor(_with(GOOD_AUDIO, audio_mos=None, audio_muted=True, jitter_ms=80.0))


@pytest.mark.parametrize("change", [
    {"video_frame_rate": 6.9},  # CQD: frame rate < 7 frame/s
    {"video_loss_pct": 15.5},  # CQD: post-FEC loss > 15 %
    {"video_freeze_ms": 600.0},  # frozen > 10 % of a 5-s interval (Agora's 500 ms freeze)
    {"video_vq": 2.4},  # a starved picture
])
def test_video_is_poor_by_the_cqd_thresholds_freezes_or_a_starved_picture(
    change: dict[str, float],
) -> None:
    assert video_poor(_with(GOOD_VIDEO, **change))


def test_a_small_layer_scoring_fair_is_not_poor() -> None:
    """A 320×180 layer at 15 frame/s scoring 2.9 is what the receiver asked for: not poor."""
    assert not video_poor(_with(GOOD_VIDEO, video_vq=2.9, video_frame_rate=15.0))


@pytest.mark.parametrize(("change", "cause"), [
    ({"audio_loss_pct": 3.0}, "network loss"),
    ({"rtt_ms": 350.0}, "latency"),
    ({"jitter_ms": 45.0}, "jitter"),
    ({"audio_concealed_ratio": 0.05}, "concealment"),
    ({"limitation": "bandwidth"}, "sender bandwidth"),
    ({"limitation": "cpu"}, "sender CPU"),
    ({"video_vq": 2.0, "video_frame_rate": 5.0}, "low frame rate"),
    ({"video_freeze_ms": 800.0}, "freezes"),
])
def test_each_cause_is_named(change: dict[str, object], cause: str) -> None:
    facts = _with(_with(GOOD_AUDIO, video_vq=3.9, video_frame_rate=30.0), **change)
    assert causes_of(facts) == [cause]


def test_concealment_explained_by_loss_is_network_loss_alone() -> None:
    """5 % concealed at 4 % loss: the loss explains it."""
    assert causes_of(_with(GOOD_AUDIO, audio_loss_pct=4.0, audio_concealed_ratio=0.05)) == [
        "network loss"]
