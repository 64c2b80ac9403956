"""audio_score: how network numbers become the E-model's Ta and Ppl, and which codec values apply.

Rules are ours (docs/models.md, "Audio"); the E-model terms they feed are G.107.2's (fullband
scale, R up to 148, MOS from R/1.48), built on G.107's delay and loss equations.
"""

from __future__ import annotations

import pytest

from callquality.scoring import ScoringInputError, audio_score, emodel


def test_unknown_inputs_score_a_clean_opus_call() -> None:
    """docs/models.md: unknown RTT, jitter and loss count as 0; no codec means Opus."""
    s = audio_score(rtt_ms=None, jitter_ms=None, loss_pct=None)
    assert s.codec == "opus"
    assert s.ppl == 0.0
    assert s.ta_ms == pytest.approx(20.0 + 26.5)  # jitter-buffer floor + Opus delay
    assert s.scale == "fullband"
    assert s.r == pytest.approx(148.0 - 16.83, abs=1e-9)  # Ro,FB − Ie,FB; Id,FB = 0 below 100 ms
    assert s.mos == pytest.approx(emodel.r_to_mos((148.0 - 16.83) / 1.48), abs=1e-9)
    assert s.mos == pytest.approx(4.30, abs=0.01)


def test_clean_g711_keeps_its_narrowband_rating_on_the_fullband_scale() -> None:
    """docs/models.md: G.711's R of a default G.107 connection (93.2) is kept on the G.107.2
    scale, so Ie,FB = 148 − 93.2 = 54.8 and the MOS is Annex A's at 93.2/1.48: 3.25."""
    s = audio_score(rtt_ms=20.0, jitter_ms=2.0, loss_pct=0.0, codec="PCMU")
    assert s.codec == "g711"
    assert s.ie == pytest.approx(54.8)
    assert s.r == pytest.approx(93.2, abs=1e-9)
    assert s.mos == pytest.approx(emodel.r_to_mos(93.2 / 1.48), abs=1e-9)
    assert s.mos == pytest.approx(3.25, abs=0.01)


def test_one_scale_credits_bandwidth_clean_opus_above_g722_above_g711() -> None:
    """G.107.2 puts all bands on one scale: super-wideband > wideband > narrowband when clean."""
    def clean(codec: str) -> float:
        return audio_score(rtt_ms=20.0, jitter_ms=2.0, loss_pct=0.0, codec=codec).mos

    assert clean("opus") > clean("G722") > clean("PCMU")


def test_mouth_to_ear_delay_is_half_rtt_plus_jitter_buffer_plus_codec_delay() -> None:
    """docs/models.md: Ta = RTT/2 + max(2·jitter, 20 ms) + codec delay (Opus: 26.5 ms)."""
    s = audio_score(rtt_ms=300.0, jitter_ms=30.0, loss_pct=0.0, codec="opus")
    assert s.jitter_buffer_ms == 60.0
    assert s.ta_ms == pytest.approx(150.0 + 60.0 + 26.5)
    assert s.id == pytest.approx(1.48 * emodel.pure_delay_idd(236.5))  # Id,FB (G.107.2 §7.4)


def test_small_jitter_still_costs_one_packet_of_buffering() -> None:
    """docs/models.md: the jitter buffer never holds less than one 20 ms packet."""
    assert audio_score(rtt_ms=0.0, jitter_ms=3.0, loss_pct=0.0).jitter_buffer_ms == 20.0


def test_concealment_beyond_network_loss_counts_as_loss() -> None:
    """docs/models.md: Ppl = max(network loss %, 100 × concealed ratio) — late packets count."""
    s = audio_score(rtt_ms=0.0, jitter_ms=0.0, loss_pct=1.0, concealed_ratio=0.04)
    assert s.ppl == pytest.approx(4.0)


def test_concealment_below_network_loss_does_not_double_count() -> None:
    """docs/models.md: concealed samples of lost packets are the same loss, not extra loss."""
    s = audio_score(rtt_ms=0.0, jitter_ms=0.0, loss_pct=3.0, concealed_ratio=0.01)
    assert s.ppl == pytest.approx(3.0)


def test_g711_loss_uses_the_with_plc_robustness() -> None:
    """G.113 Appendix I Table I.3: G.711 with PLC, Bpl = 25.1 (NetEq always conceals), in
    G.107.2's Ie,eff,FB = Ie,FB + (132 − Ie,FB)·Ppl/(Ppl + Bpl)."""
    s = audio_score(rtt_ms=0.0, jitter_ms=0.0, loss_pct=2.0, codec="PCMA")
    assert s.bpl == 25.1
    assert s.ie_eff == pytest.approx(54.8 + (132.0 - 54.8) * 2.0 / 27.1)


def test_opus_uses_the_published_super_wideband_values_as_published() -> None:
    """Alahmadi et al. 2021 (doi:10.1145/3458751), SWB VBR 31 kbit/s: Ie 16.83, Bpl 10.44, on
    the fullband scale they were derived for; loss headroom 132 (G.107.2 §7.5)."""
    s = audio_score(rtt_ms=0.0, jitter_ms=0.0, loss_pct=5.0, codec="opus")
    assert s.ie == pytest.approx(16.83)
    assert s.ie_eff == pytest.approx(16.83 + (132.0 - 16.83) * 5.0 / (5.0 + 10.44))


def test_g722_keeps_its_wideband_rating_on_the_fullband_scale() -> None:
    """G.113 Appendix IV: G.722 64 kbit/s Ie,WB = 13 on the G.107.1 scale (top 129); kept on
    the G.107.2 scale (top 148): Ie,FB = 13 + 19 = 32, R = 116."""
    s = audio_score(rtt_ms=0.0, jitter_ms=0.0, loss_pct=0.0, codec="G722")
    assert s.codec == "g722"
    assert s.ie == pytest.approx(32.0)
    assert s.r == pytest.approx(129.0 - 13.0)


def test_unknown_codec_is_scored_as_opus() -> None:
    """docs/models.md: a codec with no published values is scored as WebRTC's default, Opus."""
    assert audio_score(rtt_ms=0.0, jitter_ms=0.0, loss_pct=0.0, codec="iLBC").codec == "opus"


def test_burst_ratio_defaults_to_random_loss() -> None:
    """G.107 Table 3: BurstR = 1 (random loss) unless the burstiness is known."""
    assert audio_score(rtt_ms=0.0, jitter_ms=0.0, loss_pct=1.0).burst_ratio == 1.0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"rtt_ms": -1.0},
        {"jitter_ms": float("nan")},
        {"loss_pct": 100.5},
        {"concealed_ratio": 1.5},
        {"burst_ratio": 0.0},
    ],
)
def test_out_of_domain_inputs_are_rejected(kwargs: dict[str, float]) -> None:
    """scoring/errors.py: an input no model can take raises ScoringInputError, naming it."""
    args: dict[str, float | None] = {"rtt_ms": 0.0, "jitter_ms": 0.0, "loss_pct": 0.0}
    args.update(kwargs)
    with pytest.raises(ScoringInputError, match=next(iter(kwargs))):
        audio_score(**args)  # type: ignore[arg-type]
