"""G.1070 video quality: the §11.3 function, its coefficient set, and our freeze penalty.

No worked numeric example of G.1070 was available to us (docs/models.md, "Validation"): the
checks are identities of the Recommendation's equations and a cross-check with an independent
public implementation of the same coefficient set.
"""

from __future__ import annotations

import math

import pytest

from callquality.scoring import ScoringInputError, video_score
from callquality.scoring.video import H264_VGA_6IN, H264_VGA_9IN, g1070_vq


def test_vga_h264_at_1_mbit_30_fps_matches_an_independent_implementation() -> None:
    """OctaveCharrin/rl-mpquic tests/test_g1070.py: same set (H.264 BP, VGA, 6-inch) at
    1000 kbit/s, 30 frame/s, no loss → Vq ≈ 3.87 (their hand-computed reference, ±0.05)."""
    assert g1070_vq(bitrate_kbps=1000.0, frame_rate=30.0, loss_pct=0.0).vq == pytest.approx(
        3.87, abs=0.05
    )


def test_vga_h264_at_1_mbit_30_fps_by_hand() -> None:
    """G.1070 §11.3 evaluated step by step for H.264 BP VGA 6-inch, Br = 1000, Fr = 30:
    Ofr = 6.743 + 9.998 = 16.741; IOfr = 3.051 − 3.051/(1 + (1000/168.1)^1.766) = 2.9255;
    DFrV = 1.130 + 1.834 = 2.964; Icoding = IOfr·exp(−(ln 30 − ln 16.741)²/(2·2.964²)) = 2.8694."""
    t = g1070_vq(bitrate_kbps=1000.0, frame_rate=30.0, loss_pct=0.0)
    assert t.ofr == pytest.approx(16.741, abs=1e-9)
    assert t.iofr == pytest.approx(2.9255, abs=1e-4)
    assert t.dfrv == pytest.approx(2.964, abs=1e-9)
    assert t.i_coding == pytest.approx(2.8694, abs=1e-4)
    assert t.vq == pytest.approx(3.8694, abs=1e-4)


def test_icoding_peaks_at_the_optimal_frame_rate() -> None:
    """G.1070 §11.3: at Fr = Ofr the Gaussian term is 1, so Icoding = IOfr."""
    ofr = H264_VGA_6IN.v1 + H264_VGA_6IN.v2 * 500.0
    t = g1070_vq(bitrate_kbps=500.0, frame_rate=ofr, loss_pct=0.0)
    assert t.i_coding == pytest.approx(t.iofr, abs=1e-12)


def test_iofr_is_half_its_ceiling_at_bitrate_v4() -> None:
    """G.1070 §11.3: IOfr = v3 − v3/(1 + (Br/v4)^v5) equals v3/2 at Br = v4."""
    t = g1070_vq(bitrate_kbps=H264_VGA_6IN.v4, frame_rate=10.0, loss_pct=0.0)
    assert t.iofr == pytest.approx(H264_VGA_6IN.v3 / 2.0, abs=1e-12)


def test_loss_divides_icoding_by_e_at_ppl_equal_dpplv() -> None:
    """G.1070 §11.3: Vq − 1 = Icoding·exp(−Ppl/DPplV); at Ppl = DPplV it is Icoding/e."""
    clean = g1070_vq(bitrate_kbps=800.0, frame_rate=15.0, loss_pct=0.0)
    lossy = g1070_vq(bitrate_kbps=800.0, frame_rate=15.0, loss_pct=clean.dpplv)
    assert lossy.vq - 1.0 == pytest.approx(clean.i_coding / math.e, abs=1e-12)


def test_the_9_inch_set_matches_its_two_public_transcriptions() -> None:
    """5g-media/ss-cno-teleimmersive-game runner/utils/qoe.py and OctaveCharrin/rl-mpquic
    src/ns3env/g1070.py both give H.264 VGA 9.2-inch as these twelve values."""
    assert [getattr(H264_VGA_9IN, f"v{i}") for i in range(1, 13)] == [
        5.517, 0.0129, 3.459, 178.53, 1.02, 1.15, 0.000355, 0.114, 513.77, 0.736, -6.451, 13.684
    ]


def test_bitrate_is_given_in_bps_and_modelled_in_kbps() -> None:
    """G.1070 §11.3: BrV in kbit/s; video_score takes bits per second."""
    s = video_score(bitrate_bps=1_000_000.0, frame_rate=30.0, loss_pct=0.0)
    assert s.bitrate_kbps == 1000.0
    assert s.vq == pytest.approx(
        g1070_vq(bitrate_kbps=1000.0, frame_rate=30.0, loss_pct=0.0, hold_above_ofr=True).vq
    )


