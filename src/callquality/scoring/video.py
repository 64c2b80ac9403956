"""The video score of one interval: ITU-T G.1070 video quality Vq, with a freeze penalty.

G.1070 (07/2012) §11.3, the video quality estimation function (Br in kbit/s, Fr in frames/s,
Ppl in %):

    Vq     = 1 + Icoding · exp(−PplV / DPplV)
    Icoding = IOfr · exp(−(ln Fr − ln Ofr)² / (2 · DFrV²))
    Ofr    = v1 + v2·Br                IOfr = v3 − v3 / (1 + (Br/v4)^v5)
    DFrV   = v6 + v7·Br                DPplV = v10 + v11·exp(−Fr/v8) + v12·exp(−Br/v9)

G.1070 has no resolution, codec-efficiency or freeze input; what we use instead is stated
below and in docs/models.md. Icoding peaks at Fr = Ofr: above the optimal frame rate, more
frames at the same bitrate score lower (fewer bits per frame). That is the model, kept as is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from callquality.scoring.errors import ScoringInputError

VQ_MIN = 1.0
VQ_MAX = 5.0
# DPplV must stay positive for exp(−Ppl/DPplV) to fall with loss; a coefficient set with a
# negative v11 can cross zero below ~1 frame/s. Floor it (docs/models.md).
DPPLV_FLOOR = 1.0e-6


@dataclass(frozen=True, slots=True)
class G1070Coefficients:
    """One provisional coefficient set v1..v12 of the video quality estimation function."""

    name: str
    v1: float
    v2: float
    v3: float
    v4: float
    v5: float
    v6: float
    v7: float
    v8: float
    v9: float
    v10: float
    v11: float
    v12: float


# H.264 baseline profile, VGA, 6-inch display: the G.1070 provisional set labelled Table B.4
# column #1 (06/2018 edition numbering), as transcribed in OctaveCharrin/rl-mpquic
# src/ns3env/g1070.py (fitted for 8/15/30 frame/s and 0–3 % loss). The default for every
# codec and resolution: WebRTC sends H.264 constrained baseline, and VP8/VP9/AV1 have no set.
H264_VGA_6IN = G1070Coefficients(
    name="h264_bp_vga_6in",
    v1=6.743, v2=0.9998e-2, v3=3.051, v4=168.1, v5=1.766, v6=1.130,
    v7=18.340e-4, v8=1.232, v9=53.25, v10=3.353, v11=6.025, v12=80.752,
)

# H.264, VGA, 9.2-inch display (labelled Table B.2 #5, fitted 400 kbit/s–2 Mbit/s). The same
# values appear independently in OctaveCharrin/rl-mpquic and 5g-media/ss-cno-teleimmersive-game
# (runner/utils/qoe.py). Not the default: it falls with bitrate even without loss (Icoding
# moves away from its optimum) and makes 1 % loss at 2 Mbit/s cost 2 MOS. Kept for comparison.
H264_VGA_9IN = G1070Coefficients(
    name="h264_vga_9in",
    v1=5.517, v2=1.29e-2, v3=3.459, v4=178.53, v5=1.02, v6=1.15,
    v7=3.55e-4, v8=0.114, v9=513.77, v10=0.736, v11=-6.451, v12=13.684,
)

DEFAULT_COEFFICIENTS = H264_VGA_6IN


@dataclass(frozen=True, slots=True)
class G1070Terms:
    """The intermediates of one Vq computation."""

    ofr: float
    iofr: float
    dfrv: float
    dpplv: float
    i_coding: float
    vq: float


def g1070_vq(
    *, bitrate_kbps: float, frame_rate: float, loss_pct: float,
    coefficients: G1070Coefficients = DEFAULT_COEFFICIENTS,
) -> G1070Terms:
    """Vq by G.1070 §11.3, clamped to 1..5; Br or Fr of 0 gives the limit Vq = 1."""
    c = coefficients
    br, fr = bitrate_kbps, frame_rate
    ofr = c.v1 + c.v2 * br
    dfrv = c.v6 + c.v7 * br
    dpplv = max(c.v10 + c.v11 * math.exp(-fr / c.v8) + c.v12 * math.exp(-br / c.v9),
                DPPLV_FLOOR)
    if br <= 0.0 or fr <= 0.0:
        # Limits: IOfr → 0 as Br → 0, and the Gaussian in ln Fr → 0 as Fr → 0.
        return G1070Terms(ofr=ofr, iofr=0.0, dfrv=dfrv, dpplv=dpplv, i_coding=0.0, vq=VQ_MIN)
    iofr = c.v3 - c.v3 / (1.0 + (br / c.v4) ** c.v5)
    i_coding = iofr * math.exp(-((math.log(fr) - math.log(ofr)) ** 2) / (2.0 * dfrv**2))
    vq = 1.0 + i_coding * math.exp(-loss_pct / dpplv)
    return G1070Terms(ofr=ofr, iofr=iofr, dfrv=dfrv, dpplv=dpplv, i_coding=i_coding,
                      vq=min(max(vq, VQ_MIN), VQ_MAX))


def frozen_fraction(freeze_duration_ms: float | None, interval_ms: float | None) -> float:
    """The share of the interval the picture was frozen, 0..1 (0 when unknown)."""
    if freeze_duration_ms is None or interval_ms is None or interval_ms <= 0.0:
        return 0.0
    return min(max(freeze_duration_ms / interval_ms, 0.0), 1.0)


@dataclass(frozen=True, slots=True)
class VideoScore:
    """A G.1070 result with the inputs and intermediates it came from."""

    vq: float  # after the freeze penalty, 1..5
    vq_g1070: float  # G.1070 Vq before the freeze penalty
    bitrate_kbps: float
    frame_rate: float
    loss_pct: float | None  # as given; None = unknown, scored as 0
    codec: str | None  # as given; every codec is scored with coefficient_set
    coefficient_set: str
    width: int | None  # recorded, not used: G.1070 has no resolution input
    height: int | None
    freeze_duration_ms: float | None
    interval_ms: float | None
    frozen_fraction: float
    ofr: float
    iofr: float
    dfrv: float
    dpplv: float
    i_coding: float


def _check(name: str, value: float | None, upper: float = math.inf) -> None:
    if value is not None and (not math.isfinite(value) or value < 0.0 or value > upper):
        raise ScoringInputError(f"{name} must be a finite number in [0, {upper}], got {value!r}")


def video_score(
    *,
    bitrate_bps: float,
    frame_rate: float,
    loss_pct: float | None,
    codec: str | None = None,
    width: int | None = None,
    height: int | None = None,
    freeze_duration_ms: float | None = None,
    interval_ms: float | None = None,
) -> VideoScore:
    """G.1070 Vq of one interval, with Vq − 1 scaled by the share of time not frozen."""
    _check("bitrate_bps", bitrate_bps)
    _check("frame_rate", frame_rate)
    _check("loss_pct", loss_pct, 100.0)
    _check("freeze_duration_ms", freeze_duration_ms)
    _check("interval_ms", interval_ms)
    bitrate_kbps = bitrate_bps / 1000.0  # G.1070 §11.3: BrV in kbit/s
    terms = g1070_vq(bitrate_kbps=bitrate_kbps, frame_rate=frame_rate, loss_pct=loss_pct or 0.0)
    frozen = frozen_fraction(freeze_duration_ms, interval_ms)
    vq = min(max(1.0 + (terms.vq - 1.0) * (1.0 - frozen), VQ_MIN), VQ_MAX)
    return VideoScore(
        vq=vq,
        vq_g1070=terms.vq,
        bitrate_kbps=bitrate_kbps,
        frame_rate=frame_rate,
        loss_pct=loss_pct,
        codec=codec,
        coefficient_set=DEFAULT_COEFFICIENTS.name,
        width=width,
        height=height,
        freeze_duration_ms=freeze_duration_ms,
        interval_ms=interval_ms,
        frozen_fraction=frozen,
        ofr=terms.ofr,
        iofr=terms.iofr,
        dfrv=terms.dfrv,
        dpplv=terms.dpplv,
        i_coding=terms.i_coding,
    )
