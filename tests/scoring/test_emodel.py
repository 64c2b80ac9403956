"""The E-model core: narrowband ITU-T G.107 (06/2015), wideband G.107.1, fullband G.107.2.

Narrowband reference values are G.107's own (the 93.2 of §7.7, Annex B's end points) or
closed-form evaluations of its equations with published inputs, worked out in each docstring.
Wideband and fullband values are closed-form evaluations of G.107.1 and G.107.2 as public
implementations give them (Ro,WB = 129, Ro,FB = 148, Is = 0, Idd·1.29 / ·1.48, MOS from R/1.29
and R/1.48; docs/models.md).
"""

from __future__ import annotations

import math

import pytest

from callquality.scoring import emodel


def test_default_connection_rates_r_93_2() -> None:
    """G.107 §7.7: with all Table 3 defaults (and Ie = 0, Ta ≤ 100 ms) R = 93.2."""
    assert emodel.DEFAULT_R == pytest.approx(93.2, abs=0.05)


def test_default_rating_maps_to_mos_4_41() -> None:
    """G.107 Annex B eq. B-4 at R = 93.2: MOS = 4.41, the top of the narrowband scale."""
    assert emodel.r_to_mos(emodel.DEFAULT_R) == pytest.approx(4.41, abs=0.01)
    assert emodel.r_to_mos(93.2) == pytest.approx(4.41, abs=0.01)


def test_default_rating_decomposes_into_ro_is_and_idle() -> None:
    """G.107 §7.2–7.4 with Table 3 defaults: Ro ≈ 94.77, Is ≈ 1.41, Idle ≈ 0.15 (R = 93.2)."""
    assert emodel.DEFAULT_RO == pytest.approx(94.77, abs=0.01)
    assert emodel.DEFAULT_IS == pytest.approx(1.41, abs=0.01)
    assert emodel.DEFAULT_IDLE == pytest.approx(0.15, abs=0.01)


@pytest.mark.parametrize("r", [-50.0, -0.001, 0.0])
def test_mos_is_1_at_or_below_r_0(r: float) -> None:
    """G.107 Annex B eq. B-4: MOS = 1 for R < 0 (and the polynomial gives 1 at R = 0)."""
    assert emodel.r_to_mos(r) == 1.0


@pytest.mark.parametrize("r", [100.0, 100.001, 148.0])
def test_mos_is_4_5_at_or_above_r_100(r: float) -> None:
    """G.107 Annex B eq. B-4: MOS = 4.5 for R > 100 (and the polynomial gives 4.5 at R = 100)."""
    assert emodel.r_to_mos(r) == 4.5


def test_mos_polynomial_is_continuous_at_both_ends() -> None:
    """G.107 Annex B eq. B-4: 1 + 0.035R + R(R−60)(100−R)·7e-6 meets 1 at R=0 and 4.5 at R=100."""
    assert emodel.r_to_mos(1e-9) == pytest.approx(1.0, abs=1e-6)
    assert emodel.r_to_mos(100.0 - 1e-9) == pytest.approx(4.5, abs=1e-6)


def test_mos_at_r_50_matches_the_annex_b_polynomial() -> None:
    """G.107 Annex B eq. B-4 at R = 50: 1 + 1.75 + 50·(−10)·50·7e-6 = 2.575."""
    assert emodel.r_to_mos(50.0) == pytest.approx(2.575, abs=1e-9)


@pytest.mark.parametrize(
    ("ppl", "expected"),
    [
        (0.0, 0.0),
        (1.0, 95.0 * 1.0 / 26.1),  # 3.640
        (2.0, 95.0 * 2.0 / 27.1),  # 7.010
        (5.0, 95.0 * 5.0 / 30.1),  # 15.781
        (25.1, 47.5),  # Ppl = Bpl: half the headroom of 95 is gone
    ],
)
def test_g711_with_plc_ie_eff_at_random_loss(ppl: float, expected: float) -> None:
    """G.107 eq. 7-29 with G.113 Appendix I Table I.3 G.711 + PLC: Ie = 0, Bpl = 25.1."""
    got = emodel.effective_equipment_impairment(ie=0.0, bpl=25.1, ppl_pct=ppl)
    assert got == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize(
    ("ppl", "expected"),
    [(1.0, 95.0 / 5.3), (2.0, 190.0 / 6.3)],  # 17.925, 30.159
)
def test_g711_without_plc_ie_eff_at_random_loss(ppl: float, expected: float) -> None:
    """G.107 eq. 7-29 with G.113 Appendix I Table I.3 G.711 without PLC: Ie = 0, Bpl = 4.3."""
    got = emodel.effective_equipment_impairment(ie=0.0, bpl=4.3, ppl_pct=ppl)
    assert got == pytest.approx(expected, abs=1e-9)