def test_above_the_optimal_frame_rate_the_score_holds_at_its_peak() -> None:
    """docs/models.md rule 3: G.1070's Gaussian in ln Fr falls again above Ofr (16.7 frame/s at
    1 Mbit/s: 30 frame/s gives Icoding 2.869 < IOfr 2.926); the score holds it at IOfr."""
    plain = g1070_vq(bitrate_kbps=1000.0, frame_rate=30.0, loss_pct=0.0)
    held = g1070_vq(bitrate_kbps=1000.0, frame_rate=30.0, loss_pct=0.0, hold_above_ofr=True)
    assert plain.i_coding == pytest.approx(2.8694, abs=1e-4)
    assert held.i_coding == pytest.approx(held.iofr) == pytest.approx(2.9255, abs=1e-4)


@pytest.mark.parametrize(("bitrate_bps", "frame_rate"), [(0.0, 30.0), (500_000.0, 0.0)])
def test_no_bits_or_no_frames_is_the_bottom_of_the_scale(
    bitrate_bps: float, frame_rate: float
) -> None:
    """G.1070 §11.3 limits: IOfr → 0 as Br → 0, the ln Fr Gaussian → 0 as Fr → 0: Vq = 1."""
    assert video_score(bitrate_bps=bitrate_bps, frame_rate=frame_rate, loss_pct=0.0).vq == 1.0


def test_a_quarter_frozen_interval_keeps_three_quarters_of_vq_above_1() -> None:
    """docs/models.md freeze penalty: Vq = 1 + (Vq_G1070 − 1)·(1 − frozen/interval)."""
    s = video_score(bitrate_bps=1_000_000.0, frame_rate=30.0, loss_pct=0.0,
                    freeze_duration_ms=1250.0, interval_ms=5000.0)
    assert s.frozen_fraction == 0.25
    assert s.vq == pytest.approx(1.0 + (s.vq_g1070 - 1.0) * 0.75)


def test_a_fully_frozen_interval_scores_1() -> None:
    """docs/models.md freeze penalty: frozen for the whole interval (or longer) → Vq = 1."""
    s = video_score(bitrate_bps=1_000_000.0, frame_rate=30.0, loss_pct=0.0,
                    freeze_duration_ms=6000.0, interval_ms=5000.0)
    assert s.frozen_fraction == 1.0
    assert s.vq == 1.0


def test_vp8_vp9_av1_and_h264_share_one_bitrate_ladder() -> None:
    """docs/models.md: libwebrtc gives VP8 and H.264 one simulcast table, and no efficiency
    factor for VP9 or AV1 was found: all four are judged against the same bitrate."""
    scores = {c: video_score(bitrate_bps=1_500_000.0, frame_rate=30.0, loss_pct=0.0, codec=c,
                             width=1280, height=720).vq for c in ("VP8", "VP9", "AV1", "H264")}
    assert len(set(scores.values())) == 1


def test_h265_needs_the_bitrate_libwebrtcs_h265_table_gives() -> None:
    """libwebrtc kSimulcastFormatsH265: 1524 kbit/s at 1280×720 where VP8 gets 2500, so H.265
    at 1524 kbit/s scores as VP8 at 2500 kbit/s."""
    h265 = video_score(bitrate_bps=1_524_000.0, frame_rate=30.0, loss_pct=0.0, codec="H265",
                       width=1280, height=720)
    vp8 = video_score(bitrate_bps=2_500_000.0, frame_rate=30.0, loss_pct=0.0, codec="VP8",
                      width=1280, height=720)
    assert h265.vq == pytest.approx(vp8.vq, abs=1e-9)


def test_out_of_domain_inputs_are_rejected() -> None:
    """scoring/errors.py: negative bitrate or loss above 100 % raise ScoringInputError."""
    with pytest.raises(ScoringInputError, match="bitrate_bps"):
        video_score(bitrate_bps=-1.0, frame_rate=30.0, loss_pct=0.0)
    with pytest.raises(ScoringInputError, match="loss_pct"):
        video_score(bitrate_bps=1.0, frame_rate=30.0, loss_pct=101.0)


def test_under_heavy_loss_g1070_can_rate_a_lower_bitrate_higher() -> None:
    """G.1070 §11.3 as published: DPplV = v10 + v11·e^(−Fr/v8) + v12·e^(−Br/v9) grows as Br
    falls, so at 5 % loss and 8 frame/s 200 kbit/s scores above 250 kbit/s. Kept, not patched:
    the bitrate law holds only up to 2.5 % loss (test_score_properties.py)."""
    low = g1070_vq(bitrate_kbps=200.0, frame_rate=8.0, loss_pct=5.0).vq
    high = g1070_vq(bitrate_kbps=250.0, frame_rate=8.0, loss_pct=5.0).vq
    assert low > high
