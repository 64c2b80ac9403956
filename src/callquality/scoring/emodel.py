"""Audio quality: the ITU-T E-model, narrowband (G.107 (06/2015)) and fullband (G.107.2).

Narrowband (G.107): R = Ro − Is − Id − Ie,eff + A (§7.1, eq. 7-1). Ro and Is are computed from
the G.107 Table 3 default values (they come out at 94.77 and 1.41, so R = 93.2 for a default
connection). These functions are kept, and tested against G.107's reference values, because
the fullband model is built on them.

Fullband (G.107.2): R = Ro,FB − Is,FB − Id,FB − Ie,eff,FB + A on a scale up to 148, with
Ro,FB = 148, Is,FB = 0, Id,FB = 1.48·Idd, Ie,eff,FB with a loss headroom of 132, and MOS from
R/1.48 through the narrowband polynomial (Annex A). This is the scale ``audio_score`` reports.

A WebRTC call changes only the mouth-to-ear delay Ta, the codec (Ie, Bpl) and the packet loss.
Every formula and choice is written up, with its source, in docs/models.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from callquality.scoring.errors import ScoringInputError

# --- G.107 (06/2015) §7.7 Table 3: default values -------------------------------------------
SLR_DB = 8.0  # send loudness rating
RLR_DB = 2.0  # receive loudness rating
STMR_DB = 15.0  # sidetone masking rating
LSTR_DB = 18.0  # listener sidetone rating
DS_DB = 3.0  # D-value of telephone, send side
TELR_DB = 65.0  # talker echo loudness rating
WEPL_DB = 110.0  # weighted echo path loss
QDU = 1.0  # quantizing distortion units
NC_DBM0P = -70.0  # circuit noise referred to the 0 dBr point
NFOR_DBMP = -64.0  # noise floor at the receive side
PS_DBA = 35.0  # room noise at the send side
PR_DBA = 35.0  # room noise at the receive side
ADVANTAGE_A = 0.0  # advantage factor A: no allowance for a user's lowered expectation
MT_MS = 100.0  # §7.4, Table 1: minimum perceivable delay mT (default sensitivity class)
ST = 1.0  # §7.4, Table 1: delay sensitivity sT (default class)
# §7.5 eq. 7-29: the 95 is the R headroom that packet loss eats into.
IE_EFF_HEADROOM = 95.0

# --- Annex B, eq. B-4: R → MOS_CQE ----------------------------------------------------------
MOS_MIN = 1.0
MOS_MAX = 4.5


def _loudness_and_noise() -> tuple[float, float]:
    """Overall loudness rating OLR and total noise No (G.107 §7.2, eqs. 7-3 to 7-7)."""
    olr = SLR_DB + RLR_DB
    nfo = NFOR_DBMP + RLR_DB  # eq. 7-6
    pre = PR_DBA + 10.0 * math.log10(1.0 + 10.0 ** ((10.0 - LSTR_DB) / 10.0))  # eq. 7-7
    nor = RLR_DB - 121.0 + pre + 0.008 * (pre - 35.0) ** 2  # eq. 7-5
    nos = PS_DBA - SLR_DB - DS_DB - 100.0 + 0.004 * (PS_DBA - olr - DS_DB - 14.0) ** 2  # eq. 7-4
    no = 10.0 * math.log10(
        10.0 ** (NC_DBM0P / 10.0) + 10.0 ** (nos / 10.0) + 10.0 ** (nor / 10.0)
        + 10.0 ** (nfo / 10.0)
    )  # eq. 7-3
    return olr, no


def basic_signal_to_noise_ro() -> float:
    """Ro = 15 − 1.5·(SLR + No) for the default connection (G.107 §7.2, eq. 7-2)."""
    _, no = _loudness_and_noise()
    return 15.0 - 1.5 * (SLR_DB + no)


def simultaneous_impairment_is() -> float:
    """Is = Iolr + Ist + Iq for the default connection (G.107 §7.3, eqs. 7-8 to 7-17)."""
    olr, no = _loudness_and_noise()
    ro = basic_signal_to_noise_ro()
    xolr = olr + 0.2 * (64.0 + no - RLR_DB)  # eq. 7-10
    iolr = 20.0 * ((1.0 + (xolr / 8.0) ** 8) ** (1.0 / 8.0) - xolr / 8.0)  # eq. 7-9
    # eq. 7-12 with T = 0 (no talker echo, see docs/models.md): STMRo from STMR and TELR.
    stmro = -10.0 * math.log10(10.0 ** (-STMR_DB / 10.0) + 10.0 ** (-TELR_DB / 10.0))
    ist = (
        12.0 * (1.0 + ((stmro - 13.0) / 6.0) ** 8) ** (1.0 / 8.0)
        - 28.0 * (1.0 + ((stmro + 1.0) / 19.4) ** 35) ** (1.0 / 35.0)
        - 13.0 * (1.0 + ((stmro - 3.0) / 33.0) ** 13) ** (1.0 / 13.0)
        + 29.0
    )  # eq. 7-11
    q = 37.0 - 15.0 * math.log10(QDU)  # eq. 7-16
    g = 1.07 + 0.258 * q + 0.0602 * q**2  # eq. 7-15
    y = (ro - 100.0) / 15.0 + 46.0 / 8.4 - g / 9.0  # eq. 7-14
    z = 46.0 / 30.0 - g / 40.0  # eq. 7-17
    iq = 15.0 * math.log10(1.0 + 10.0**y + 10.0**z)  # eq. 7-13
    return float(iolr + ist + iq)


def listener_echo_idle() -> float:
    """Idle for the default WEPL with Tr = 0 (G.107 §7.4, eqs. 7-24, 7-25); ≈ 0.15."""
    ro = basic_signal_to_noise_ro()
    rle = 10.5 * (WEPL_DB + 7.0) * (0.0 + 1.0) ** -0.25  # eq. 7-25 with Tr = 0
    return float((ro - rle) / 2.0 + math.sqrt((ro - rle) ** 2 / 4.0 + 169.0))  # eq. 7-24


def pure_delay_idd(ta_ms: float) -> float:
    """Idd, the impairment of absolute mouth-to-ear delay Ta (G.107 §7.4, eqs. 7-26 to 7-28).

    Zero up to mT = 100 ms; above, with X = log2(Ta/mT):
    Idd = 25·{(1 + X^(6·sT))^(1/(6·sT)) − 3·(1 + (X/3)^(6·sT))^(1/(6·sT)) + 2}.
    """
    if ta_ms <= MT_MS:
        return 0.0
    x = math.log10(ta_ms / MT_MS) / math.log10(2.0)
    e = 6.0 * ST
    first = math.pow(1.0 + x**e, 1.0 / e)
    second = 3.0 * math.pow(1.0 + (x / 3.0) ** e, 1.0 / e)
    return 25.0 * (first - second + 2.0)


def _ie_eff(*, ie: float, bpl: float, ppl_pct: float, burst_ratio: float,
            headroom: float) -> float:
    if ppl_pct <= 0.0:
        return ie
    return ie + (headroom - ie) * ppl_pct / (ppl_pct / burst_ratio + bpl)


def effective_equipment_impairment(
    *, ie: float, bpl: float, ppl_pct: float, burst_ratio: float = 1.0
) -> float:
    """Ie,eff = Ie + (95 − Ie)·Ppl/(Ppl/BurstR + Bpl) (G.107 §7.5, eq. 7-29)."""
    return _ie_eff(ie=ie, bpl=bpl, ppl_pct=ppl_pct, burst_ratio=burst_ratio,
                   headroom=IE_EFF_HEADROOM)


def r_to_mos(r: float) -> float:
    """MOS_CQE from R (G.107 Annex B, eq. B-4): 1 below R = 0, 4.5 above R = 100.

    The polynomial dips below 1 (to 0.9963 at R ≈ 5.9) for 0 < R < 6.5; it is held at 1 there
    so that the MOS stays on its 1..4.5 scale and never rises as R falls.
    """
    if r <= 0.0:
        return MOS_MIN
    if r >= 100.0:
        return MOS_MAX
    return max(MOS_MIN, 1.0 + 0.035 * r + r * (r - 60.0) * (100.0 - r) * 7.0e-6)


# Ro − Is and Idle do not depend on the call: computed once from the defaults.
DEFAULT_RO = basic_signal_to_noise_ro()
DEFAULT_IS = simultaneous_impairment_is()
DEFAULT_IDLE = listener_echo_idle()
# R of a default connection with Ie = 0 and Ta ≤ mT: 93.2 (G.107 §7.7, the note to Table 3).
DEFAULT_R = DEFAULT_RO - DEFAULT_IS - DEFAULT_IDLE + ADVANTAGE_A


@dataclass(frozen=True, slots=True)
class ImpairmentTerms:
    """The call-dependent terms of one R computation."""

    id: float
    ie_eff: float
    r: float
    mos: float


def _check_rating_inputs(ta_ms: float, ppl_pct: float, bpl: float, burst_ratio: float) -> None:
    for name, value in (("ta_ms", ta_ms), ("ppl_pct", ppl_pct), ("bpl", bpl),
                        ("burst_ratio", burst_ratio)):
        if not math.isfinite(value) or value < 0.0:
            raise ScoringInputError(f"{name} must be a finite number ≥ 0, got {value!r}")
    if bpl == 0.0 or burst_ratio == 0.0:
        raise ScoringInputError("bpl and burst_ratio must be > 0")


def rating(*, ta_ms: float, ie: float, bpl: float, ppl_pct: float,
           burst_ratio: float = 1.0) -> ImpairmentTerms:
    """Narrowband (G.107) R and MOS of a default connection with delay Ta, codec, loss Ppl."""
    _check_rating_inputs(ta_ms, ppl_pct, bpl, burst_ratio)
    id_ = DEFAULT_IDLE + pure_delay_idd(ta_ms)  # Idte = 0: no talker echo (docs/models.md)
    ie_eff = effective_equipment_impairment(ie=ie, bpl=bpl, ppl_pct=ppl_pct,
                                            burst_ratio=burst_ratio)
    r = DEFAULT_RO - DEFAULT_IS - id_ - ie_eff + ADVANTAGE_A  # eq. 7-1
    return ImpairmentTerms(id=id_, ie_eff=ie_eff, r=r, mos=r_to_mos(r))


# --- ITU-T G.107.2 (06/2019, 03/2023): the fullband E-model ---------------------------------
# We could not read the Recommendation's text. The structure and constants below are those of
# three public implementations that cite G.107.2 and agree term for term (Orange
# webrtc-metrics, sipwise/rtpengine daemon/ssrc.c mos_calc_fb, wireapp/wire-avs
# src/stats/mos.c), and they mirror what two independent G.107.1 implementations show of the
# wideband model (Ro,WB = 129, Is,WB = 0, Idd,WB = 1.29·Idd, MOS from R/1.29). docs/models.md.
FULLBAND_RO = 148.0  # Ro,FB (§7.2): the top of the fullband transmission rating scale (§6.2)
FULLBAND_IS = 0.0  # Is,FB (§7.3)
# Annex A: Rx = R/1.48, then the narrowband MOS polynomial; §7.4: Idd,FB = 1.48·Idd.
FULLBAND_SCALE = 1.48
# §7.5: Ie,eff,FB = Ie,FB + (132 − Ie,FB)·Ppl/(Ppl + Bpl); BurstR as in G.107 eq. 7-29.
FULLBAND_IE_EFF_HEADROOM = 132.0


def fullband_delay_id(ta_ms: float) -> float:
    """Id,FB = 1.48·Idd(Ta) (G.107.2 §7.4). No talker or listener echo (docs/models.md)."""
    return FULLBAND_SCALE * pure_delay_idd(ta_ms)


def fullband_effective_equipment_impairment(
    *, ie: float, bpl: float, ppl_pct: float, burst_ratio: float = 1.0
) -> float:
    """Ie,eff,FB = Ie,FB + (132 − Ie,FB)·Ppl/(Ppl/BurstR + Bpl) (G.107.2 §7.5)."""
    return _ie_eff(ie=ie, bpl=bpl, ppl_pct=ppl_pct, burst_ratio=burst_ratio,
                   headroom=FULLBAND_IE_EFF_HEADROOM)


def fullband_r_to_mos(r: float) -> float:
    """MOS from a fullband R (G.107.2 Annex A): the narrowband polynomial of R/1.48.

    R ≥ 148 gives 4.5, R ≤ 0 gives 1; the polynomial's dip below 1 is held at 1 (r_to_mos).
    """
    return r_to_mos(r / FULLBAND_SCALE)


def fullband_rating(*, ta_ms: float, ie: float, bpl: float, ppl_pct: float,
                    burst_ratio: float = 1.0) -> ImpairmentTerms:
    """Fullband (G.107.2) R and MOS: R = 148 − 0 − 1.48·Idd(Ta) − Ie,eff,FB + A."""
    _check_rating_inputs(ta_ms, ppl_pct, bpl, burst_ratio)
    id_ = fullband_delay_id(ta_ms)
    ie_eff = fullband_effective_equipment_impairment(ie=ie, bpl=bpl, ppl_pct=ppl_pct,
                                                     burst_ratio=burst_ratio)
    r = FULLBAND_RO - FULLBAND_IS - id_ - ie_eff + ADVANTAGE_A
    return ImpairmentTerms(id=id_, ie_eff=ie_eff, r=r, mos=fullband_r_to_mos(r))