def test_bursty_loss_impairs_more_than_random_loss() -> None:
    """G.107 eq. 7-29: BurstR = 2 at 2 % loss, G.711 + PLC: 95·2/(2/2 + 25.1) = 7.280 > 7.010."""
    bursty = emodel.effective_equipment_impairment(ie=0.0, bpl=25.1, ppl_pct=2.0, burst_ratio=2.0)
    assert bursty == pytest.approx(190.0 / 26.1, abs=1e-9)
    assert bursty > emodel.effective_equipment_impairment(ie=0.0, bpl=25.1, ppl_pct=2.0)


@pytest.mark.parametrize("ta_ms", [0.0, 50.0, 100.0])
def test_delay_up_to_100_ms_is_not_impairing(ta_ms: float) -> None:
    """G.107 eq. 7-26: Idd = 0 for Ta ≤ mT = 100 ms (default sensitivity class, Table 1)."""
    assert emodel.pure_delay_idd(ta_ms) == 0.0


def test_idd_at_200_ms_is_the_closed_form_at_x_1() -> None:
    """G.107 eqs. 7-27/7-28 at Ta = 200 ms: X = log2(2) = 1, so
    Idd = 25·(2^(1/6) − 3·(1 + 3^-6)^(1/6) + 2) = 25·(1.122462 − 3.000686 + 2) = 3.044."""
    closed_form = 25.0 * (2.0 ** (1 / 6) - 3.0 * (1.0 + 3.0**-6) ** (1 / 6) + 2.0)
    assert closed_form == pytest.approx(3.044, abs=0.001)
    assert emodel.pure_delay_idd(200.0) == pytest.approx(closed_form, abs=1e-9)


def test_idd_at_300_ms() -> None:
    """G.107 eqs. 7-27/7-28 at Ta = 300 ms: X = log2(3) = 1.58496, Idd = 14.76."""
    x = math.log2(3.0)
    closed_form = 25.0 * ((1 + x**6) ** (1 / 6) - 3.0 * (1 + (x / 3) ** 6) ** (1 / 6) + 2.0)
    assert closed_form == pytest.approx(14.76, abs=0.01)
    assert emodel.pure_delay_idd(300.0) == pytest.approx(closed_form, abs=1e-9)


def test_idd_at_400_ms_is_the_closed_form_at_x_2() -> None:
    """G.107 eqs. 7-27/7-28 at Ta = 400 ms: X = 2, Idd = 25·(65^(1/6) − 3·(1+(2/3)^6)^(1/6) + 2)
    = 25·(2.005175 − 3.042371 + 2) = 24.07."""
    assert emodel.pure_delay_idd(400.0) == pytest.approx(24.07, abs=0.005)
    assert emodel.rating(ta_ms=400.0, ie=0.0, bpl=25.1, ppl_pct=0.0).idd == pytest.approx(
        24.07, abs=0.005)


def test_talker_echo_at_177_ms_by_hand() -> None:
    """G.107 eqs. 7-19 to 7-22 with Table 3 (TELR 65 dB, No = −61.18 dBm0p) at T = 177 ms:
    TERV = 65 − 40·log10(18.7/2.18) = 27.66, Re = 80 + 2.5·13.66 = 114.15,
    Roe = −1.5·(−61.18 − 2) = 94.77, Idte = (−9.69 + √(93.9 + 100) − 1)·1 = 3.23."""
    terv = 65.0 - 40.0 * math.log10((1 + 17.7) / (1 + 177 / 150))
    re = 80.0 + 2.5 * (terv - 14.0)
    roe = -1.5 * (emodel._noise_no() - 2.0)
    d = roe - re
    by_hand = d / 2 + math.sqrt(d * d / 4 + 100) - 1
    assert by_hand == pytest.approx(3.23, abs=0.01)
    assert emodel.talker_echo_idte(177.0) == pytest.approx(by_hand, abs=1e-9)


def test_listener_echo_grows_with_the_loop_delay() -> None:
    """G.107 eqs. 7-24/7-25: Rle = 10.5·(WEPL + 7)·(Tr + 1)^−¼; at Tr = 354 ms (2 × 177)
    Rle = 1228.5/4.3406 = 283.0 and Idle = 0.89, up from 0.15 at Tr = 0."""
    assert emodel.listener_echo_idle(0.0) == pytest.approx(0.15, abs=0.01)
    assert emodel.listener_echo_idle(354.0) == pytest.approx(0.89, abs=0.01)


