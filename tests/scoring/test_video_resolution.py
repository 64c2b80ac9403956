"""The video score knows the picture size (docs/models.md, "Video": G.1070 at the stream's
resolution, judged against libwebrtc's own bitrate for that size)."""

from __future__ import annotations

import pytest

from callquality.scoring import video_score
from callquality.scoring.video import (
    DEFAULT_COEFFICIENTS,
    VGA_PIXELS,
    detail_factor,
    g1070_vq,
    reference_bitrate_kbps,
)


def _vq(width: int, height: int, bitrate_bps: float, frame_rate: float = 30.0) -> float:
    return video_score(bitrate_bps=bitrate_bps, frame_rate=frame_rate, loss_pct=0.0,
                       width=width, height=height, codec="VP8").vq


def test_720p_scores_above_360p_at_the_same_bitrate_and_frame_rate() -> None:
    """Issue 14: 1280×720 at 30 frame/s and 1.5 Mbit/s above 640×360 at the same."""
    assert _vq(1280, 720, 1_500_000.0) > _vq(640, 360, 1_500_000.0)


def test_a_clean_1080p_stream_at_2_5_mbit_scores_above_g1070s_vga_ceiling() -> None:
    """Issue 14: no clean HD call could exceed 4.05 (1 + v3 of the VGA set); 1080p at
    2.5 Mbit/s now does."""
    assert 1.0 + DEFAULT_COEFFICIENTS.v3 == pytest.approx(4.051)
    assert _vq(1920, 1080, 2_500_000.0) > 4.05


def test_a_180p_simulcast_layer_at_its_webrtc_bitrate_is_not_a_poor_picture() -> None:
    """libwebrtc sends a 320×180 layer at up to 200 kbit/s; at 100 kbit/s and 30 frame/s it
    is judged as the layer it is: above 3.0 (the poor-video line, docs/metrics.md)."""
    assert _vq(320, 180, 100_000.0) > 3.0


def test_the_reference_bitrate_is_libwebrtcs_simulcast_table() -> None:
    """media/engine/simulcast.cc kSimulcastFormats: max 200 / 700 / 2500 / 5000 kbit/s at
    320×180 / 640×360 / 1280×720 / 1920×1080; VGA lies between 640×360 and 960×540 (900)."""
    assert reference_bitrate_kbps(320 * 180) == 200.0
    assert reference_bitrate_kbps(640 * 360) == 700.0
    assert reference_bitrate_kbps(1280 * 720) == 2500.0
    assert reference_bitrate_kbps(1920 * 1080) == 5000.0
    assert reference_bitrate_kbps(VGA_PIXELS) == pytest.approx(700 + 200 * 76800 / 288000)


def test_vga_is_scored_by_g1070s_vga_set_unchanged() -> None:
    """At 640×480 (the set's own format) the score is G.1070 §11.3 with rule 3 only."""
    got = _vq(640, 480, 1_000_000.0, frame_rate=15.0)
    assert got == pytest.approx(g1070_vq(bitrate_kbps=1000.0, frame_rate=15.0,
                                         loss_pct=0.0, hold_above_ofr=True).vq, abs=1e-12)


def test_an_unknown_size_is_scored_as_vga() -> None:
    """docs/models.md: no frame size → the format the coefficients were fitted to."""
    unknown = video_score(bitrate_bps=800_000.0, frame_rate=25.0, loss_pct=0.0)
    assert unknown.vq == pytest.approx(_vq(640, 480, 800_000.0, 25.0), abs=1e-12)


def test_detail_is_credited_above_vga_only_and_stops_at_the_top_of_the_scale() -> None:
    """Our assumption (docs/models.md): +15 % of Vq − 1 per doubling of pixels above VGA, no
    penalty below it, capped where a perfect stream would pass 5."""
    assert detail_factor(320 * 180) == detail_factor(VGA_PIXELS) == 1.0
    assert detail_factor(2 * VGA_PIXELS) == pytest.approx(1.15)
    assert detail_factor(3840 * 2160) == pytest.approx(4.0 / DEFAULT_COEFFICIENTS.v3)


def test_a_starved_hd_stream_scores_below_a_well_fed_small_one() -> None:
    """Judged against its own bitrate: 720p at 150 kbit/s (6 % of libwebrtc's 2500) is worse
    than 360p at the same 150 kbit/s (21 % of 700)."""
    assert _vq(1280, 720, 150_000.0) < _vq(640, 360, 150_000.0)
