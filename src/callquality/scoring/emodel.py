"""The E-model of each audio band: ITU-T G.107 (narrowband), G.107.1 (wideband), G.107.2 (fullband).

Each band has its own transmission rating scale and its own MOS mapping; a codec is rated on
the scale of its own band (docs/models.md, "Audio"):

- narrowband, G.107 (06/2015): R = Ro − Is − Id − Ie,eff + A (§7.1, eq. 7-1), Ro, Is and the
  echo terms from the Table 3 default values; a default connection rates R = 93.2 (§7.7);
  MOS from R by Annex B, eq. B-4.
- wideband, G.107.1 (06/2019): R = Ro,WB − Is,WB − Id,WB − Ie,eff,WB + A with Ro,WB = 129,
  Is,WB = 0, the wideband talker-echo equations and Idd,WB = 1.29·Idd; MOS from R/1.29 (Annex A).
- fullband, G.107.2 (06/2019): R = Ro,FB − Is,FB − Id,FB − Ie,eff,FB + A with Ro,FB = 148,
  Is,FB = 0, Idd,FB = 1.48·Idd and a loss headroom of 132; MOS from R/1.48 (Annex A).

The echo paths of a call follow its delay: the talker-echo path T = Ta and the listener-echo
loop Tr = 2·Ta (the far end's acoustic echo returns over the same path), with G.107's default
echo losses (TELR 65 dB, WEPL 110 dB). Every constant cites its clause; docs/models.md lists
which ones we could read in the Recommendation and which come from public implementations.
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
# G.107.1 (06/2019) Table 1 default: the receive-side noise floor of a wideband terminal.
NFOR_WB_DBMP = -96.0

# --- Annex B, eq. B-4: R → MOS_CQE ----------------------------------------------------------
MOS_MIN = 1.0
MOS_MAX = 4.5

# --- The tops of the three rating scales ----------------------------------------------------
NARROWBAND_TOP_R = 100.0  # G.107 Annex B: MOS 4.5 at R = 100
WIDEBAND_RO = 129.0  # G.107.1 §7.2, eq. 7-2: Ro,WB
FULLBAND_RO = 148.0  # G.107.2 §7.2: Ro,FB, the top of the fullband scale (§6.2)
WIDEBAND_SCALE = 1.29  # G.107.1 Annex A eq. A-1 (Rx = R/1.29) and eq. 7-13 (Idd,WB = 1.29·Idd)
FULLBAND_SCALE = 1.48  # G.107.2 Annex A (Rx = R/1.48) and §7.4 (Idd,FB = 1.48·Idd)
# G.107.2 §7.5: Ie,eff,FB = Ie,FB + (132 − Ie,FB)·Ppl/(Ppl/BurstR + Bpl).
FULLBAND_IE_EFF_HEADROOM = 132.0


def _noise_no(nfor_dbmp: float = NFOR_DBMP) -> float:
    """Total noise No in dBm0p (G.107 §7.2, eqs. 7-3 to 7-7)."""
    olr = SLR_DB + RLR_DB
    nfo = nfor_dbmp + RLR_DB  # eq. 7-6
    pre = PR_DBA + 10.0 * math.log10(1.0 + 10.0 ** ((10.0 - LSTR_DB) / 10.0))  # eq. 7-7
    nor = RLR_DB - 121.0 + pre + 0.008 * (pre - 35.0) ** 2  # eq. 7-5
    nos = PS_DBA - SLR_DB - DS_DB - 100.0 + 0.004 * (PS_DBA - olr - DS_DB - 14.0) ** 2  # eq. 7-4
    return 10.0 * math.log10(
        10.0 ** (NC_DBM0P / 10.0) + 10.0 ** (nos / 10.0) + 10.0 ** (nor / 10.0)
        + 10.0 ** (nfo / 10.0)
    )  # eq. 7-3


def basic_signal_to_noise_ro() -> float:
    """Ro = 15 − 1.5·(SLR + No) for the default connection (G.107 §7.2, eq. 7-2)."""
    return 15.0 - 1.5 * (SLR_DB + _noise_no())


# Computed once: they depend on Table 3's defaults only.
_RO = basic_signal_to_noise_ro()
_ROE = -1.5 * (_noise_no() - RLR_DB)  # G.107 eq. 7-20
_ROE_WB = -1.5 * (_noise_no(NFOR_WB_DBMP) - RLR_DB)  # G.107.1 eq. 7-6


def simultaneous_impairment_is(t_ms: float = 0.0) -> float:
    """Is = Iolr + Ist + Iq for the default connection (G.107 §7.3, eqs. 7-8 to 7-17)."""
    olr = SLR_DB + RLR_DB
    no = _noise_no()
    ro = basic_signal_to_noise_ro()
    xolr = olr + 0.2 * (64.0 + no - RLR_DB)  # eq. 7-10
    iolr = 20.0 * ((1.0 + (xolr / 8.0) ** 8) ** (1.0 / 8.0) - xolr / 8.0)  # eq. 7-9
    # eq. 7-12: STMRo from STMR and the talker echo, which at T of a few ms acts as sidetone.
    stmro = -10.0 * math.log10(
        10.0 ** (-STMR_DB / 10.0) + math.exp(-t_ms / 4.0) * 10.0 ** (-TELR_DB / 10.0)
    )
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


def _echo_term(d: float, t_ms: float) -> float:
    """[(Roe − Re)/2 + √((Roe − Re)²/4 + 100) − 1]·(1 − e^−T): G.107 eq. 7-19, G.107.1 eq. 7-5.

    Held at 0 where the bracket is negative (T below ~4 ms narrowband): there the echo is heard
    as sidetone (G.107 §7.4), and the term must not make R rise with delay.
    """
    if t_ms < 1.0:  # G.107 §7.4: for T < 1 ms the talker echo is sidetone, Idte = 0
        return 0.0
    return max(0.0, (d / 2.0 + math.sqrt(d * d / 4.0 + 100.0) - 1.0) * (1.0 - math.exp(-t_ms)))


def talker_echo_idte(t_ms: float) -> float:
    """Narrowband talker echo Idte at echo-path delay T (G.107 §7.4, eqs. 7-19 to 7-21)."""
    roe = _ROE  # eq. 7-20: −1.5·(No − RLR)
    terv = (
        TELR_DB - 40.0 * math.log10((1.0 + t_ms / 10.0) / (1.0 + t_ms / 150.0))
        + 6.0 * math.exp(-0.3 * t_ms**2)
    )  # eq. 7-22 (STMR ≥ 9 dB: no TERVs correction)
    re = 80.0 + 2.5 * (terv - 14.0)  # eq. 7-21
    return _echo_term(roe - re, t_ms)


def talker_echo_idte_wb(t_ms: float) -> float:
    """Wideband talker echo Idte,WB (G.107.1 §7.4, eqs. 7-5 to 7-10).

    G.107.1 leaves No,WB for further study; Roe uses G.107's noise sum with G.107.1's Nfor.
    """
    roe = _ROE_WB  # eq. 7-6: −1.5·(No,WB − RLR)
    k = 0.08 * t_ms + 10.0 if t_ms < 100.0 else 18.0  # eqs. 7-9, 7-10
    terv = (
        TELR_DB + k - 40.0 * math.log10((1.0 + t_ms / 10.0) / (1.0 + t_ms / 150.0))
        + 6.0 * math.exp(-0.3 * t_ms**2)
    )  # eq. 7-8
    re = 80.0 + 3.0 * (terv - 14.0)  # eq. 7-7
    return _echo_term(roe - re, t_ms)


def listener_echo_idle(tr_ms: float = 0.0, ro: float | None = None) -> float:
    """Listener echo Idle at loop delay Tr (G.107 §7.4, eqs. 7-24, 7-25); ≈ 0.15 at Tr = 0."""
    ro = _RO if ro is None else ro
    rle = 10.5 * (WEPL_DB + 7.0) * (tr_ms + 1.0) ** -0.25  # eq. 7-25
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
    """Ie,eff = Ie + (95 − Ie)·Ppl/(Ppl/BurstR + Bpl) (G.107 §7.5 eq. 7-29; G.107.1 eq. 7-15)."""
    return _ie_eff(ie=ie, bpl=bpl, ppl_pct=ppl_pct, burst_ratio=burst_ratio,
                   headroom=IE_EFF_HEADROOM)


def fullband_effective_equipment_impairment(
    *, ie: float, bpl: float, ppl_pct: float, burst_ratio: float = 1.0
) -> float:
    """Ie,eff,FB = Ie,FB + (132 − Ie,FB)·Ppl/(Ppl/BurstR + Bpl) (G.107.2 §7.5)."""
    return _ie_eff(ie=ie, bpl=bpl, ppl_pct=ppl_pct, burst_ratio=burst_ratio,
                   headroom=FULLBAND_IE_EFF_HEADROOM)


def r_to_mos(r: float) -> float:
    """MOS_CQE from a narrowband R (G.107 Annex B, eq. B-4): 1 below R = 0, 4.5 above R = 100.

    The polynomial dips below 1 (to 0.9963 at R ≈ 5.9) for 0 < R < 6.5; it is held at 1 there
    so that the MOS stays on its 1..4.5 scale and never rises as R falls.
    """
    if r <= 0.0:
        return MOS_MIN
    if r >= 100.0:
        return MOS_MAX
    return max(MOS_MIN, 1.0 + 0.035 * r + r * (r - 60.0) * (100.0 - r) * 7.0e-6)


def wideband_r_to_mos(r: float) -> float:
    """MOS from a wideband R (G.107.1 Annex A, eqs. A-1, A-2): eq. B-4 of R/1.29."""
    return r_to_mos(r / WIDEBAND_SCALE)


def fullband_r_to_mos(r: float) -> float:
    """MOS from a fullband R (G.107.2 Annex A): eq. B-4 of R/1.48."""
    return r_to_mos(r / FULLBAND_SCALE)


# Ro and Idle at Tr = 0 do not depend on the call: computed once from the defaults.
DEFAULT_RO = basic_signal_to_noise_ro()
DEFAULT_IS = simultaneous_impairment_is()
DEFAULT_IDLE = listener_echo_idle()
# R of a default connection (T = Tr = Ta = 0, Ie = 0): 93.2 (G.107 §7.7, the note to Table 3).
DEFAULT_R = DEFAULT_RO - DEFAULT_IS - DEFAULT_IDLE + ADVANTAGE_A


# Not frozen, as ingest's RtpStream: one is built for every scored interval, and a frozen
# dataclass's __init__ costs three to four times as much. Nothing changes it once built.
@dataclass(slots=True)
class ImpairmentTerms:
    """The call-dependent terms of one R computation, on its band's scale."""

    idte: float  # talker echo at T = Ta
    idle: float  # listener echo at Tr = 2·Ta
    idd: float  # pure delay at Ta
    id: float  # Idte + Idle + Idd (G.107 eq. 7-18)
    ie_eff: float
    r: float  # unclamped: R below 0 is possible and maps to MOS 1
    r_zero_delay: float  # the same codec and loss on a default connection (T = Tr = Ta = 0)
    mos: float