@pytest.mark.parametrize(("ta_ms", "expected_id"), [(177.0, 5.3), (400.0, 31.1)])
def test_delay_costs_g107s_default_echo_terms(ta_ms: float, expected_id: float) -> None:
    """G.107 §7.4 with Table 3's TELR and WEPL, T = Ta, Tr = 2·Ta: Id = Idte + Idle + Idd is
    5.3 at 177 ms (1.3 with echo left out) and 31.1 at 400 ms (24.2) — issue 14's figures."""
    terms = emodel.rating(ta_ms=ta_ms, ie=0.0, bpl=25.1, ppl_pct=0.0)
    assert terms.id == pytest.approx(expected_id, abs=0.05)
    assert terms.id == pytest.approx(terms.idte + terms.idle + terms.idd, abs=1e-12)


def test_ta_of_300_ms_rates_mos_3_72() -> None:
    """G.107 at Ta = T = 300 ms, Tr = 600 ms, G.711: Idd 14.76 + Idte 4.83 + Idle 1.09;
    R = 94.77 − 1.41 − 20.69 = 72.67, Annex B → MOS 3.72."""
    terms = emodel.rating(ta_ms=300.0, ie=0.0, bpl=25.1, ppl_pct=0.0)
    assert terms.r == pytest.approx(72.67, abs=0.01)
    assert terms.mos == pytest.approx(3.72, abs=0.005)


def test_zero_delay_rating_is_g107s_default_connection() -> None:
    """G.107 §7.7: T = Tr = Ta = 0 is the default connection; R0 = 93.2 − Ie,eff, whatever Ta."""
    terms = emodel.rating(ta_ms=250.0, ie=0.0, bpl=25.1, ppl_pct=2.0)
    assert terms.r_zero_delay == pytest.approx(emodel.DEFAULT_R - 95.0 * 2.0 / 27.1, abs=1e-9)


def test_mos_is_held_at_1_where_the_polynomial_dips_below_it() -> None:
    """G.107 Annex B eq. B-4 gives 0.9963 at R = 5.92 (below its own floor of 1): held at 1,
    so the MOS never rises as R falls (found by tests/scoring/test_score_properties.py)."""
    raw = 1.0 + 0.035 * 5.92 + 5.92 * (5.92 - 60.0) * (100.0 - 5.92) * 7.0e-6
    assert raw < 1.0
    assert emodel.r_to_mos(5.92) == 1.0
    assert emodel.r_to_mos(6.6) > 1.0


# --- G.107.1 wideband ---------------------------------------------------------------------


def test_wideband_scale_tops_at_129() -> None:
    """G.107.1 eqs. 7-2/7-3: Ro,WB = 129, Is,WB = 0; with no delay and no impairment only the
    listener-echo term at Tr = 0 (0.15) remains, and Annex A maps R/1.29 ≈ 99.9 to 4.5."""
    terms = emodel.wideband_rating(ta_ms=0.0, ie=0.0, bpl=10.0, ppl_pct=0.0)
    assert terms.r == pytest.approx(129.0 - emodel.listener_echo_idle(0.0, 129.0), abs=1e-9)
    assert terms.mos == pytest.approx(4.5, abs=0.005)


def test_wideband_mos_is_the_narrowband_polynomial_of_r_over_1_29() -> None:
    """G.107.1 Annex A eqs. A-1/A-2: Rx = R/1.29 (64.5 → eq. B-4 at 50 = 2.575)."""
    assert emodel.wideband_r_to_mos(64.5) == pytest.approx(2.575, abs=1e-9)


def test_wideband_delay_is_1_29_times_idd() -> None:
    """G.107.1 eq. 7-13: Idd,WB = 1.29·Idd; at Ta = 400 ms 1.29 × 24.07 = 31.05."""
    terms = emodel.wideband_rating(ta_ms=400.0, ie=13.0, bpl=25.1, ppl_pct=0.0)
    assert terms.idd == pytest.approx(1.29 * 24.070, abs=0.01)


def test_wideband_talker_echo_carries_the_k_correction() -> None:
    """G.107.1 eqs. 7-7 to 7-10 at T = 300 ms: K = 18, TERV,WB = 65 + 18 − 40.57 = 42.43,
    Re,WB = 80 + 3·28.43 = 165.3: with TELR 65 dB the echo costs under 1 (0.65)."""
    assert emodel.talker_echo_idte_wb(300.0) == pytest.approx(0.65, abs=0.01)
    assert emodel.talker_echo_idte_wb(300.0) < emodel.talker_echo_idte(300.0)


