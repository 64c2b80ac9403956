"""The video score of one interval: ITU-T G.1070 judged at the stream's own resolution.

G.1070 (07/2012) §11.3, the video quality estimation function (Br in kbit/s, Fr in frames/s,
Ppl in %), with one provisional coefficient set fitted to H.264 at VGA:

    Vq      = 1 + Icoding · exp(−PplV / DPplV)
    Icoding = IOfr · exp(−(ln Fr − ln Ofr)² / (2 · DFrV²))
    Ofr     = v1 + v2·Br                IOfr = v3 − v3 / (1 + (Br/v4)^v5)
    DFrV    = v6 + v7·Br                DPplV = v10 + v11·exp(−Fr/v8) + v12·exp(−Br/v9)

G.1070 has no resolution input. What makes the score resolution-aware (docs/models.md, "Video"):

1. The bitrate is judged against what WebRTC itself spends on a stream of that size: libwebrtc's
   simulcast bitrate table (media/engine/simulcast.cc, ``kSimulcastFormats``, BSD-3-Clause)
   gives the bitrate of a stream of each size; a stream's bitrate is rescaled to the VGA stream
   of the same relative bitrate before G.1070's VGA coefficients are applied.
2. Formats larger than VGA are credited for their detail: Vq − 1 grows by 15 % of the VGA
   ceiling per doubling of pixels, up to the top of the 5-point scale (our assumption). Smaller
   formats keep G.1070's VGA ceiling: a simulcast layer or thumbnail is judged as the layer it
   is, not against a picture it was never meant to be.
3. More frames never score lower: above G.1070's optimal frame rate Ofr the frame rate is held
   at Ofr (G.1070's Gaussian would fall again); freezes scale Vq − 1 by the share not frozen.
"""

from __future__ import annotations

import functools
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
# src/ns3env/g1070.py (fitted for 8/15/30 frame/s and 0–3 % loss).
H264_VGA_6IN = G1070Coefficients(
    name="h264_bp_vga_6in",
    v1=6.743, v2=0.9998e-2, v3=3.051, v4=168.1, v5=1.766, v6=1.130,
    v7=18.340e-4, v8=1.232, v9=53.25, v10=3.353, v11=6.025, v12=80.752,
)

# H.264, VGA, 9.2-inch display (labelled Table B.2 #5, fitted 400 kbit/s–2 Mbit/s). The same
# values appear independently in OctaveCharrin/rl-mpquic and 5g-media/ss-cno-teleimmersive-game
# (runner/utils/qoe.py). Not used: it falls with bitrate even without loss and makes 1 % loss
# at 2 Mbit/s cost 2 MOS. Kept for comparison.
H264_VGA_9IN = G1070Coefficients(
    name="h264_vga_9in",
    v1=5.517, v2=1.29e-2, v3=3.459, v4=178.53, v5=1.02, v6=1.15,
    v7=3.55e-4, v8=0.114, v9=513.77, v10=0.736, v11=-6.451, v12=13.684,
)

DEFAULT_COEFFICIENTS = H264_VGA_6IN

VGA_PIXELS = 640 * 480  # the format the coefficient set was fitted to
# libwebrtc media/engine/simulcast.cc kSimulcastFormats: {width, height, max layers,
# max_bitrate_kbps, target, min}; the max bitrate is what one stream of that size is given
# when no larger layer is sent. (pixels, kbit/s), ascending.
WEBRTC_BITRATE_LADDER: tuple[tuple[int, float], ...] = (
    (320 * 180, 200.0),
    (480 * 270, 450.0),
    (640 * 360, 700.0),
    (960 * 540, 900.0),
    (1280 * 720, 2500.0),
    (1920 * 1080, 5000.0),
)
# Codec efficiency relative to VP8/H.264 (which share kSimulcastFormats): libwebrtc's
# kSimulcastFormatsH265 gives 1524 kbit/s at 1280×720 against 2500. VP9 and AV1: no factor in
# a table we could read; scored as VP8 (a conservative assumption, docs/models.md).
CODEC_BITRATE_FACTOR: dict[str, float] = {"h265": 1524.0 / 2500.0, "hevc": 1524.0 / 2500.0}
# Our assumption (docs/models.md): Vq − 1 grows by this share of the VGA ceiling per doubling
# of pixels above VGA, capped where Vq would pass the top of the scale.
DETAIL_GAIN_PER_DOUBLING = 0.15


# Not frozen, as ingest's RtpStream: one is built for every scored interval, and a frozen
# dataclass's __init__ costs three to four times as much. Nothing changes it once built.
@dataclass(slots=True)
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
    coefficients: G1070Coefficients = DEFAULT_COEFFICIENTS, hold_above_ofr: bool = False,
) -> G1070Terms:
    """Vq by G.1070 §11.3, clamped to 1..5; Br or Fr of 0 gives the limit Vq = 1.

    With ``hold_above_ofr`` a frame rate above Ofr counts as Ofr (the score's rule 3).
    """
    c = coefficients
    br = bitrate_kbps
    ofr = c.v1 + c.v2 * br
    fr = min(frame_rate, ofr) if hold_above_ofr else frame_rate
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