def _check_rating_inputs(ta_ms: float, ppl_pct: float, bpl: float, burst_ratio: float) -> None:
    # The usual case in one test (a comparison is False for NaN, and an infinity fails it);
    # anything else is judged, and refused, below.
    if (
        0.0 <= ta_ms < math.inf and 0.0 <= ppl_pct < math.inf
        and 0.0 < bpl < math.inf and 0.0 < burst_ratio < math.inf
    ):
        return
    for name, value in (("ta_ms", ta_ms), ("ppl_pct", ppl_pct), ("bpl", bpl),
                        ("burst_ratio", burst_ratio)):
        if not math.isfinite(value) or value < 0.0:
            raise ScoringInputError(f"{name} must be a finite number ≥ 0, got {value!r}")
    if bpl == 0.0 or burst_ratio == 0.0:
        raise ScoringInputError("bpl and burst_ratio must be > 0")


def rating(*, ta_ms: float, ie: float, bpl: float, ppl_pct: float,
           burst_ratio: float = 1.0) -> ImpairmentTerms:
    """Narrowband (G.107) R and MOS of a default connection with delay Ta, codec and loss."""
    _check_rating_inputs(ta_ms, ppl_pct, bpl, burst_ratio)
    t_ms, tr_ms = ta_ms, 2.0 * ta_ms  # the far end's echo returns over the same path
    idte = talker_echo_idte(t_ms)
    idle = listener_echo_idle(tr_ms)
    idd = pure_delay_idd(ta_ms)
    ie_eff = effective_equipment_impairment(ie=ie, bpl=bpl, ppl_pct=ppl_pct,
                                            burst_ratio=burst_ratio)
    # Is does not move with delay: eq. 7-12's echo term, e^(−T/4)·10^(−TELR/10), is below
    # 10^-5 of the sidetone term at TELR 65 dB (it shifts STMRo by < 0.0001 dB), so the
    # default connection's Is holds for every T.
    r = DEFAULT_RO - DEFAULT_IS - (idte + idle + idd) - ie_eff + ADVANTAGE_A  # eq. 7-1
    return ImpairmentTerms(
        idte=idte, idle=idle, idd=idd, id=idte + idle + idd, ie_eff=ie_eff, r=r,
        r_zero_delay=DEFAULT_R - ie_eff, mos=r_to_mos(r),
    )