# --- G.107.2 fullband --------------------------------------------------------------------


def test_fullband_scale_tops_at_148() -> None:
    """G.107.2 §6.2/§7.2–7.3: Ro,FB = 148, Is,FB = 0: with no delay and no impairment R is
    148 less the listener-echo term at Tr = 0, which Annex A maps to the top MOS, 4.5."""
    terms = emodel.fullband_rating(ta_ms=0.0, ie=0.0, bpl=10.0, ppl_pct=0.0)
    assert terms.r == pytest.approx(148.0 - terms.idle, abs=1e-9)
    assert terms.idle < 0.2
    assert terms.mos == pytest.approx(4.5, abs=0.005)


@pytest.mark.parametrize(("r_fb", "rx"), [(74.0, 50.0), (93.2 * 1.48, 93.2), (0.0, 0.0)])
def test_fullband_mos_is_the_narrowband_polynomial_of_r_over_1_48(r_fb: float, rx: float) -> None:
    """G.107.2 Annex A: Rx = R/1.48, then G.107 eq. B-4 (74 → 2.575; 137.94 → 4.41)."""
    assert emodel.fullband_r_to_mos(r_fb) == pytest.approx(emodel.r_to_mos(rx), abs=1e-12)


def test_fullband_mos_at_the_ends() -> None:
    """Annex A with eq. B-4's clamps: 1 at or below R = 0, 4.5 at or above R = 148."""
    assert emodel.fullband_r_to_mos(-10.0) == 1.0
    assert emodel.fullband_r_to_mos(148.0) == 4.5
    assert emodel.fullband_r_to_mos(200.0) == 4.5


def test_fullband_delay_is_1_48_times_idd() -> None:
    """G.107.2 §7.4: Idd,FB = 1.48·Idd; at Ta = 400 ms (X = 2) 1.48 × 24.070 = 35.62."""
    assert emodel.fullband_rating(ta_ms=100.0, ie=0.0, bpl=9.6, ppl_pct=0.0).idd == 0.0
    terms = emodel.fullband_rating(ta_ms=400.0, ie=0.0, bpl=9.6, ppl_pct=0.0)
    assert terms.idd == pytest.approx(1.48 * 24.070, abs=0.01)


@pytest.mark.parametrize(("ie", "bpl"), [(10.2, 9.6), (54.8, 25.1)])
def test_fullband_loss_eats_half_the_headroom_at_ppl_equal_bpl(ie: float, bpl: float) -> None:
    """G.107.2 §7.5: Ie,eff,FB = Ie + (132 − Ie)·Ppl/(Ppl + Bpl); Ppl = Bpl → (Ie + 132)/2."""
    got = emodel.fullband_effective_equipment_impairment(ie=ie, bpl=bpl, ppl_pct=bpl)
    assert got == pytest.approx((ie + 132.0) / 2.0, abs=1e-9)


def test_fullband_bursty_loss_impairs_more_than_random_loss() -> None:
    """BurstR enters Ie,eff,FB as in G.107 eq. 7-29: BurstR 2 at 2 % is worse than random."""
    random = emodel.fullband_effective_equipment_impairment(ie=10.2, bpl=9.6, ppl_pct=2.0)
    bursty = emodel.fullband_effective_equipment_impairment(ie=10.2, bpl=9.6, ppl_pct=2.0,
                                                            burst_ratio=2.0)
    assert bursty == pytest.approx(10.2 + (132.0 - 10.2) * 2.0 / (1.0 + 9.6), abs=1e-9)
    assert bursty > random


def test_fullband_rating_decomposes() -> None:
    """R = 148 − 0 − (Idte + Idle + Idd)_FB − Ie,eff,FB + 0 at Ta = 300 ms, Opus, 1 % loss."""
    terms = emodel.fullband_rating(ta_ms=300.0, ie=10.2, bpl=9.6, ppl_pct=1.0)
    ie_eff = 10.2 + (132.0 - 10.2) * 1.0 / 10.6
    assert terms.ie_eff == pytest.approx(ie_eff, abs=1e-9)
    scale = 1.48 / 1.29  # docs/models.md: the wideband echo terms on the fullband scale
    assert terms.idte == pytest.approx(scale * emodel.talker_echo_idte_wb(300.0), abs=1e-9)
    assert terms.idle == pytest.approx(scale * emodel.listener_echo_idle(600.0, 129.0), abs=1e-9)
    assert terms.r == pytest.approx(148.0 - terms.id - ie_eff, abs=1e-9)