# The ladder's steps (p0, p1, b0, b1 − b0, p1 − p0), their differences computed once.
_LADDER_STEPS = tuple(
    (p0, p1, b0, b1 - b0, p1 - p0)
    for (p0, b0), (p1, b1) in zip(WEBRTC_BITRATE_LADDER, WEBRTC_BITRATE_LADDER[1:], strict=False)
)


def reference_bitrate_kbps(pixels: float) -> float:
    """libwebrtc's bitrate for one stream of this many pixels, interpolated linearly."""
    ladder = WEBRTC_BITRATE_LADDER
    if pixels <= ladder[0][0]:
        return ladder[0][1] * pixels / ladder[0][0]
    for p0, p1, b0, bitrate_step, pixel_step in _LADDER_STEPS:
        if pixels <= p1:
            return b0 + bitrate_step * (pixels - p0) / pixel_step
    return ladder[-1][1] * pixels / ladder[-1][0]


_VGA_REFERENCE_KBPS = reference_bitrate_kbps(VGA_PIXELS)


def detail_factor(pixels: float, coefficients: G1070Coefficients = DEFAULT_COEFFICIENTS) -> float:
    """How much of Vq − 1 a format above VGA adds for its detail: 1 at or below VGA."""
    if pixels <= VGA_PIXELS:
        return 1.0
    cap = (VQ_MAX - 1.0) / coefficients.v3
    return min(1.0 + DETAIL_GAIN_PER_DOUBLING * math.log2(pixels / VGA_PIXELS), cap)


def frozen_fraction(freeze_duration_ms: float | None, interval_ms: float | None) -> float:
    """The share of the interval the picture was frozen, 0..1 (0 when unknown)."""
    if freeze_duration_ms is None or interval_ms is None or interval_ms <= 0.0:
        return 0.0
    return min(max(freeze_duration_ms / interval_ms, 0.0), 1.0)


# Not frozen, as ingest's RtpStream: one is built for every scored interval, and a frozen
# dataclass's __init__ costs three to four times as much. Nothing changes it once built.
@dataclass(slots=True)
class VideoScore:
    """A video score with the inputs and intermediates it came from."""

    vq: float  # the score, 1..5
    vq_g1070: float  # G.1070 Vq at the VGA-equivalent bitrate, before detail and freezes
    bitrate_kbps: float
    frame_rate: float
    loss_pct: float | None  # as given; None = unknown, scored as 0
    codec: str | None  # as given
    coefficient_set: str
    width: int | None
    height: int | None
    pixels: float  # width × height; unknown → VGA
    reference_bitrate_kbps: float  # libwebrtc's bitrate for this size (and codec)
    vga_equivalent_kbps: float  # the bitrate G.1070's VGA set is evaluated at
    detail_factor: float
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


@functools.lru_cache(maxsize=64)  # a handful of codec names, one per stream
def _codec_factor(codec: str | None) -> float:
    if codec is None:
        return 1.0
    return CODEC_BITRATE_FACTOR.get(codec.strip().lower().removeprefix("video/"), 1.0)


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
    """The video score of one interval (module docstring: G.1070 at the stream's resolution)."""
    if not (  # the usual case in one test (False for NaN); anything else is judged by _check
        0.0 <= bitrate_bps < math.inf
        and 0.0 <= frame_rate < math.inf
        and (loss_pct is None or 0.0 <= loss_pct <= 100.0)
        and (freeze_duration_ms is None or 0.0 <= freeze_duration_ms < math.inf)
        and (interval_ms is None or 0.0 <= interval_ms < math.inf)
    ):
        _check("bitrate_bps", bitrate_bps)
        _check("frame_rate", frame_rate)
        _check("loss_pct", loss_pct, 100.0)
        _check("freeze_duration_ms", freeze_duration_ms)
        _check("interval_ms", interval_ms)
    bitrate_kbps = bitrate_bps / 1000.0  # G.1070 §11.3: BrV in kbit/s
    known_size = width is not None and height is not None and width > 0 and height > 0
    pixels = float(width * height) if known_size and width and height else float(VGA_PIXELS)
    reference = reference_bitrate_kbps(pixels) * _codec_factor(codec)
    vga_equivalent = bitrate_kbps * _VGA_REFERENCE_KBPS / reference
    terms = g1070_vq(bitrate_kbps=vga_equivalent, frame_rate=frame_rate,
                     loss_pct=loss_pct or 0.0, hold_above_ofr=True)
    detail = detail_factor(pixels)
    frozen = frozen_fraction(freeze_duration_ms, interval_ms)
    vq = min(max(1.0 + (terms.vq - 1.0) * detail * (1.0 - frozen), VQ_MIN), VQ_MAX)
    # Positional, in the order of its fields: keywords double the cost of this call.
    return VideoScore(
        vq,
        terms.vq,  # vq_g1070
        bitrate_kbps,
        frame_rate,
        loss_pct,
        codec,
        DEFAULT_COEFFICIENTS.name,  # coefficient_set
        width,
        height,
        pixels,
        reference,  # reference_bitrate_kbps
        vga_equivalent,  # vga_equivalent_kbps
        detail,  # detail_factor
        freeze_duration_ms,
        interval_ms,
        frozen,  # frozen_fraction
        terms.ofr,
        terms.iofr,
        terms.dfrv,
        terms.dpplv,
        terms.i_coding,
    )