# Ro,WB − Idle at Tr = 0, of R at zero delay: a constant of the defaults, as DEFAULT_R is of
# the narrowband ones (computed once, in the order the rating did per call).
_WIDEBAND_IDLE_ZERO = listener_echo_idle(0.0, WIDEBAND_RO)
_WIDEBAND_RO_LESS_IDLE_ZERO = WIDEBAND_RO - _WIDEBAND_IDLE_ZERO


def wideband_rating(*, ta_ms: float, ie: float, bpl: float, ppl_pct: float,
                    burst_ratio: float = 1.0) -> ImpairmentTerms:
    """Wideband (G.107.1) R and MOS: R = 129 − 0 − Id,WB − Ie,eff,WB + A."""
    _check_rating_inputs(ta_ms, ppl_pct, bpl, burst_ratio)
    idte = talker_echo_idte_wb(ta_ms)
    idle = listener_echo_idle(2.0 * ta_ms, WIDEBAND_RO)  # eq. 7-11 with Ro,WB
    idd = WIDEBAND_SCALE * pure_delay_idd(ta_ms)  # eq. 7-13
    ie_eff = effective_equipment_impairment(ie=ie, bpl=bpl, ppl_pct=ppl_pct,
                                            burst_ratio=burst_ratio)  # eq. 7-15
    r = WIDEBAND_RO - (idte + idle + idd) - ie_eff + ADVANTAGE_A  # eq. 7-1, Is,WB = 0
    r0 = _WIDEBAND_RO_LESS_IDLE_ZERO - ie_eff + ADVANTAGE_A
    return ImpairmentTerms(
        idte=idte, idle=idle, idd=idd, id=idte + idle + idd, ie_eff=ie_eff, r=r,
        r_zero_delay=r0, mos=wideband_r_to_mos(r),
    )


# G.107.2's echo equations were not available to us. The fullband echo terms are taken as the
# wideband ones (G.107.1, the nearest published wider-band model) scaled from the wideband to
# the fullband scale, 1.48/1.29, the ratio G.107.2 applies to Idd (docs/models.md).
FULLBAND_ECHO_SCALE = FULLBAND_SCALE / WIDEBAND_SCALE
_FULLBAND_RO_LESS_IDLE_ZERO = FULLBAND_RO - FULLBAND_ECHO_SCALE * _WIDEBAND_IDLE_ZERO


def fullband_rating(*, ta_ms: float, ie: float, bpl: float, ppl_pct: float,
                    burst_ratio: float = 1.0) -> ImpairmentTerms:
    """Fullband (G.107.2) R and MOS: R = 148 − 0 − Id,FB − Ie,eff,FB + A."""
    _check_rating_inputs(ta_ms, ppl_pct, bpl, burst_ratio)
    idte = FULLBAND_ECHO_SCALE * talker_echo_idte_wb(ta_ms)
    idle = FULLBAND_ECHO_SCALE * listener_echo_idle(2.0 * ta_ms, WIDEBAND_RO)
    idd = FULLBAND_SCALE * pure_delay_idd(ta_ms)  # §7.4
    # fullband_effective_equipment_impairment and fullband_r_to_mos, one call less each
    ie_eff = _ie_eff(ie=ie, bpl=bpl, ppl_pct=ppl_pct, burst_ratio=burst_ratio,
                     headroom=FULLBAND_IE_EFF_HEADROOM)
    r = FULLBAND_RO - (idte + idle + idd) - ie_eff + ADVANTAGE_A  # §7.1, Is,FB = 0
    r0 = _FULLBAND_RO_LESS_IDLE_ZERO - ie_eff
    return ImpairmentTerms(
        idte=idte, idle=idle, idd=idd, id=idte + idle + idd, ie_eff=ie_eff, r=r,
        r_zero_delay=r0 + ADVANTAGE_A, mos=r_to_mos(r / FULLBAND_SCALE),
    )
